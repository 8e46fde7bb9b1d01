// The SSO sign-in path: start (a connection by id or by the email's verified domain) → the
// identity provider → Keyhold's ACS (SAML) or callback (OIDC) → a redirect to the front end's
// redirect_uri with a single-use code → POST /auth/sso/callback → tokens from the sign-in seam.
import { randomUUID } from 'node:crypto';
import type { AppContext, RequestMeta } from '../../context.js';
import type { SsoConnectionRow } from '../../db/schema.js';
import { addSeconds } from '../../lib/clock.js';
import { AppError, Errors } from '../../lib/errors.js';
import { randomToken } from '../../lib/random.js';
import { accountOwningVerifiedDomain, emailDomain } from '../domains/domains.repo.js';
import { pagesSsoCallbackUrl, samlConfig } from './connection-config.js';
import { oidcAuthorizeUrl, oidcExchange, oidcRequestKey } from './oidc.js';
import { readSamlResponse, REQUEST_TTL_MS, SamlRejection, samlAuthorizeUrl, validateSamlResponse, type PostedResponse } from './saml.js';
import { admitIdentity, recordSsoFailure, signInFactsOf } from './sso-sign-in.js';
import { findConnection, findEnabledConnectionOfAccount, findFlowByKey, insertFlow, spendFlow } from './sso.repo.js';
import { answerSamlRequest, findConnectionAndRequest } from './sso-sign-in.repo.js';
import { inUnitOfWork } from '../../db/unit-of-work.js';

export interface StartInput {
  email?: string;
  connection_id?: string;
  redirect_uri: string;
}

/** The enabled connection a sign-in starts with: the one named, or the email domain's account's. */
async function connectionFor(ctx: Pick<AppContext, 'db'>, input: StartInput): Promise<SsoConnectionRow> {
  if (input.connection_id !== undefined) {
    const row = await findConnection(ctx.db, input.connection_id);
    if (!row || !row.enabled) throw Errors.ssoNotConfigured();
    return row;
  }
  const domain = input.email !== undefined ? emailDomain(input.email.trim()) : null;
  const accountId = domain ? await accountOwningVerifiedDomain(ctx.db, domain) : undefined;
  const row = accountId ? await findEnabledConnectionOfAccount(ctx.db, accountId) : undefined;
  if (!row) throw Errors.ssoNotConfigured();
  return row;
}

export async function startSso(ctx: AppContext, input: StartInput): Promise<{ authorization_url: string; state: string }> {
  if (!ctx.config.oauthRedirectUris.includes(input.redirect_uri)) throw Errors.invalidRedirectUri();
  return beginSso(ctx, input);
}

/**
 * Starts a sign-in at the connection's identity provider, to come back to `redirect_uri`, which
 * the caller vouches for: POST /auth/sso/start checks it against OAUTH_REDIRECT_URIS, and the
 * hosted pages pass their own callback (modules/hosted-ui/sso-pages.ts).
 */
export async function beginSso(ctx: AppContext, input: StartInput): Promise<{ authorization_url: string; state: string }> {
  if ((input.email === undefined) === (input.connection_id === undefined)) throw Errors.ssoNotConfigured();
  const connection = await connectionFor(ctx, input);
  const state = randomToken(24);
  const flowId = randomUUID();
  const expiresAt = addSeconds(ctx.clock.now(), REQUEST_TTL_MS / 1000);
  if (connection.type === 'saml') {
    const { url, requestId } = await samlAuthorizeUrl(ctx, connection, flowId);
    await insertFlow(ctx.db, { id: flowId, connectionId: connection.id, requestKey: requestId, redirectUri: input.redirect_uri, clientState: state, expiresAt });
    return { authorization_url: url, state };
  }
  const { url, requestKey, codeVerifier, nonce } = await oidcAuthorizeUrl(ctx, connection, input.email);
  await insertFlow(ctx.db, { id: flowId, connectionId: connection.id, requestKey, redirectUri: input.redirect_uri, clientState: state, codeVerifier, nonce, expiresAt });
  return { authorization_url: url, state };
}

/** Where the browser goes with its code: the front end's redirect_uri, with `code` and `state`. */
export function frontEndRedirect(redirectUri: string, code: string, state: string): string {
  const url = new URL(redirectUri);
  url.searchParams.set('code', code);
  url.searchParams.set('state', state);
  return url.toString();
}

/**
 * A refusal after the flow is known, of a flow the hosted pages started: the browser goes back to
 * the pages with `error` (their sign-in page says why) rather than stopping on a JSON reply. A
 * front end's flow (the API's) keeps the reply as the contract has it.
 */
function pagesRefusal(ctx: AppContext, flow: { redirectUri: string; state: string } | undefined, code: string): string | undefined {
  if (!flow || flow.redirectUri !== pagesSsoCallbackUrl(ctx.config)) return undefined;
  const url = new URL(flow.redirectUri);
  url.searchParams.set('error', code);
  url.searchParams.set('state', flow.state);
  return url.toString();
}

