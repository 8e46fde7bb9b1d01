// Registering the OpenID Provider's clients: the admin API and `keyhold clients` call these.
// A secret is made here, returned once, and stored as its SHA-256 (a 256-bit random value
// needs no slow hash); rotation keeps the old one valid for PREVIOUS_SECRET_HOURS.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { AppContext, RequestMeta } from '../../context.js';
import { addSeconds } from '../../lib/clock.js';
import { Errors, validationError } from '../../lib/errors.js';
import { hashSecret } from '../../lib/random.js';
import { recordAudit } from '../audit/audit.repo.js';
import { emitEvent } from '../events/emit-event.js';
import { checkWebhookUrl, systemResolver, type Resolver } from '../webhooks/url-guard.js';
import { checkRegistration, usesSecret, type ClientRegistration } from './client-metadata.js';
import * as repo from './clients.repo.js';
import type { CreateClientBody, UpdateClientBody } from './clients.schemas.js';
import { grantIdsOfClient, revokeGrantRows } from './oidc-models.repo.js';
import { inUnitOfWork } from '../../db/unit-of-work.js';

export const PREVIOUS_SECRET_HOURS = 24;

export type ClientDeps = Pick<AppContext, 'db' | 'clock' | 'config'> & { jobs: AppContext['jobs'] | undefined } & { resolver?: Resolver };

/**
 * 128 random bits in base64url, never starting with `-` or `_`: an id that began with `-` read as
 * an option to `keyhold clients rotate-secret <client_id>` (1 id in 64 did, failing CI once).
 */
export function newClientId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (/^[A-Za-z0-9]/.test(id)) return id;
  }
}
const newClientSecret = (): string => randomBytes(32).toString('base64url');

/** Whether `presented` is the client's secret (or its previous one, within its 24 hours). Constant time. */
export function secretMatches(hashes: { current: string | null; previous?: string | null; previousUntilSeconds?: number | null }, presented: string, nowSeconds: number): boolean {
  const candidate = Buffer.from(hashSecret(presented), 'hex');
  const equal = (hash: string | null | undefined) => {
    if (!hash) return false;
    const expected = Buffer.from(hash, 'hex');
    return expected.length === candidate.length && timingSafeEqual(expected, candidate);
  };
  const current = equal(hashes.current);
  const previous = equal(hashes.previous) && (hashes.previousUntilSeconds ?? 0) > nowSeconds;
  return current || previous;
}

function registrationOf(input: Omit<CreateClientBody, 'name'> & { token_endpoint_auth_method: ClientRegistration['token_endpoint_auth_method'] }): ClientRegistration {
  return {
    redirect_uris: input.redirect_uris,
    post_logout_redirect_uris: input.post_logout_redirect_uris ?? [],
    grant_types: input.grant_types,
    token_endpoint_auth_method: input.token_endpoint_auth_method,
    scopes: input.scopes,
    resources: input.resources ?? [],
    backchannel_logout_uri: input.backchannel_logout_uri ?? null,
    logo_uri: input.logo_uri ?? null,
    dpop_bound: input.dpop_bound ?? false,
    id_token_signed_response_alg: input.id_token_signed_response_alg ?? null,
    jwks: input.jwks ?? null,
    jwks_uri: input.jwks_uri ?? null,
  };
}

