// Access tokens asked for without a resource (RFC 8707) are JWTs too, per RFC 9068, with the
// userinfo endpoint as their audience (API.md: "whose aud is the resource requested … or the
// userinfo endpoint when none is asked for").
//
// oidc-provider issues such tokens opaque, and by design does not take a JWT at its userinfo
// endpoint (it looks tokens up by their stored id, and refuses any that carry an audience).
// So the token is both: stored exactly as the opaque one (its id is the JWT's `jti`), and handed
// out as a JWT signed with the key ring; the provider's look-ups (userinfo, introspection,
// revocation) verify the JWT and find the stored token by its `jti`. Revocation, grant
// revocation and DPoP binding therefore work as for the opaque token; a resource server that
// verifies locally sees a standard at+jwt whose `aud` says it is meant for userinfo only.
//
// Introspection and revocation refuse any JWT-shaped `token` before looking it up, so for those
// two the form is rewritten on its way in (acceptOwnJwts): one of these JWTs becomes its `jti`.
import { createPrivateKey, type JsonWebKey as NodeJsonWebKey } from 'node:crypto';
import { Readable } from 'node:stream';
import { createLocalJWKSet, jwtVerify, type JWK } from 'jose';
import { signCompact } from '../../lib/jws.js';
import type { SigningAlgorithm, TokenKey } from '../../lib/token-keys.js';
import { VerifiedTokenCache } from '../../lib/verified-token-cache.js';
import type { KoaLikeContext, TokenModel } from './provider-types.js';
import type { ProviderKeys } from '../keys/key-set.js';

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'] as const;
const publicJwk = (jwk: JWK): JWK => Object.fromEntries(Object.entries(jwk).filter(([name]) => !(PRIVATE_MEMBERS as readonly string[]).includes(name))) as JWK;
const JWT_SHAPE = /^[\w-]+\.[\w-]+\.[\w-]+$/;

/** The stored id (`jti`) of one of these JWTs; undefined when it is not one (or expired). */
export type JtiOf = (value: string) => Promise<string | undefined>;

/** Gives the token models their JWT form; returns how to read one back to its stored id. */
export async function jwtForUserinfo(classes: TokenModel[], options: { issuer: string; userinfoUrl: string; keys: ProviderKeys }): Promise<JtiOf> {
  const { issuer, userinfoUrl, keys } = options;
  const signingJwk = keys.keys.find((jwk) => jwk.alg === keys.alg)!;
  // Signed as first-party tokens are (lib/jws.ts: node:crypto's one-shot sign on a KeyObject),
  // not by jose's SignJWT, whose asymmetric sign is a round trip through the threadpool: about
  // 0.1 ms of a provider refresh or code exchange (docs/performance.md).
  const signingKey: TokenKey = { kid: signingJwk.kid, alg: keys.alg as SigningAlgorithm, key: createPrivateKey({ key: signingJwk as NodeJsonWebKey, format: 'jwk' }) };
  const verificationKeys = createLocalJWKSet({ keys: keys.keys.map(publicJwk) });
  // A client presents one token many times: its signature is checked once (as first-party tokens'
  // are). The cache lives as long as this provider, which is built again when the key set moves.
  const verified = new VerifiedTokenCache<{ iat: number; exp: number; jti: string }>(10_000, () => 0);
  const jtiOf: JtiOf = async (value) => {
    const known = verified.get(value, new Date());
    if (known) return known.jti;
    try {
      const { payload } = await jwtVerify(value, verificationKeys, { issuer, audience: userinfoUrl, typ: 'at+jwt' });
      const { jti, iat, exp } = payload;
      if (typeof jti !== 'string' || typeof iat !== 'number' || typeof exp !== 'number') return undefined;
      verified.add(value, { jti, iat, exp }, 0);
      return jti;
    } catch {
      return undefined;
    }
  };

  for (const TokenClass of classes) {
    const storedValue = TokenClass.prototype.getValueAndPayload;
    TokenClass.prototype.getValueAndPayload = async function jwtValue(this: { resourceServer?: unknown }) {
      const stored = await storedValue.call(this);
      // A token for a resource is the library's own RFC 9068 JWT (not stored): left as it is.
      if (this.resourceServer || !stored.payload) return stored;
      const p = stored.payload as { jti: string; iat: number; exp: number; accountId?: string; clientId: string; scope?: string; jkt?: string; extra?: Record<string, unknown> };
      const value = signCompact({ alg: keys.alg, kid: signingJwk.kid, typ: 'at+jwt' }, {
        ...p.extra,
        client_id: p.clientId,
        ...(p.scope ? { scope: p.scope } : {}),
        ...(p.jkt ? { cnf: { jkt: p.jkt } } : {}),
        iss: issuer,
        sub: p.accountId ?? p.clientId,
        aud: userinfoUrl,
        jti: p.jti,
        iat: p.iat,
        exp: p.exp,
      }, signingKey);
      return { value, payload: stored.payload };
    };

    const findStored = TokenClass.find.bind(TokenClass);
    TokenClass.find = async (value: string, ...rest: unknown[]) => {
      if (typeof value !== 'string' || !JWT_SHAPE.test(value)) return findStored(value, ...rest);
      // Not one of ours, or expired: not found, as an unknown opaque token.
      const jti = await jtiOf(value);
      return jti === undefined ? undefined : findStored(jti, ...rest);
    };
  }
  return jtiOf;
}

/** oidc-provider's own body limit for these forms. */
const FORM_LIMIT = 56 * 1024;

/**
 * For the introspection and revocation endpoints (`paths`): a JWT-shaped `token` becomes its
 * stored id, or an id nothing has when it is not one of ours (then introspection answers
 * active: false and revocation 200, as for any unknown token). The body is read here and
 * handed on to the provider's own parser as the same stream would have.
 */
export function acceptOwnJwts(paths: string[], jtiOf: JtiOf) {
  return async (koa: KoaLikeContext, next: () => Promise<void>): Promise<void> => {
    if (koa.method !== 'POST' || !paths.includes(koa.path) || !koa.is('application/x-www-form-urlencoded')) return next();
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of koa.req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > FORM_LIMIT) break;
      chunks.push(chunk);
    }
    let body = Buffer.concat(chunks);
    const form = new URLSearchParams(body.toString('utf8'));
    const tokens = form.getAll('token');
    if (size <= FORM_LIMIT && tokens.length === 1 && JWT_SHAPE.test(tokens[0]!)) {
      form.set('token', (await jtiOf(tokens[0]!)) ?? 'not-a-token');
      body = Buffer.from(form.toString(), 'utf8');
    }
    const replay = Readable.from([body]);
    // The provider's parser reads req.readable, req.iterator() and the content-length.
    Object.defineProperty(koa.req, 'readable', { value: true, configurable: true });
    Object.defineProperty(koa.req, 'iterator', { value: replay.iterator.bind(replay), configurable: true });
    koa.req.headers['content-length'] = String(body.length);
    return next();
  };
}
