// Common steps: register a user, sign in, read a row.
import { randomBytes } from 'node:crypto';
import type { ApiClient } from './app.js';

export const PASSWORD = 'correct horse battery staple';

export const uniqueEmail = (prefix = 'user'): string => `${prefix}-${randomBytes(4).toString('hex')}@example.com`;

export interface SignedInUser {
  id: string;
  email: string;
  password: string;
  accessToken: string;
  refreshToken: string;
}

export async function registerUser(api: ApiClient, overrides: Record<string, unknown> = {}) {
  const body = { email: uniqueEmail(), password: PASSWORD, name: 'Test User', ...overrides };
  const response = await api.post('/auth/register', body);
  if (response.status !== 201) throw new Error(`register failed: ${response.status} ${JSON.stringify(response.body)}`);
  return { user: response.body, email: body.email as string, password: body.password as string };
}

export async function signIn(api: ApiClient, email: string, password = PASSWORD): Promise<{ accessToken: string; refreshToken: string }> {
  const response = await api.post('/auth/login/json', { email, password });
  if (response.status !== 200) throw new Error(`login failed: ${response.status} ${JSON.stringify(response.body)}`);
  return { accessToken: response.body.access_token, refreshToken: response.body.refresh_token };
}

export async function registerAndSignIn(api: ApiClient, overrides: Record<string, unknown> = {}): Promise<SignedInUser> {
  const { user, email, password } = await registerUser(api, overrides);
  const tokens = await signIn(api, email, password);
  return { id: user.id, email, password, ...tokens };
}
