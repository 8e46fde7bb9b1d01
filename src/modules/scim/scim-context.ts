// What every SCIM use case runs with: the app's parts, the SSO facts, and the caller: the
// token, whose account scopes every query and whose id is the audit actor.
import type { AppContext } from '../../context.js';
import type { AccountIdentityFacts } from './identity-facts.js';

export type ScimDeps = Pick<AppContext, 'db' | 'clock' | 'config' | 'jobs' | 'tokens'> & { facts: AccountIdentityFacts };

export interface ScimCaller {
  accountId: string;
  tokenId: string;
  ip: string | null;
  userAgent: string | null;
  /** The base URL of the resources, for `location` and `$ref`. */
  baseUrl: string;
}

/** A PUT or PATCH of one resource (a User or a Group): who asks, its id, and the request body. */
export interface ScimResourceChange {
  caller: ScimCaller;
  id: string;
  body: unknown;
}

/** The audit actor of a SCIM change (audit_logs.user_id stays empty: no user acted). */
export const actorOf = (caller: ScimCaller): string => `scim:${caller.tokenId}`;
export const metaOf = (caller: ScimCaller) => ({ ip: caller.ip, userAgent: caller.userAgent });
