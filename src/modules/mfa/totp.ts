// TOTP (RFC 6238) with the parameters every authenticator app defaults to: HMAC-SHA-1, 6 digits,
// 30-second steps, one step of drift either way, a 160-bit secret. The arithmetic is otpauth's;
// which step a code matched is returned so the caller can refuse a second use of it.
import { Secret, TOTP } from 'otpauth';

export const TOTP_PERIOD_SECONDS = 30;
export const TOTP_DIGITS = 6;
/** Steps of clock drift accepted either side of now. */
export const TOTP_WINDOW = 1;
const SECRET_BYTES = 20;

/** A fresh secret, base32 (what authenticator apps take). */
export const newTotpSecret = (): string => new Secret({ size: SECRET_BYTES }).base32;

export const totpStep = (at: Date): number => Math.floor(at.getTime() / 1000 / TOTP_PERIOD_SECONDS);

/** The code for `at` (tests, and the RFC's vectors with 8 digits). */
export function totpCode(secret: Secret | string, at: Date, digits = TOTP_DIGITS): string {
  const key = typeof secret === 'string' ? Secret.fromBase32(secret) : secret;
  return TOTP.generate({ secret: key, algorithm: 'SHA1', digits, period: TOTP_PERIOD_SECONDS, timestamp: at.getTime() });
}

/** The time step `code` belongs to within the window around `at`, or null. */
export function matchTotpStep(secretBase32: string, code: string, at: Date): number | null {
  if (!/^\d{6}$/.test(code)) return null;
  const delta = TOTP.validate({
    token: code,
    secret: Secret.fromBase32(secretBase32),
    algorithm: 'SHA1',
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD_SECONDS,
    timestamp: at.getTime(),
    window: TOTP_WINDOW,
  });
  return delta === null ? null : totpStep(at) + delta;
}

/** The otpauth:// URI an authenticator app scans as a QR code. */
export function otpauthUrl(secretBase32: string, issuer: string, label: string): string {
  return new TOTP({
    issuer,
    label,
    secret: Secret.fromBase32(secretBase32),
    algorithm: 'SHA1',
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD_SECONDS,
  }).toString();
}
