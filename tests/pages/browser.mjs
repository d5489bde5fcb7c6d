// Debian's chromium driven by playwright-core (a browser download is impossible here): a fresh
// profile per browser, no network of its own beyond the page under test.
import AxeBuilder from '@axe-core/playwright';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import jsQR from 'jsqr';
import { generate } from 'otplib';
import { chromium } from 'playwright-core';
import { PNG } from 'pngjs';

const HERE = dirname(fileURLToPath(import.meta.url));
export const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const ARTIFACTS = join(HERE, 'artifacts');

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const haveChromium = () => existsSync(CHROMIUM);

/** A browser with a fresh profile: {context, page, close}. */
export async function openBrowser() {
  const profile = mkdtempSync(join(tmpdir(), 'gh-pages-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const close = async () => {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  };
  return { context, page, close };
}

/** A screenshot of the page under tests/pages/artifacts/, and axe-core's verdict on it. */
export async function checkPage(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  const results = await new AxeBuilder({ page }).analyze();
  const bad = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(
    bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`),
    [],
    `no serious or critical accessibility violations on ${name}`,
  );
}

/** The checks of `checkPage` in light and then dark mode (the colours must pass both). */
export async function checkBoth(page, name) {
  await checkPage(page, name);
  await page.emulateMedia({ colorScheme: 'dark' });
  await checkPage(page, `${name}-dark`);
  await page.emulateMedia({ colorScheme: 'light' });
}

/** Errors in the browser console, except failed requests the test provokes on purpose. */
export function watchConsole(page) {
  const errors = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  return errors;
}

/** A JSON API caller for the server at `baseUrl`: `(path, {method, token, body}) → {status, data}`. */
export function apiOf(baseUrl) {
  return async (path, { method = 'POST', token, body } = {}) => {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...(token ? { authorization: token } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await response.json().catch(() => ({}));
    return { status: response.status, data };
  };
}

/** What an authenticator app takes from an otpauth URI. */
export function account(uri) {
  const q = new URL(uri).searchParams;
  return { secret: q.get('secret'), algorithm: 'sha1', digits: 6, period: 30 };
}

/** The app's code `steps` periods from now (each step is accepted once), from otplib. */
export const appCode = (acct, steps = 0) => generate({ ...acct, epoch: Math.floor(Date.now() / 1000) + steps * 30 });

/** Reads the page's QR image as a phone camera would (pngjs + jsQR). */
export async function readQr(page) {
  const src = await page.getByRole('img', { name: /QR code/ }).getAttribute('src');
  const prefix = 'data:image/png;base64,';
  assert.ok(src.startsWith(prefix));
  const png = PNG.sync.read(Buffer.from(src.slice(prefix.length), 'base64'));
  const found = jsQR(new Uint8ClampedArray(png.data), png.width, png.height);
  assert.ok(found, 'jsQR finds the QR code');
  return found.data;
}
