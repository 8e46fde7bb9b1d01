// SCIM test helpers: a client for /scim/v2 speaking application/scim+json, and token set-up.
import assert from 'node:assert/strict';
import { readReply, type ApiResponse, type TestApp } from './app.js';

export const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';

export class ScimClient {
  constructor(
    readonly base: string,
    readonly token: string,
  ) {}

  async request<T = any>(method: string, path: string, body?: unknown, contentType = 'application/scim+json'): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}`, accept: 'application/scim+json' };
    if (body !== undefined) headers['content-type'] = contentType;
    return readReply<T>(await fetch(`${this.base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }));
  }
  get<T = any>(path: string) {
    return this.request<T>('GET', path);
  }
  post<T = any>(path: string, body: unknown) {
    return this.request<T>('POST', path, body);
  }
  put<T = any>(path: string, body: unknown) {
    return this.request<T>('PUT', path, body);
  }
  patch<T = any>(path: string, operations: unknown[]) {
    return this.request<T>('PATCH', path, { schemas: [PATCH_OP], Operations: operations });
  }
  delete<T = any>(path: string) {
    return this.request<T>('DELETE', path);
  }
  /** GET /Users?filter=… with the filter URL-encoded. */
  filterUsers<T = any>(filter: string, extra = '') {
    return this.get<T>(`/Users?filter=${encodeURIComponent(filter)}${extra}`);
  }
}

/** A new SCIM token of the account `accessToken`'s user manages, and a client using it. */
export async function scimClientFor(t: TestApp, accessToken: string, description = 'test'): Promise<ScimClient & { tokenId: string }> {
  const created = await t.api.post('/accounts/me/scim-tokens', { description }, accessToken);
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return Object.assign(new ScimClient(`${t.baseUrl}/scim/v2`, created.body.token), { tokenId: created.body.id as string });
}

/** Asserts a reply in the SCIM error schema. */
export function assertScimError(response: ApiResponse, status: number, scimType?: string): void {
  assert.equal(response.status, status, JSON.stringify(response.body));
  assert.deepEqual(response.body.schemas, [ERROR]);
  assert.equal(response.body.status, String(status));
  if (scimType) assert.equal(response.body.scimType, scimType);
  assert.equal(typeof response.body.detail, 'string');
  assert.match(response.headers.get('content-type') ?? '', /^application\/scim\+json/);
}

export const scimUser = (userName: string, extra: Record<string, unknown> = {}) => ({
  schemas: [USER],
  userName,
  active: true,
  ...extra,
});
