// The catalogue of events other services can subscribe to (webhooks), with one payload shape
// per type. An event is written by emitEvent in the transaction of the change that causes it.
//
// `data` is the resource's public shape and never a secret: a user is its UserResponse, a
// session its listing shape (no token, no hash), an invite without its token.
import type { UserResponse } from '../users/user.schemas.js';

export interface SessionEventData {
  id: string;
  user_id: string;
  created_at: string;
  ip: string | null;
  user_agent: string | null;
  aal: string;
  amr: string[];
}

export interface MembershipEventData {
  account_id: string;
  user_id: string;
  role: 'owner' | 'admin' | 'member';
}

/** An OpenID Provider client's public shape (never its secret). */
export interface OAuthClientEventData {
  client_id: string;
  name: string;
  account_id: string | null;
}

export interface EventPayloads {
  'user.created': UserResponse;
  'user.updated': UserResponse;
  'user.email_verified': UserResponse;
  'user.password_changed': UserResponse;
  'user.deactivated': UserResponse;
  'user.reactivated': UserResponse;
  /** The user is gone: what a subscriber needs to find and remove its own records. */
  'user.deleted': { id: string; email: string; account_id: string };
  'user.mfa_enabled': UserResponse;
  'user.mfa_disabled': UserResponse;
  'session.created': SessionEventData;
  'session.revoked': SessionEventData & { reason: string };
  'account.member_added': MembershipEventData;
  'account.member_removed': MembershipEventData;
  'account.member_role_changed': MembershipEventData & { previous_role: 'owner' | 'admin' | 'member' };
  'account.ownership_transferred': { account_id: string; previous_owner_id: string; new_owner_id: string };
  'account.invite_created': { id: string; account_id: string; email: string; role: 'admin' | 'member'; expires_at: string };
  'subscription.created': { id: string; account_id: string; plan: string; status: string; current_period_end: string | null };
  'account.domain_verified': { id: string; account_id: string; domain: string; verified_at: string };
  'account.sso_connection_created': { id: string; account_id: string; type: 'oidc' | 'saml'; name: string };
  'account.sso_connection_deleted': { id: string; account_id: string; type: 'oidc' | 'saml'; name: string };
  'oauth_client.created': OAuthClientEventData;
  'oauth_client.deleted': OAuthClientEventData;
  /** A user's grant to an app ended (they removed the app, or a refresh token was reused). */
  'oidc.grant_revoked': { user_id: string; client_id: string; reason: string };
  /** Sent only by `keyhold webhooks test` / POST /admin/webhooks/{id}/test. */
  'webhook.test': { message: string };
}

export type EventType = keyof EventPayloads & string;

export const EVENT_TYPES = [
  'user.created',
  'user.updated',
  'user.email_verified',
  'user.password_changed',
  'user.deactivated',
  'user.reactivated',
  'user.deleted',
  'user.mfa_enabled',
  'user.mfa_disabled',
  'session.created',
  'session.revoked',
  'account.member_added',
  'account.member_removed',
  'account.member_role_changed',
  'account.ownership_transferred',
  'account.invite_created',
  'subscription.created',
  'account.domain_verified',
  'account.sso_connection_created',
  'account.sso_connection_deleted',
  'oauth_client.created',
  'oauth_client.deleted',
  'oidc.grant_revoked',
  'webhook.test',
] as const satisfies readonly EventType[];

// Every key of EventPayloads is listed above: a type added there and not here does not compile.
type Missing = Exclude<EventType, (typeof EVENT_TYPES)[number]>;
const everyTypeListed: Missing extends never ? true : Missing = true;
void everyTypeListed;

export const isEventType = (value: string): value is EventType => (EVENT_TYPES as readonly string[]).includes(value);
