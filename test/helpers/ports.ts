// A loopback port that nothing listens on right now: for a server a test starts on a port it
// must name beforehand (PUBLIC_URL, a child process), or for a peer that is down.
import { createServer } from 'node:net';

export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}
