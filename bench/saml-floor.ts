// What @node-saml/node-saml itself costs on the SAML response bench/sso.ts posts (issue 28: a
// SAML response under 5 ms of server CPU): validatePostResponseAsync alone, on one SAML
// instance configured as src/modules/sso/saml.ts configures it, with the request store in
// memory (no database). That is the library's floor: the ACS cannot cost less than this.
//
//   npx tsx bench/saml-floor.ts [--ops 400] [--rounds 5]
//
// The responses are made by the test IdP (test/helpers/saml-idp.ts): RSA-2048 keys, RSA-SHA256
// signatures with SHA-256 digests and exclusive c14n, as real IdPs (Entra ID, Okta, ADFS,
// Google, Shibboleth) sign by default. Signed beforehand: only the SP's work is timed. CPU of
// this process per response (process.cpuUsage), the median of the rounds.
import { createPublicKey, createVerify, generateKeyPairSync, sign } from 'node:crypto';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { SAML, ValidateInResponseTo, type CacheProvider, type SamlConfig } from '@node-saml/node-saml';
import { TestSamlIdp, base64, newId } from '../test/helpers/saml-idp.js';

const { values: args } = parseArgs({ options: { ops: { type: 'string', default: '400' }, rounds: { type: 'string', default: '5' } } });
const OPS = Number(args.ops);
const ROUNDS = Number(args.rounds);

