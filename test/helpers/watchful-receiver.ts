// A webhook receiver for many deliveries from several instances: verifies each with the
// standardwebhooks library, counts each webhook-id, and notices a delivery of an id arriving
// while another of the same id is still being answered (a job run twice at once). Each answer
// is held a little, so such an overlap has a window to show in.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface WatchfulReceiver {
  url: string;
  /** The endpoint's secret (whsec_…), once the test has created it. */
  secret?: string;
  /** webhook-id → deliveries received. */
  received: Map<string, number>;
  requests: number;
  badSignatures: number;
  concurrentDuplicates: number;
  close(): Promise<void>;
}

export async function startWatchfulReceiver(options: { holdMs?: number } = {}): Promise<WatchfulReceiver> {
  const holdMs = options.holdMs ?? 20;
  const answering = new Set<string>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const id = String(req.headers['webhook-id']);
      receiver.requests++;
      receiver.received.set(id, (receiver.received.get(id) ?? 0) + 1);
      if (answering.has(id)) receiver.concurrentDuplicates++;
      answering.add(id);
      try {
        new Webhook(receiver.secret ?? '').verify(Buffer.concat(chunks).toString('utf8'), {
          'webhook-id': id,
          'webhook-timestamp': String(req.headers['webhook-timestamp']),
          'webhook-signature': String(req.headers['webhook-signature']),
        });
      } catch {
        receiver.badSignatures++;
      }
      setTimeout(() => {
        answering.delete(id);
        res.writeHead(204).end();
      }, holdMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const receiver: WatchfulReceiver = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received: new Map(),
    requests: 0,
    badSignatures: 0,
    concurrentDuplicates: 0,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return receiver;
}
