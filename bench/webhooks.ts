// Webhook delivery throughput and latency (src/modules/webhooks).
//
//   npx tsx bench/webhooks.ts [--events 10000] [--endpoints 1] [--db postgres|embedded] [--producers 4] [--rate N] [--receiver-ms 0]
//
// The real app (buildApp, in this process) on a throw-away database (as bench/databases.ts),
// with endpoints pointing at a receiver on loopback that answers 204 (after `--receiver-ms`: a slow receiver). Producers commit
// `--events` events, each in its own transaction (emitEvent, then jobs.notify(), as a service
// does), as fast as they can (a burst: the delay is then mostly the backlog) or at `--rate`
// events per second (the delay a steady load sees). Every delivery is timed from its event's commit to its arrival.
// Prints events per second (end to end: first commit to last delivery) and the p50 / p99 / max
// commit-to-delivery delay, and checks every event arrived once per endpoint, in order.
// Figures, not a test: the machine's other load moves them.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { Writable } from 'node:stream';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { emitEvent } from '../src/modules/events/emit-event.js';
import { createWebhook } from '../src/modules/webhooks/webhooks.service.js';
import { ADMIN_URL, createBenchDatabase, type DatabaseKind } from './databases.js';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '10000' },
    endpoints: { type: 'string', default: '1' },
    producers: { type: 'string', default: '4' },
    db: { type: 'string', default: 'postgres' },
    rate: { type: 'string', default: '0' },
    'receiver-ms': { type: 'string', default: '0' },
  },
});
const total = Number(values.events);
const endpointCount = Number(values.endpoints);
const producers = Number(values.producers);
const kind = values.db as DatabaseKind;
/** Events per second the producers hold to (0: as fast as they can, a burst). */
const rate = Number(values.rate);
/** How long the receiver takes to answer each delivery. */
const receiverMs = Number(values['receiver-ms']);

const committedAt = new Map<string, number>();
const arrivals: Array<{ endpoint: string; id: string; at: number; seq: number }> = [];
const receiver = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    arrivals.push({ endpoint: req.url ?? '', id: String(req.headers['webhook-id']), at: performance.now(), seq: -1 });
    if (receiverMs > 0) setTimeout(() => res.writeHead(204).end(), receiverMs);
    else res.writeHead(204).end();
  });
});
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const port = (receiver.address() as AddressInfo).port;

const database = await createBenchDatabase(kind, ADMIN_URL);
const config = loadConfig({ ...database.env, LOG_LEVEL: 'warn', WEBHOOK_ALLOW_INSECURE_URLS: 'true', RATE_LIMIT_ENABLED: 'false' });
const app = await buildApp(config, { logStream: new Writable({ write: (_c, _e, done) => done() }) });
await app.ready();
const ctx = app.ctx;
try {
  for (let i = 0; i < endpointCount; i++) await createWebhook(ctx, { adminId: null, input: { url: `http://127.0.0.1:${port}/e${i}`, events: ['user.updated'] }, meta: null });

  const order: string[] = [];
  let next = 0;
  const started = performance.now();
  const produce = async () => {
    while (next < total) {
      const n = next++;
      if (rate > 0) {
        const due = started + (n / rate) * 1000;
        if (due > performance.now()) await new Promise((r) => setTimeout(r, due - performance.now()));
      }
      const id = await ctx.db.transaction().execute((trx) =>
        emitEvent(ctx, trx, { type: 'user.updated', data: { id: `user-${n}`, email: `u${n}@bench.test`, name: 'Bench' } as never }),
      );
      committedAt.set(id, performance.now());
      order.push(id);
      ctx.jobs.notify();
    }
  };
  await Promise.all(Array.from({ length: producers }, produce));
  const producedMs = performance.now() - started;
  const expected = total * endpointCount;
  const deadline = Date.now() + 30 * 60_000;
  let lastReport = Date.now();
  while (arrivals.length < expected && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    if (Date.now() - lastReport > 5000) {
      process.stderr.write(`  ${arrivals.length}/${expected} delivered\n`);
      lastReport = Date.now();
    }
  }
  const endedMs = performance.now() - started;

  const delays = arrivals.map((a) => a.at - committedAt.get(a.id)!).sort((a, b) => a - b);
  const pct = (p: number) => delays[Math.min(delays.length - 1, Math.floor((p / 100) * delays.length))]!;
  // In order per endpoint: each endpoint's arrivals follow its deliveries' order of creation,
  // which is the order the fan-out saw the events (their commit order, give or take concurrent commits).
  const { rows } = await ctx.db.selectFrom('webhook_deliveries').select(['event_id', 'endpoint_id', 'seq']).orderBy('seq').execute().then((r) => ({ rows: r }));
  const seqOf = new Map(rows.map((r) => [`${r.endpoint_id}:${r.event_id}`, Number(r.seq)]));
  const endpoints = await ctx.db.selectFrom('webhook_endpoints').select(['id', 'url']).execute();
  const idOfPath = new Map(endpoints.map((e) => [new URL(e.url).pathname, e.id]));
  let outOfOrder = 0;
  const lastSeq = new Map<string, number>();
  for (const a of arrivals) {
    const seq = seqOf.get(`${idOfPath.get(a.endpoint)}:${a.id}`) ?? -1;
    if (seq < (lastSeq.get(a.endpoint) ?? -Infinity)) outOfOrder++;
    lastSeq.set(a.endpoint, seq);
  }
  const unique = new Set(arrivals.map((a) => `${a.endpoint}:${a.id}`)).size;

  console.log(`webhooks bench: ${kind}, ${total} events x ${endpointCount} endpoint(s), ${producers} producers, ${rate > 0 ? `${rate} events/s` : 'burst'}, receiver ${receiverMs} ms`);
  console.log(`  committed in         ${(producedMs / 1000).toFixed(1)} s (${Math.round(total / (producedMs / 1000))} events/s)`);
  console.log(`  delivered            ${arrivals.length}/${expected} (${unique} distinct, ${outOfOrder} out of order) in ${(endedMs / 1000).toFixed(1)} s`);
  console.log(`  throughput           ${Math.round(arrivals.length / (endedMs / 1000))} deliveries/s end to end`);
  console.log(`  commit → delivery    p50 ${Math.round(pct(50))} ms, p99 ${Math.round(pct(99))} ms, max ${Math.round(delays.at(-1) ?? 0)} ms`);
  void order;
} finally {
  await app.close();
  receiver.close();
  await database.drop();
}
