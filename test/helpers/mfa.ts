// MFA steps shared by the MFA tests: enrol a signed-in user in TOTP at the test clock's time.
import assert from 'node:assert/strict';
import { totpCode } from '../../src/modules/mfa/totp.js';
import type { ApiClient } from './app.js';
import type { FakeClock } from './clock.js';

export interface Enrolled {
  secret: string;
  recoveryCodes: string[];
}

/** The current code of `secret` at the clock's time. */
export const codeAt = (secret: string, clock: FakeClock, stepOffset = 0): string =>
  totpCode(secret, new Date(clock.now().getTime() + stepOffset * 30_000));

/** Setup and enable; moves the clock one step on, so the enabling code's step is spent and the next is free. */
export async function enrolTotp(api: ApiClient, clock: FakeClock, accessToken: string): Promise<Enrolled> {
  const setup = await api.post('/auth/mfa/totp/setup', {}, accessToken);
  assert.equal(setup.status, 200, JSON.stringify(setup.body));
  const enable = await api.post('/auth/mfa/totp/enable', { code: codeAt(setup.body.secret, clock) }, accessToken);
  assert.equal(enable.status, 200, JSON.stringify(enable.body));
  clock.advanceSeconds(30);
  return { secret: setup.body.secret, recoveryCodes: enable.body.recovery_codes };
}

/** A password sign-in of an enrolled user: the mfa_token. */
export async function passwordFirstFactor(api: ApiClient, email: string, password: string): Promise<string> {
  const login = await api.post('/auth/login/json', { email, password });
  assert.equal(login.status, 200, JSON.stringify(login.body));
  assert.equal(login.body.mfa_required, true);
  assert.equal(login.body.access_token, undefined);
  return login.body.mfa_token;
}
