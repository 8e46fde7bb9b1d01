// A loopback TCP proxy in front of PostgreSQL that counts what the server sends it: SQL
// statements (simple Query + extended-protocol Execute) and round trips (a simple Query,
// or a Sync closing an extended-protocol batch, each waits for ReadyForQuery).
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export interface SqlCounts {
  statements: number;
  roundTrips: number;
}

export interface SqlCounter {
  /** A DATABASE_URL that goes through the proxy. */
  url: string;
  counts(): SqlCounts;
  close(): Promise<void>;
}

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;

export async function startSqlCounter(databaseUrl: string): Promise<SqlCounter> {
  const target = new URL(databaseUrl);
  const counts: SqlCounts = { statements: 0, roundTrips: 0 };
  const sockets = new Set<Socket>();

  const server: Server = createServer((client) => {
    const upstream = createConnection({ host: target.hostname, port: Number(target.port || 5432) });
    sockets.add(client).add(upstream);
    client.on('close', () => sockets.delete(client));
    upstream.on('close', () => sockets.delete(upstream));
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    upstream.pipe(client);

    let buffered: Buffer = Buffer.alloc(0);
    let startup = true; // the first message(s) have no type byte
    client.on('data', (chunk: Buffer) => {
      upstream.write(chunk);
      buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
      for (;;) {
        if (startup) {
          if (buffered.length < 8) break;
          const length = buffered.readInt32BE(0);
          if (buffered.length < length) break;
          const code = buffered.readInt32BE(4);
          // After an SSL/GSS request the client sends its real startup packet.
          if (code !== SSL_REQUEST && code !== GSSENC_REQUEST) startup = false;
          buffered = buffered.subarray(length);
          continue;
        }
        if (buffered.length < 5) break;
        const length = buffered.readInt32BE(1);
        if (buffered.length < length + 1) break;
        const type = String.fromCharCode(buffered[0]!);
        if (type === 'Q') {
          counts.statements++;
          counts.roundTrips++;
        } else if (type === 'E') {
          counts.statements++;
        } else if (type === 'S') {
          counts.roundTrips++;
        }
        buffered = buffered.subarray(length + 1);
      }
    });
    client.on('end', () => upstream.end());
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('sql counter: no address');
  const url = new URL(databaseUrl);
  url.hostname = '127.0.0.1';
  url.port = String(address.port);

  return {
    url: url.toString(),
    counts: () => ({ ...counts }),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
