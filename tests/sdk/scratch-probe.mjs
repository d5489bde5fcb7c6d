import { startServer } from './harness.mjs';
import PocketBase from 'pocketbase';
const s = await startServer();
try {
  const su = new PocketBase(s.url); su.autoCancellation(false);
  await su.collection('_superusers').authWithPassword(s.suEmail, s.suPassword);
  const show = async (q) => { const r = await su.send('/api/audit', { method: 'GET', query: q }); console.log(JSON.stringify(q), r.page, r.perPage, r.totalItems, r.totalPages, r.items.length); return r; };
  const d = new Date(Date.now() - 3600_000);
  await show({ since: d.toISOString() });
  await show({ since: d.toISOString().replace('T', ' ') });
  await show({ since: d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') });
  await show({ until: new Date(Date.now() + 3600_000).toISOString() });
  await show({ perPage: 1000, page: 0 });
  await show({ perPage: 0 });
  await show({ perPage: 2, page: 5 });
  await show({ type: ' login.success , settings.changed ' });
  await show({ type: 'nope' });
  await show({ collectionId: '' });
  await show({ recordId: "' OR 1=1 --" });
} finally { await s.stop(); }
