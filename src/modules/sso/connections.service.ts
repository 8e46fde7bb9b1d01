// An account's SSO connections (created and changed at run time) and its policy. Every
// function acts inside one account scope (the caller's own, or any for a platform admin).
import { randomUUID } from 'node:crypto';
import type { AppContext, RequestMeta } from '../../context.js';
import type { SsoConnectionRow } from '../../db/schema.js';
import { Errors, validationError } from '../../lib/errors.js';
import type { AccountScope } from '../accounts/account-scope.js';
import { recordAudit } from '../audit/audit.repo.js';
import { emitEvent } from '../events/emit-event.js';
import { guardedFetch } from '../webhooks/guarded-fetch.js';
import { checkWebhookUrl } from '../webhooks/url-guard.js';
import { endSessionsNotUsingSso } from './enforcement-sweep.js';
import { queueEnforcementSweep } from '../sso-policy/enforcement.js';
import { samlConfig, sealPurpose, type OidcConfig, type SamlConfig } from './connection-config.js';
import { parseIdpMetadata, type IdpSettings } from './idp-metadata.js';
import type { CreateConnectionBody, UpdateConnectionBody } from './connections.schemas.js';
import {
  deleteConnection,
  findAccountConnection,
  findPolicy,
  insertConnection,
  listConnections,
  updateConnection,
  upsertPolicy,
  type SsoPolicy,
} from './sso.repo.js';
import { inUnitOfWork } from '../../db/unit-of-work.js';

type Deps = Pick<AppContext, 'db' | 'clock' | 'jobs' | 'config' | 'secrets'>;

const MAX_METADATA_BYTES = 512 * 1024;

/**
 * The IdP's metadata, from the XML given or fetched from its URL (public https only). The URL
 * is checked first (for a reason to give), and fetched through the guard, whose connection goes
 * only to the public address it checked (no DNS rebinding between check and fetch), with no
 * redirects.
 */
async function idpSettings(ctx: Deps, input: { metadata_xml?: string; metadata_url?: string }, field: 'body'): Promise<IdpSettings> {
  let xml = input.metadata_xml;
  if (xml === undefined && input.metadata_url !== undefined) {
    const url = input.metadata_url;
    const insecureAllowed = ctx.config.webhookAllowInsecureUrls;
    const reason = insecureAllowed ? null : await checkWebhookUrl(url);
    if (reason) throw validationError([field, 'metadata_url'], reason);
    try {
      const response = await guardedFetch({ allowInsecure: insecureAllowed })(url);
      const body = await response.text();
      if (!response.ok || body.length > MAX_METADATA_BYTES) throw new Error('unusable');
      xml = body;
    } catch {
      throw validationError([field, 'metadata_url'], 'The metadata could not be fetched');
    }
  }
  const settings = xml === undefined ? null : parseIdpMetadata(xml);
  if (!settings) {
    throw validationError([field, input.metadata_xml !== undefined ? 'metadata_xml' : 'metadata_url'], 'Not SAML IdP metadata with an HTTP-Redirect SingleSignOnService and a signing certificate');
  }
  return settings;
}

/**
 * An OIDC issuer is fetched from (discovery, then its endpoints), so it must be a public https
 * address, as a webhook URL: refused here with a reason, and again at every request by the guard.
 * A name that does not resolve (yet) is accepted: nothing is fetched now, and the guard's own
 * look-up refuses a private address at sign-in.
 */
async function checkIssuer(ctx: Deps, issuer: string): Promise<void> {
  if (ctx.config.webhookAllowInsecureUrls) return;
  const reason = await checkWebhookUrl(issuer, undefined, { unresolvedOk: true });
  if (reason) throw validationError(['body', 'issuer'], reason, 'url_not_allowed');
}

function checkRedirectUri(ctx: Deps, uri: string | null | undefined): void {
  if (uri && !ctx.config.oauthRedirectUris.includes(uri)) throw validationError(['body', 'default_redirect_uri'], 'Not one of OAUTH_REDIRECT_URIS');
}

export interface CreateConnection {
  scope: AccountScope;
  body: CreateConnectionBody;
  meta: RequestMeta;
}

export interface ChangeConnection {
  scope: AccountScope;
  id: string;
  body: UpdateConnectionBody;
  meta: RequestMeta;
}

export interface RemoveConnection {
  scope: AccountScope;
  id: string;
  meta: RequestMeta;
}

export interface SetPolicy {
  scope: AccountScope;
  policy: SsoPolicy;
  meta: RequestMeta;
}

export async function createConnection(ctx: Deps, { scope, body, meta }: CreateConnection): Promise<SsoConnectionRow> {
  const id = randomUUID();
  let config: SamlConfig | OidcConfig;
  let secrets: Record<string, string>;
  if (body.type === 'saml') {
    const idp = await idpSettings(ctx, body, 'body');
    checkRedirectUri(ctx, body.default_redirect_uri);
    if ((body.sp_private_key === undefined) !== (body.sp_certificate === undefined)) {
      throw validationError(['body', 'sp_private_key'], 'sp_private_key and sp_certificate go together');
    }
    config = {
      idp_entity_id: idp.entityId,
      idp_sso_url: idp.ssoUrl,
      idp_certificates: idp.certificates,
      allow_idp_initiated: body.allow_idp_initiated ?? false,
      default_redirect_uri: body.default_redirect_uri ?? null,
      sp_certificate: body.sp_certificate ?? null,
    };
    secrets = body.sp_private_key ? { sp_private_key: body.sp_private_key } : {};
  } else {
    await checkIssuer(ctx, body.issuer);
    config = { issuer: body.issuer, client_id: body.client_id, scopes: body.scopes ?? ['openid', 'email', 'profile'] };
    secrets = { client_secret: body.client_secret };
  }
  const row = await inUnitOfWork(ctx, async (trx) => {
    const created = await insertConnection(trx, {
      id,
      accountId: scope.accountId,
      type: body.type,
      name: body.name,
      config,
      secrets: ctx.secrets.seal(JSON.stringify(secrets), sealPurpose(id)),
      now: ctx.clock.now(),
    });
    await recordAudit(trx, meta, { action: 'sso.connection_created', userId: scope.actorId, resourceType: 'sso_connection', resourceId: id, details: { account_id: scope.accountId, type: body.type, name: body.name } });
    await emitEvent(ctx, trx, { type: 'account.sso_connection_created', data: { id, account_id: scope.accountId, type: body.type, name: body.name } });
    return created;
  });
  return row;
}