const idp = new TestSamlIdp('https://idp.bench/saml', 'https://idp.bench/saml/sso');
const ACS = 'http://127.0.0.1:8000/api/v1/auth/sso/saml/00000000-0000-4000-8000-000000000000/acs';
const AUDIENCE = 'http://127.0.0.1:8000/api/v1/auth/sso/saml/00000000-0000-4000-8000-000000000000/metadata';
const pem = (b64: string): string => `-----BEGIN CERTIFICATE-----\n${b64.match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;

// Every response answers a request this store knows (as the flows table would).
const store: CacheProvider = {
  saveAsync: async () => null,
  getAsync: async () => new Date().toISOString(),
  removeAsync: async () => null,
};
const samlOptions: SamlConfig = {
  entryPoint: idp.ssoUrl,
  issuer: AUDIENCE,
  callbackUrl: ACS,
  audience: AUDIENCE,
  idpCert: [pem(idp.certBase64)],
  idpIssuer: idp.entityId,
  wantAssertionsSigned: false,
  wantAuthnResponseSigned: false,
  acceptedClockSkewMs: 120_000,
  validateInResponseTo: ValidateInResponseTo.ifPresent,
  requestIdExpirationPeriodMs: 600_000,
  cacheProvider: store,
  identifierFormat: null,
  disableRequestedAuthnContext: true,
};

// The claims Microsoft Entra ID sends by default (besides the email), for a response of the
// size real IdPs send (about 5.3 KB rather than 3.9).
const ENTRA_CLAIMS = [
  ['http://schemas.microsoft.com/identity/claims/tenantid', '3f1c2a9e-5b7d-4c1e-9a8b-2d6f0e4c7a15'],
  ['http://schemas.microsoft.com/identity/claims/objectidentifier', '9b2e4f6a-1c3d-4e5f-8a7b-6c5d4e3f2a1b'],
  ['http://schemas.microsoft.com/identity/claims/displayname', 'Person Bench'],
  ['http://schemas.microsoft.com/identity/claims/identityprovider', 'https://sts.windows.net/3f1c2a9e-5b7d-4c1e-9a8b-2d6f0e4c7a15/'],
  ['http://schemas.microsoft.com/claims/authnmethodsreferences', 'http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/password'],
  ['http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname', 'Person'],
  ['http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname', 'Bench'],
  ['http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name', 'person@bench.test'],
];
const entraAttributes = ENTRA_CLAIMS.map(([name, value]) => `<saml:Attribute Name="${name}"><saml:AttributeValue>${value}</saml:AttributeValue></saml:Attribute>`).join('');

function responses(what: { assertion?: boolean; response?: boolean }, claims = false): string[] {
  return Array.from({ length: OPS }, (_, i) => {
    const email = `person${i}@bench-${i}.test`;
    let xml = idp.response({ inResponseTo: newId(), nameId: email, email, acsUrl: ACS, audience: AUDIENCE });
    if (claims) xml = xml.replace('</saml:AttributeStatement>', `${entraAttributes}</saml:AttributeStatement>`);
    return base64(idp.sign(xml, what));
  });
}

/** CPU microseconds per call of `run` over `inputs`, the median of ROUNDS rounds (fresh inputs each round). */
async function cpuPerOp<T>(make: () => T[], run: (input: T) => Promise<unknown> | unknown): Promise<number> {
  const figures: number[] = [];
  for (const input of make().slice(0, 30)) await run(input); // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    const inputs = make();
    const start = process.cpuUsage();
    for (const input of inputs) await run(input);
    const used = process.cpuUsage(start);
    figures.push((used.user + used.system) / inputs.length);
  }
  figures.sort((a, b) => a - b);
  return figures[Math.floor(figures.length / 2)]!;
}

const shared = new SAML(samlOptions);
const validate = (saml: SAML) => async (SAMLResponse: string) => {
  const { profile } = await saml.validatePostResponseAsync({ SAMLResponse });
  if (!profile) throw new Error('no profile');
};

const assertionSigned = () => responses({ assertion: true });
const rows: Array<[string, number]> = [];
rows.push(['validatePostResponseAsync, one SAML instance (the floor)', await cpuPerOp(assertionSigned, validate(shared))]);
rows.push(['  the same, a new SAML instance per response', await cpuPerOp(assertionSigned, (r) => validate(new SAML(samlOptions))(r))]);
rows.push(['  response and assertion both signed', await cpuPerOp(() => responses({ assertion: true, response: true }), validate(shared))]);
rows.push(['  response signed, assertion not', await cpuPerOp(() => responses({ response: true }), validate(shared))]);
rows.push(['  with Entra ID\'s default claims (5.3 KB), assertion signed', await cpuPerOp(() => responses({ assertion: true }, true), validate(shared))]);

// The pieces below it, for scale.
const requireCjs = createRequire(import.meta.url);
const { DOMParser } = requireCjs('@xmldom/xmldom') as { DOMParser: new () => { parseFromString(xml: string, type: string): unknown } };
const xmls = () => assertionSigned().map((r) => Buffer.from(r, 'base64').toString('utf8'));
rows.push(['one xmldom parse of the response', await cpuPerOp(xmls, (xml) => new DOMParser().parseFromString(xml, 'text/xml'))]);
const data = Buffer.alloc(600, 1);
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signature = sign('sha256', data, privateKey);
const certPem = pem(idp.certBase64);
const publicKey = createPublicKey(privateKey);
rows.push(['RSA-2048 SHA-256 verify, certificate PEM parsed each time', await cpuPerOp(() => Array.from({ length: OPS }, () => signature), (s) => createVerify('RSA-SHA256').update(data).verify(certPem, s))]);
rows.push(['RSA-2048 SHA-256 verify, key parsed once', await cpuPerOp(() => Array.from({ length: OPS }, () => signature), (s) => createVerify('RSA-SHA256').update(data).verify(publicKey, s))]);

const size = (r: string) => Buffer.from(r, 'base64').length;
console.log(`responses: ${size(assertionSigned()[0]!)} bytes (bench/sso.ts's), ${size(responses({ assertion: true }, true)[0]!)} bytes with Entra ID's claims`);
console.log(`node-saml floor, ${OPS} responses x ${ROUNDS} rounds, CPU of this process per response (median round), ${new Date().toISOString()}`);
for (const [label, us] of rows) console.log(`${(us / 1000).toFixed(3).padStart(7)} ms  ${label}`);
