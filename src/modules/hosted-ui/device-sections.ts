// The account page's devices: every live session of the user (device, address, last use, which
// one is this browser), "sign out" for each other one and "sign out other devices", through the
// device-sessions service behind /auth/sessions. Ending a session ends its page session too.
import type { FastifyReply } from 'fastify';
import { requestMeta } from '../../plugins/authenticate.js';
import { describeDevice } from '../sessions/device.js';
import { endOtherSessions, endOwnSession, listSessions } from '../sessions/device-sessions.service.js';
import type { AccountSection } from './page-context.js';
import { signedInUser } from './page-session.js';
import { redirectWithError, redirectWithState } from './page-state.js';
import { Errors } from '../../lib/errors.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** "Firefox on Linux", "Chrome on Android (mobile)", or "Unknown device". */
export function deviceLabel(userAgent: string | null): string {
  const device = describeDevice(userAgent);
  const name = [device.browser, device.os].filter(Boolean).join(' on ') || 'Unknown device';
  return device.type === 'mobile' || device.type === 'tablet' ? `${name} (${device.type})` : name;
}

/** 2026-12-01 14:30 UTC: the same for every reader, with the exact time in <time datetime>. */
export const shortTime = (date: Date): string => `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;

export const sessionsSection: AccountSection = {
  id: 'sessions',
  view: 'sessions',
  async load(ctx, user) {
    const sessions = await listSessions(ctx, user.id);
    const rows = sessions.map((session) => {
      const used = session.last_used_at ?? session.created_at;
      return {
        id: session.id,
        current: session.id === user.page_session_id,
        device: deviceLabel(session.user_agent),
        ip: session.last_ip ?? session.ip ?? 'unknown',
        lastUsed: shortTime(used),
        lastUsedIso: used.toISOString(),
      };
    });
    // This browser first.
    rows.sort((a, b) => Number(b.current) - Number(a.current));
    return { sessions: rows };
  },
  async register(app, pages) {
    const { ctx, secure } = pages;
    const done = (reply: FastifyReply, notice: string) => redirectWithState(reply, { location: '/ui/account#sessions', state: { form: 'sessions', notice }, secure });

    app.post('/account/sessions/:id/end', { schema: { hide: true } }, async (request, reply) => {
      const user = signedInUser(request, reply);
      if (!user) return reply;
      const { id } = request.params as { id: string };
      try {
        // A malformed id is just another unknown session.
        if (!UUID.test(id)) throw Errors.sessionNotFound();
        await endOwnSession(ctx, { userId: user.id, sessionId: id, meta: requestMeta(request) });
        // This browser's own session: it is signed out with it.
        if (id === user.page_session_id) return redirectWithState(reply, { location: '/ui/sign-in', state: { notice: 'You have signed out.' }, secure });
        return done(reply, 'That device has been signed out.');
      } catch (err) {
        return redirectWithError(reply, { location: '/ui/account#sessions', err, state: { form: 'sessions' }, secure });
      }
    });

    app.post('/account/sessions/end-others', { schema: { hide: true } }, async (request, reply) => {
      const user = signedInUser(request, reply);
      if (!user) return reply;
      const ended = await endOtherSessions(ctx, { userId: user.id, currentSessionId: user.page_session_id, meta: requestMeta(request) });
      return done(reply, ended === 0 ? 'No other device was signed in.' : `Signed out ${ended} other ${ended === 1 ? 'device' : 'devices'}.`);
    });
  },
};
