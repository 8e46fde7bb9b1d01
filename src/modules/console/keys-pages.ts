// /ui/admin/keys: the signing keys (next, current, previous, revoked), rotating the set and
// revoking one key: what `keyhold keys rotate|revoke` do, with the admin as the actor.
import type { FastifyInstance } from 'fastify';
import type { PageContext } from '../hosted-ui/page-context.js';
import { listSigningKeys, revokeSigningKey, rotateSigningKeys } from '../keys/keys.service.js';
import { ADMIN_NAV } from './admin-nav.js';
import { confirmRoute, consoleMeta, done, pageAdmin, refused, renderConsole } from './console-kit.js';
import { when } from './console-format.js';

const view = { nav: ADMIN_NAV, current: '/ui/admin/keys' };
const KID = /^[\w-]{1,100}$/;
const STATE_BADGE = { current: 'ok', next: 'warn', previous: 'off', revoked: 'off' } as const;

export async function keysPages(app: FastifyInstance, pages: PageContext): Promise<void> {
  const { ctx } = pages;

  app.get('/admin/keys', { schema: { hide: true } }, async (request, reply) => {
    const keys = await listSigningKeys(ctx);
    const hs256 = ctx.config.jwtAlgorithm === 'HS256';
    const table = {
      id: 'keys',
      caption: 'Signing keys, newest first',
      columns: ['Key id', 'State', 'Algorithm', 'Created', 'Signing since', 'Action'],
      rows: keys.map((key) => [
        { text: key.kid, code: true, long: true },
        { text: key.state, badge: STATE_BADGE[key.state] },
        key.alg,
        when(key.created_at),
        when(key.activated_at),
        key.state === 'revoked' ? '' : { text: 'Revoke', href: `/ui/admin/keys/${encodeURIComponent(key.kid)}/revoke`},
      ]),
      empty: 'No signing keys.',
    };
    return renderConsole(pages, { request, reply }, { ...view, name: 'keys', data: { title: 'Signing keys', table, hs256 } });
  });

  confirmRoute(app, pages, {
    ...view,
    path: '/admin/keys/rotate',
    describe: async () => ({
      title: 'Rotate the signing keys',
      message: 'The next key starts signing now; the current one keeps verifying the tokens it signed until they expire, and a new next key is published.',
      action: '/ui/admin/keys/rotate',
      button: 'Rotate now',
      cancel: '/ui/admin/keys',
    }),
  });
  app.post('/admin/keys/rotate', { schema: { hide: true } }, async (request, reply) => {
    try {
      const result = await rotateSigningKeys(ctx, consoleMeta(request), { actorId: pageAdmin(request).id });
      return done(pages, reply, { location: '/ui/admin/keys', notice: `Rotated: ${result.current} signs now.` });
    } catch (err) {
      return refused(pages, reply, { location: '/ui/admin/keys', err });
    }
  });

  confirmRoute(app, pages, {
    ...view,
    path: '/admin/keys/:kid/revoke',
    async describe(request) {
      const { kid } = request.params as { kid: string };
      const key = KID.test(kid) ? (await listSigningKeys(ctx)).find((k) => k.kid === kid && k.state !== 'revoked') : undefined;
      return key && {
        title: 'Revoke a signing key',
        message: `Key ${key.kid} (${key.state}) leaves the published key set now, and every token it signed is refused at once. Users whose tokens it signed must sign in again.`,
        action: `/ui/admin/keys/${encodeURIComponent(key.kid)}/revoke`,
        button: 'Revoke key',
        cancel: '/ui/admin/keys',
        danger: true,
      };
    },
  });
  app.post('/admin/keys/:kid/revoke', { schema: { hide: true } }, async (request, reply) => {
    const { kid } = request.params as { kid: string };
    try {
      await revokeSigningKey(ctx, { kid, meta: consoleMeta(request), actorId: pageAdmin(request).id });
      return done(pages, reply, { location: '/ui/admin/keys', notice: `Key ${kid} was revoked.` });
    } catch (err) {
      return refused(pages, reply, { location: '/ui/admin/keys', err });
    }
  });
}
