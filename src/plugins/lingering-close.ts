// Lingering close: when a reply closes the connection before the request's body was read (413
// for a body over the limit, 415, a body that does not parse), the server keeps reading and
// discarding the rest of that body, bounded, before it closes. Closing at once while the client
// is still sending makes the kernel reset the connection, and the client (fetch, curl) then
// fails with EPIPE/ECONNRESET instead of reading the 4xx, about half the time. Apache and nginx
// do the same (lingering_close).
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';

/** At most this much more is read, for at most this long; then the connection is closed anyway. */
export const LINGER_LIMITS = { bytes: 16 * 1024 * 1024, ms: 5000 };

export function registerLingeringClose(app: FastifyInstance): void {
  app.addHook('onSend', (request, reply, payload, done) => {
    if (!request.raw.complete && String(reply.getHeader('connection')).toLowerCase() === 'close') lingerBeforeClose(request.raw, request.raw.socket);
    done(null, payload);
  });
}

function lingerBeforeClose(body: NodeJS.ReadableStream & { complete: boolean }, socket: Socket & { destroySoon?: () => void }): void {
  const closeNow = socket.destroySoon?.bind(socket);
  if (!closeNow) return;
  // Node calls destroySoon once the reply is written (a reply with Connection: close); the rest
  // of the body is still parsed from the socket, and Node discards it (the request is dumped).
  socket.destroySoon = () => {
    let received = 0;
    const finish = (): void => {
      clearTimeout(timer);
      socket.off('data', count);
      body.off('end', finish);
      closeNow();
    };
    const count = (chunk: Buffer): void => {
      received += chunk.length;
      if (received > LINGER_LIMITS.bytes) finish();
    };
    const timer = setTimeout(finish, LINGER_LIMITS.ms);
    timer.unref();
    if (body.complete) return finish();
    socket.on('data', count);
    body.once('end', finish);
  };
}
