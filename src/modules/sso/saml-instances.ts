// node-saml instances for the ACS: one configured SAML per connection, kept while the
// connection's settings are the same. Every response reads the connection's row anyway
// (findConnection), and the instance is looked up by what it was made from (the config as
// stored, the sealed secrets, the service's URL): a changed connection gets a new instance on
// its next response, on every Keyhold instance, with no message between them. What it saves
// per response: opening the secret box, normalising the IdP certificates, building the options
// (bench/saml-floor.ts has the figure).
//
// The request store node-saml asks (InResponseTo) is the flows table; the caller looks the
// request up before validating (one prepared statement, where node-saml would ask twice) and
// lends the answer to the instance's store for the call (`answering`).
import { SAML, ValidateInResponseTo, type CacheProvider } from '@node-saml/node-saml';
import type { AppContext } from '../../context.js';
import type { SsoConnectionRow } from '../../db/schema.js';
import { openSecrets, samlAcsUrl, samlConfig, samlMetadataUrl, type SamlSecrets } from './connection-config.js';

/** NotBefore / NotOnOrAfter tolerance. */
export const CLOCK_SKEW_MS = 2 * 60_000;
/** How long a request (and so its InResponseTo) stays answerable. */
export const REQUEST_TTL_MS = 10 * 60_000;

type Deps = Pick<AppContext, 'config' | 'secrets'>;

const pem = (base64: string): string => `-----BEGIN CERTIFICATE-----\n${base64.match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;

/** The SAML options of a connection; `cacheProvider` is node-saml's request store. */
export function samlFor(ctx: Deps, { row, cacheProvider, inResponseTo }: { row: SsoConnectionRow; cacheProvider: CacheProvider; inResponseTo: ValidateInResponseTo }): SAML {
  const config = samlConfig(row);
  const secrets = openSecrets<SamlSecrets>(ctx, row);
  return new SAML({
    entryPoint: config.idp_sso_url,
    issuer: samlMetadataUrl(ctx.config, row.id),
    callbackUrl: samlAcsUrl(ctx.config, row.id),
    audience: samlMetadataUrl(ctx.config, row.id),
    idpCert: config.idp_certificates.map(pem),
    idpIssuer: config.idp_entity_id,
    // Either signature suffices, and one is required: node-saml refuses a response where
    // neither the response nor its assertion carries a valid signature, and reads the
    // assertion only from the signed XML.
    wantAssertionsSigned: false,
    wantAuthnResponseSigned: false,
    acceptedClockSkewMs: CLOCK_SKEW_MS,
    validateInResponseTo: inResponseTo,
    requestIdExpirationPeriodMs: REQUEST_TTL_MS,
    cacheProvider,
    identifierFormat: null,
    disableRequestedAuthnContext: true,
    ...(secrets.sp_private_key ? { decryptionPvk: secrets.sp_private_key } : {}),
  });
}

export interface AcsInstance {
  readonly saml: SAML;
  /** Requests being answered now: request ID → when it was made (ISO), and by how many calls. */
  readonly answering: Map<string, { createdAt: string; calls: number }>;
}

interface Kept extends AcsInstance {
  readonly madeFrom: string;
}

/** Instances kept per running service (its secret box), then per connection id; the least recently used go first. */
const kept = new WeakMap<object, Map<string, Kept>>();
const MAX_KEPT = 2_000;

/** The connection's ACS instance, made anew when its settings (or the service's URL) changed. */
export function acsInstance(ctx: Deps, row: SsoConnectionRow): AcsInstance {
  let instances = kept.get(ctx.secrets);
  if (!instances) kept.set(ctx.secrets, (instances = new Map()));
  const madeFrom = `${ctx.config.publicUrl}${ctx.config.apiPrefix}\n${JSON.stringify(row.config)}\n${row.secrets}`;
  const found = instances.get(row.id);
  instances.delete(row.id);
  if (found && found.madeFrom === madeFrom) {
    instances.set(row.id, found);
    return found;
  }
  const answering: Kept['answering'] = new Map();
  const store: CacheProvider = {
    saveAsync: async () => null,
    // node-saml wants the request's creation time (it applies requestIdExpirationPeriodMs too).
    getAsync: async (key) => answering.get(key)?.createdAt ?? null,
    removeAsync: async () => null, // spent by the caller, with the sign-in
  };
  const made: Kept = { saml: samlFor(ctx, { row, cacheProvider: store, inResponseTo: ValidateInResponseTo.ifPresent }), answering, madeFrom };
  instances.set(row.id, made);
  if (instances.size > MAX_KEPT) instances.delete(instances.keys().next().value!);
  return made;
}

/**
 * Runs `validate` with the live request `requestKey` (made at `createdAt`) known to the
 * instance's store; with no live request the store knows nothing of it and node-saml refuses
 * an InResponseTo. Answers to one request at once share the entry (counted), so neither ends
 * the other's.
 */
export async function answering<T>(
  instance: AcsInstance,
  request: { requestKey: string | null; createdAt: Date | undefined },
  validate: (saml: SAML) => Promise<T>,
): Promise<T> {
  const { requestKey, createdAt } = request;
  if (!requestKey || !createdAt) return validate(instance.saml);
  const entry = instance.answering.get(requestKey) ?? { createdAt: createdAt.toISOString(), calls: 0 };
  entry.calls++;
  instance.answering.set(requestKey, entry);
  try {
    return await validate(instance.saml);
  } finally {
    if (--entry.calls === 0) instance.answering.delete(requestKey);
  }
}
