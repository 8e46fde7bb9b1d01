// A webhook receiver on loopback: records every request and answers as the test says
// (a status, a redirect, a hang, or a dropped connection). Signatures are checked by the
// tests with the standardwebhooks library, as a real receiver would.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface ReceivedWebhook {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** performance.now() when the body had arrived. */
  at: number;
}

/** What to answer: a status code, 'hang' (never answer), or 'drop' (close the socket). */
export type Answer = number | 'hang' | 'drop';

export interface Receiver {
  url: string;
  port: number;
  received: ReceivedWebhook[];
  /** Decides each answer; default 204. */
  answer: (request: ReceivedWebhook) => Answer;
  /** Stops listening (the receiver is "down"); start() brings it back on the same port. */
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function startReceiver(port = 0): Promise<Receiver> {
  let server: Server | undefined;
  const hanging = new Set<() => void>();
  const receiver: Receiver = {
    url: '',
    port,
    received: [],
    answer: () => 204,
    async start() {
      server = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (chunk: Buffer) => chunks.push(chunk));
        req.on('end', () => {
          const request = { path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: performance.now() };
          receiver.received.push(request);
          const answer = receiver.answer(request);
          if (answer === 'hang') {
            hanging.add(() => res.destroy());
            return;
          }
          if (answer === 'drop') return void req.socket.destroy();
          if (answer >= 300 && answer < 400) res.setHeader('location', `${receiver.url}/elsewhere`);
          res.writeHead(answer).end();
        });
      });
      await new Promise<void>((resolve) => server!.listen(receiver.port, '127.0.0.1', resolve));
      receiver.port = (server.address() as AddressInfo).port;
      receiver.url = `http://127.0.0.1:${receiver.port}`;
    },
    async stop() {
      for (const end of hanging) end();
      hanging.clear();
      const s = server;
      server = undefined;
      if (!s) return;
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    },
    close() {
      return receiver.stop();
    },
  };
  await receiver.start();
  return receiver;
}

/** Verifies a received webhook with the standardwebhooks library; returns the parsed body. */
export function verified(secret: string, request: ReceivedWebhook): { type: string; timestamp: string; data: any } {
  return new Webhook(secret).verify(request.body, {
    'webhook-id': String(request.headers['webhook-id']),
    'webhook-timestamp': String(request.headers['webhook-timestamp']),
    'webhook-signature': String(request.headers['webhook-signature']),
  }) as { type: string; timestamp: string; data: any };
}
