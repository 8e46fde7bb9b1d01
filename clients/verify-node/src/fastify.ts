// Fastify: a plugin that verifies the bearer token of every request in its scope (401 without
// a valid one) and puts the claims on `request.keyhold`; preHandlers for stronger rules.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { bearerToken, forbidden, meetsAal, meetsAccountRole, TokenRejected, unauthorized, type AccountRole, type KeyholdClaims, type Verifier } from './verifier.js';

declare module 'fastify' {
  interface FastifyRequest {
    keyhold: KeyholdClaims | null;
  }
}

export interface KeyholdFastifyOptions {
  verifier: Verifier;
}

const plugin: FastifyPluginAsync<KeyholdFastifyOptions> = async (fastify, { verifier }) => {
  fastify.decorateRequest('keyhold', null);
  fastify.addHook('onRequest', async (request, reply) => {
    try {
      request.keyhold = await verifier.verify(bearerToken(request.headers.authorization));
    } catch (err) {
      if (!(err instanceof TokenRejected)) throw err;
      const refusal = unauthorized(err);
      return reply.code(refusal.status).headers(refusal.headers).send(refusal.body);
    }
  });
};
// Applies to the scope it is registered in, as fastify-plugin's `skip-override` does.
(plugin as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;
export const keyholdFastify = plugin;

/** preHandler: 403 unless the session reached this assurance level. */
export function requireAal(level: 'aal1' | 'aal2') {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (!request.keyhold || !meetsAal(request.keyhold, level)) {
      const refusal = forbidden('insufficient_aal');
      await reply.code(refusal.status).send(refusal.body);
    }
  };
}

/** preHandler: 403 unless the user holds at least this role in their account. */
export function requireAccountRole(role: AccountRole) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (!request.keyhold || !meetsAccountRole(request.keyhold, role)) {
      const refusal = forbidden('insufficient_role');
      await reply.code(refusal.status).send(refusal.body);
    }
  };
}