/** The back-channel logout URI is called by the server, so it passes the webhooks' URL guard. */
async function checkOutboundUrl(deps: ClientDeps, field: string, url: string | null): Promise<void> {
  if (url === null) return;
  if (deps.config.webhookAllowInsecureUrls) {
    if (!/^https?:\/\//i.test(url) || !URL.canParse(url)) throw validationError(['body', field], 'URL must be an http:// or https:// URL', 'url_invalid');
    return;
  }
  const reason = await checkWebhookUrl(url, deps.resolver ?? systemResolver);
  if (reason) throw validationError(['body', field], reason, 'url_not_allowed');
}

async function checkAll(deps: ClientDeps, registration: ClientRegistration, accountId: string | null): Promise<void> {
  checkRegistration(registration);
  await checkOutboundUrl(deps, 'backchannel_logout_uri', registration.backchannel_logout_uri);
  await checkOutboundUrl(deps, 'jwks_uri', registration.jwks_uri);
  if (registration.logo_uri && !/^https:\/\//.test(registration.logo_uri)) throw validationError(['body', 'logo_uri'], 'URL must use https://', 'url_invalid');
  if (accountId) {
    const account = await deps.db.selectFrom('accounts').select('id').where('id', '=', accountId).executeTakeFirst();
    if (!account) throw Errors.accountNotFound();
  }
}

/** Who changes a client (null: the CLI) and the request behind it, for the audit row. */
export interface ClientChange {
  adminId: string | null;
  meta: RequestMeta | null;
}

export interface CreateClient extends ClientChange {
  input: CreateClientBody;
}

export interface UpdateClient extends ClientChange {
  clientId: string;
  input: UpdateClientBody;
}

export interface ClientAction extends ClientChange {
  clientId: string;
}

export async function createClient(deps: ClientDeps, { adminId, input, meta }: CreateClient): Promise<{ client: repo.OAuthClientRow; secret?: string }> {
  const registration = registrationOf(input);
  const accountId = input.account_id ?? null;
  await checkAll(deps, registration, accountId);
  const secret = usesSecret(registration.token_endpoint_auth_method) ? newClientSecret() : undefined;
  const client = await inUnitOfWork(deps, async (trx) => {
    const row = await repo.insertClient(trx, {
      clientId: newClientId(),
      name: input.name,
      accountId,
      secretHash: secret ? hashSecret(secret) : null,
      firstParty: input.first_party ?? false,
      requireMfa: input.require_mfa ?? false,
      registration,
    });
    await recordAudit(trx, meta, { action: 'oidc.client_created', userId: adminId, resourceType: 'oauth_client', resourceId: row.client_id, details: { name: row.name, account_id: accountId } });
    await emitEvent(deps, trx, { type: 'oauth_client.created', data: { client_id: row.client_id, name: row.name, account_id: accountId } });
    return row;
  });
  return { client, secret };
}

export const listClients = (deps: Pick<AppContext, 'db'>): Promise<repo.OAuthClientRow[]> => repo.listClients(deps.db);

export async function getClient(deps: Pick<AppContext, 'db'>, clientId: string): Promise<repo.OAuthClientRow> {
  const client = await repo.findClient(deps.db, clientId);
  if (!client) throw Errors.oauthClientNotFound();
  return client;
}

export async function updateClient(deps: ClientDeps, { adminId, clientId, input, meta }: UpdateClient): Promise<repo.OAuthClientRow> {
  const current = await getClient(deps, clientId);
  const before = current.metadata as unknown as ClientRegistration;
  const merged = registrationOf({
    ...before,
    ...Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined)),
    token_endpoint_auth_method: before.token_endpoint_auth_method,
  } as Omit<CreateClientBody, 'name'>);
  const accountId = input.account_id === undefined ? current.account_id : input.account_id;
  await checkAll(deps, merged, accountId);
  return inUnitOfWork(deps, async (trx) => {
    if (!(await repo.lockClient(trx, clientId))) throw Errors.oauthClientNotFound();
    const updated = await repo.updateClient(trx, {
      clientId,
      change: { name: input.name, accountId, firstParty: input.first_party, requireMfa: input.require_mfa, registration: merged },
      now: deps.clock.now(),
    });
    await recordAudit(trx, meta, { action: 'oidc.client_updated', userId: adminId, resourceType: 'oauth_client', resourceId: clientId, details: { fields: Object.keys(input) } });
    return updated;
  });
}

export async function rotateClientSecret(deps: ClientDeps, { adminId, clientId, meta }: ClientAction): Promise<{ client: repo.OAuthClientRow; secret: string }> {
  const secret = newClientSecret();
  const client = await inUnitOfWork(deps, async (trx) => {
    const current = await repo.lockClient(trx, clientId);
    if (!current) throw Errors.oauthClientNotFound();
    const registration = current.metadata as unknown as ClientRegistration;
    if (!usesSecret(registration.token_endpoint_auth_method)) {
      throw validationError(['path', 'client_id'], `A ${registration.token_endpoint_auth_method} client has no secret`, 'client_has_no_secret');
    }
    const now = deps.clock.now();
    await repo.replaceClientSecret(trx, { clientId, secretHash: hashSecret(secret), previousUntil: addSeconds(now, PREVIOUS_SECRET_HOURS * 3600), now });
    await recordAudit(trx, meta, { action: 'oidc.client_secret_rotated', userId: adminId, resourceType: 'oauth_client', resourceId: clientId });
    return (await repo.findClient(trx, clientId))!;
  });
  return { client, secret };
}

/** Removes the client with every grant, code and token issued to it. */
export async function deleteClient(deps: ClientDeps, { adminId, clientId, meta }: ClientAction): Promise<void> {
  await inUnitOfWork(deps, async (trx) => {
    const client = await repo.lockClient(trx, clientId);
    if (!client) throw Errors.oauthClientNotFound();
    await repo.deleteClient(trx, clientId);
    for (const grantId of await grantIdsOfClient(trx, clientId)) await revokeGrantRows(trx, grantId);
    await recordAudit(trx, meta, { action: 'oidc.client_deleted', userId: adminId, resourceType: 'oauth_client', resourceId: clientId, details: { name: client.name } });
    await emitEvent(deps, trx, { type: 'oauth_client.deleted', data: { client_id: clientId, name: client.name, account_id: client.account_id } });
  });
}