export const listAccountConnections = (ctx: Pick<AppContext, 'db'>, scope: AccountScope) => listConnections(ctx.db, scope.accountId);

export async function getConnection(ctx: Pick<AppContext, 'db'>, scope: AccountScope, id: string): Promise<SsoConnectionRow> {
  const row = await findAccountConnection(ctx.db, scope.accountId, id);
  if (!row) throw Errors.ssoConnectionNotFound();
  return row;
}

export async function changeConnection(ctx: Deps, { scope, id, body, meta }: ChangeConnection): Promise<SsoConnectionRow> {
  const current = await getConnection(ctx, scope, id);
  let config: unknown;
  let secrets: string | undefined;
  if (current.type === 'saml') {
    const saml = { ...samlConfig(current) };
    if (body.metadata_xml !== undefined || body.metadata_url !== undefined) {
      const idp = await idpSettings(ctx, body, 'body');
      Object.assign(saml, { idp_entity_id: idp.entityId, idp_sso_url: idp.ssoUrl, idp_certificates: idp.certificates });
    }
    if (body.allow_idp_initiated !== undefined) saml.allow_idp_initiated = body.allow_idp_initiated;
    if (body.default_redirect_uri !== undefined) {
      checkRedirectUri(ctx, body.default_redirect_uri);
      saml.default_redirect_uri = body.default_redirect_uri;
    }
    config = saml;
  } else {
    const oidc = { ...(current.config as OidcConfig) };
    if (body.issuer !== undefined) {
      await checkIssuer(ctx, body.issuer);
      oidc.issuer = body.issuer;
    }
    if (body.client_id !== undefined) oidc.client_id = body.client_id;
    if (body.scopes !== undefined) oidc.scopes = body.scopes;
    config = oidc;
    if (body.client_secret !== undefined) secrets = ctx.secrets.seal(JSON.stringify({ client_secret: body.client_secret }), sealPurpose(id));
  }
  return inUnitOfWork(ctx, async (trx) => {
    const row = await updateConnection(trx, { accountId: scope.accountId, id, changes: { name: body.name, enabled: body.enabled, config, secrets }, now: ctx.clock.now() });
    if (!row) throw Errors.ssoConnectionNotFound();
    const changed = Object.keys(body).filter((key) => key !== 'client_secret' && key !== 'metadata_xml');
    await recordAudit(trx, meta, { action: 'sso.connection_updated', userId: scope.actorId, resourceType: 'sso_connection', resourceId: id, details: { account_id: scope.accountId, changed: [...changed, ...(body.client_secret !== undefined ? ['client_secret'] : []), ...(body.metadata_xml !== undefined ? ['metadata_xml'] : [])] } });
    return row;
  });
}

export async function removeConnection(ctx: Deps, { scope, id, meta }: RemoveConnection): Promise<void> {
  await inUnitOfWork(ctx, async (trx) => {
    const row = await deleteConnection(trx, scope.accountId, id);
    if (!row) throw Errors.ssoConnectionNotFound();
    await recordAudit(trx, meta, { action: 'sso.connection_deleted', userId: scope.actorId, resourceType: 'sso_connection', resourceId: id, details: { account_id: scope.accountId, type: row.type, name: row.name } });
    await emitEvent(ctx, trx, { type: 'account.sso_connection_deleted', data: { id, account_id: scope.accountId, type: row.type, name: row.name } });
  });
}

export const getPolicy = (ctx: Pick<AppContext, 'db'>, scope: AccountScope): Promise<SsoPolicy> => findPolicy(ctx.db, scope.accountId);

/**
 * Writes the policy. Turning enforcement on ends the sessions that people on the account's
 * verified domains made by other methods (password, social, passkey): from now on only SSO
 * signs them in. A second sweep follows shortly (enforcement-sweep.ts says why).
 */
export async function setPolicy(ctx: Deps, { scope, policy, meta }: SetPolicy): Promise<SsoPolicy> {
  await inUnitOfWork(ctx, async (trx) => {
    const now = ctx.clock.now();
    const previous = await upsertPolicy(trx, { accountId: scope.accountId, policy, now });
    let sessionsEnded = 0;
    if (policy.enforced && !previous.enforced) {
      sessionsEnded = await endSessionsNotUsingSso(ctx, trx, scope.accountId);
      await queueEnforcementSweep(trx, { accountId: scope.accountId, delaySeconds: ctx.config.ssoEnforcementResweepSeconds });
    }
    await recordAudit(trx, meta, { action: 'sso.settings_updated', userId: scope.actorId, resourceType: 'account', resourceId: scope.accountId, details: { ...policy, sessions_ended: sessionsEnded } });
  });
  return policy;
}