export interface AcceptSamlResponse {
  connectionId: string;
  /** The form's SAMLResponse (base64). */
  samlResponse: string;
  meta: RequestMeta;
}

/** SAML ACS: validate, spend the request, record the assertion, admit the identity; → redirect URL. */
export async function acceptSamlResponse(ctx: AppContext, { connectionId, samlResponse, meta }: AcceptSamlResponse): Promise<string> {
  // Read first, for the InResponseTo: the connection's look-up brings the request with it. A
  // refusal of the reading waits until the connection is known (an unknown one is said first).
  let posted: PostedResponse | SamlRejection;
  try {
    posted = readSamlResponse(samlResponse);
  } catch (err) {
    if (!(err instanceof SamlRejection)) throw err;
    posted = err;
  }
  const requestKey = posted instanceof SamlRejection ? null : posted.inResponseTo;
  const { connection, requestCreatedAt } = await findConnectionAndRequest(ctx.db, { connectionId, requestKey, now: ctx.clock.now() });
  if (!connection || connection.type !== 'saml' || !connection.enabled) {
    await recordSsoFailure(ctx, { connection: null, reason: 'unknown_connection', meta });
    throw Errors.ssoFailed();
  }
  let answering: { redirectUri: string; state: string } | undefined;
  try {
    if (posted instanceof SamlRejection) throw posted;
    const identity = await validateSamlResponse(ctx, connection, { posted, requestCreatedAt });
    const target = await inUnitOfWork(ctx, async (trx) => {
      const now = ctx.clock.now();
      let redirectUri: string;
      let state: string;
      // One statement: the request spent, the assertion's use recorded (also for an
      // IdP-initiated response, which has no request to spend), and who the identity is.
      const { flow, recorded, facts } = await answerSamlRequest(trx, {
        requestKey: identity.inResponseTo,
        assertionId: identity.assertionId,
        keepUntil: identity.validUntil,
        now,
        facts: signInFactsOf({ connection, ...identity }),
      });
      if (identity.inResponseTo) {
        if (!flow || flow.connection_id !== connection.id) throw new SamlRejection('request_already_answered');
        ({ redirect_uri: redirectUri, client_state: state } = flow);
      } else {
        // IdP-initiated (allowed for this connection, checked by validateSamlResponse).
        const fallback = samlConfig(connection).default_redirect_uri;
        if (!fallback) throw new SamlRejection('idp_initiated_without_default_redirect_uri');
        redirectUri = fallback;
        state = randomToken(24);
      }
      if (!recorded) throw new SamlRejection('assertion_replayed');
      answering = { redirectUri, state };
      const code = await admitIdentity(ctx, trx, { identity: { connection, ...identity }, clientState: state, meta, facts });
      return frontEndRedirect(redirectUri, code, state);
    });
    return target;
  } catch (err) {
    if (err instanceof SamlRejection) {
      await recordSsoFailure(ctx, { connection, reason: err.reason, meta });
      throw Errors.ssoFailed();
    }
    if (err instanceof AppError && err.statusCode < 500) {
      await recordSsoFailure(ctx, { connection, reason: err.code ?? err.message, meta });
      const toPages = pagesRefusal(ctx, answering, err.code ?? 'sso_failed');
      if (toPages) return toPages;
    }
    throw err;
  }
}

/** OIDC callback: the flow by its state, the code exchanged, the identity admitted; → redirect URL. */
export async function acceptOidcCallback(ctx: AppContext, query: { code: string; state: string; iss?: string }, meta: RequestMeta): Promise<string> {
  const requestKey = oidcRequestKey(query.state);
  const pending = await findFlowByKey(ctx.db, requestKey, ctx.clock.now());
  const connection = pending ? await findConnection(ctx.db, pending.connection_id) : undefined;
  if (!pending || !connection || connection.type !== 'oidc' || !connection.enabled) {
    await recordSsoFailure(ctx, { connection: connection ?? null, reason: 'unknown_or_spent_state', meta });
    throw Errors.ssoFailed();
  }
  const answering = { redirectUri: pending.redirect_uri, state: pending.client_state };
  try {
    const identity = await oidcExchange(ctx, { row: connection, query, flow: pending });
    const target = await inUnitOfWork(ctx, async (trx) => {
      const flow = await spendFlow(trx, requestKey, ctx.clock.now());
      if (!flow) throw Errors.ssoFailed();
      const code = await admitIdentity(ctx, trx, { identity: { connection, ...identity }, clientState: flow.client_state, meta });
      return frontEndRedirect(flow.redirect_uri, code, flow.client_state);
    });
    return target;
  } catch (err) {
    if (err instanceof AppError && err.statusCode < 500) {
      await recordSsoFailure(ctx, { connection, reason: err.code ?? err.message, meta });
      const toPages = pagesRefusal(ctx, answering, err.code ?? 'sso_failed');
      if (toPages) return toPages;
    }
    throw err;
  }
}
