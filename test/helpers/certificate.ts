// Self-signed X.509 certificates built with node:crypto (DER by hand): the test OpenID
// provider's TLS certificate (P-256, for an IP address) and the test SAML identity provider's
// signing certificate (RSA, as SAML tools expect).
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';

export interface CertificateOptions {
  commonName: string;
  keyType: 'ec' | 'rsa';
  /** An IPv4 address for subjectAltName (TLS). */
  ip?: string;
  /** Days of validity, from a minute ago. */
  days?: number;
}

export function selfSignedCertificate(options: CertificateOptions): { key: string; cert: string; certBase64: string } {
  const { privateKey, publicKey } =
    options.keyType === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const algorithm = options.keyType === 'ec' ? seq(oid('1.2.840.10045.4.3.2')) : seq(oid('1.2.840.113549.1.1.11'), tlv(0x05));
  const name = seq(tlv(0x31, seq(oid('2.5.4.3'), tlv(0x0c, Buffer.from(options.commonName)))));
  const now = Date.now();
  const extensions = [seq(oid('2.5.29.19'), tlv(0x04, seq(tlv(0x01, Buffer.from([0xff])))))]; // basicConstraints: CA
  if (options.ip) extensions.push(seq(oid('2.5.29.17'), tlv(0x04, seq(tlv(0x87, Buffer.from(options.ip.split('.').map(Number))))))); // subjectAltName: IP
  const tbs = seq(
    tlv(0xa0, tlv(0x02, Buffer.from([2]))), // v3
    tlv(0x02, serialNumber()),
    algorithm,
    name,
    seq(utcTime(new Date(now - 60_000)), utcTime(new Date(now + (options.days ?? 1) * 86_400_000))),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
    tlv(0xa3, seq(...extensions)),
  );
  const signature = options.keyType === 'ec' ? sign('sha256', tbs, { key: privateKey, dsaEncoding: 'der' }) : sign('sha256', tbs, privateKey);
  const der = seq(tbs, algorithm, tlv(0x03, Buffer.concat([Buffer.from([0]), signature])));
  const certBase64 = der.toString('base64');
  return {
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    cert: `-----BEGIN CERTIFICATE-----\n${certBase64.replace(/.{64}/g, '$&\n').trimEnd()}\n-----END CERTIFICATE-----\n`,
    certBase64,
  };
}

/** A positive, minimally encoded INTEGER (DER forbids a needless leading zero byte). */
function serialNumber(): Buffer {
  const serial = randomBytes(8);
  serial[0] = (serial[0]! & 0x7f) | 0x40;
  return serial;
}

function tlv(tag: number, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  if (body.length < 0x80) return Buffer.concat([Buffer.from([tag, body.length]), body]);
  const length = Buffer.from(body.length.toString(16).padStart(body.length > 0xff ? 4 : 2, '0'), 'hex');
  return Buffer.concat([Buffer.from([tag, 0x80 | length.length]), length, body]);
}

const seq = (...parts: Buffer[]): Buffer => tlv(0x30, ...parts);

function oid(dotted: string): Buffer {
  const [first = 0, second = 0, ...rest] = dotted.split('.').map(Number);
  const bytes = [first * 40 + second];
  for (const arc of rest) {
    const base128 = [arc & 0x7f];
    for (let value = arc >> 7; value > 0; value >>= 7) base128.unshift((value & 0x7f) | 0x80);
    bytes.push(...base128);
  }
  return tlv(0x06, Buffer.from(bytes));
}

function utcTime(date: Date): Buffer {
  const text = date.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z';
  return tlv(0x17, Buffer.from(text));
}
