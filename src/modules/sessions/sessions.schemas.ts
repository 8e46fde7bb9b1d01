import { Type, type Static } from '@sinclair/typebox';
import { DateTime, Nullable, Uuid } from '../../http/schema-types.js';
import { describeDevice } from './device.js';
import type { SessionRow } from './device-sessions.repo.js';

// The allow-list of what a listed session shows: the serializer drops every other field, so a
// token or its hash cannot reach a reply.
export const SessionResponse = Type.Object(
  {
    id: Uuid,
    current: Type.Boolean({ description: 'The session of the access token making this request' }),
    created_at: DateTime,
    last_used_at: Nullable(DateTime),
    ip: Nullable(Type.String({ description: 'The address it was last used from (its sign-in address until its first refresh)' })),
    user_agent: Nullable(Type.String()),
    device: Type.Object({
      browser: Nullable(Type.String()),
      os: Nullable(Type.String()),
      type: Type.Union([Type.Literal('desktop'), Type.Literal('mobile'), Type.Literal('tablet'), Type.Literal('other')]),
    }),
    aal: Type.Union([Type.Literal('aal1'), Type.Literal('aal2')]),
    amr: Type.Array(Type.String()),
  },
  { $id: 'SessionResponse' },
);
export type SessionResponse = Static<typeof SessionResponse>;

export const SessionParams = Type.Object({ id: Uuid });
export const RevokedResponse = Type.Object({ revoked: Type.Integer({ minimum: 0 }) });

export function toSessionResponse(session: SessionRow, currentSessionId: string | null): SessionResponse {
  return {
    id: session.id,
    current: session.id === currentSessionId,
    created_at: session.created_at.toISOString(),
    last_used_at: session.last_used_at?.toISOString() ?? null,
    ip: session.last_ip ?? session.ip,
    user_agent: session.user_agent,
    device: describeDevice(session.user_agent),
    aal: session.aal,
    amr: session.amr,
  };
}

