// A small browser stand-in for the hosted pages without a browser: keeps cookies, follows
// nothing by itself, and reads the CSRF token of the last page it fetched.
import assert from 'node:assert/strict';
import { PASSWORD } from './fixtures.js';
export interface PageResponse {
  status: number;
  location: string | null;
  html: string;
  setCookies: string[];
}

export class PageClient {
  readonly cookies = new Map<string, string>();
  csrfToken = '';

  constructor(readonly baseUrl: string) {}

  async get(path: string): Promise<PageResponse> {
    return this.send('GET', path);
  }

  /** Posts a form with the token of the last page fetched (unless `_csrf` is given). */
  async post(path: string, form: Record<string, string>): Promise<PageResponse> {
    return this.send('POST', path, new URLSearchParams({ _csrf: this.csrfToken, ...form }).toString());
  }

  /** Posts JSON as the pages' passkey script does (the token of the last page in the body). */
  async postJson(path: string, body: Record<string, unknown>): Promise<PageResponse & { json: Record<string, any> }> {
    const response = await this.send('POST', path, JSON.stringify({ _csrf: this.csrfToken, ...body }), 'application/json');
    let json: Record<string, any> = {};
    try {
      json = JSON.parse(response.html) as Record<string, any>;
    } catch {
      // Not JSON: the test looks at html.
    }
    return { ...response, json };
  }

  /** GETs `path` and follows redirects within the site, as a browser would. */
  async open(path: string): Promise<PageResponse> {
    let response = await this.get(path);
    for (let hops = 0; response.location && hops < 5; hops++) response = await this.get(response.location);
    return response;
  }

  private async send(method: string, path: string, body?: string, contentType = 'application/x-www-form-urlencoded'): Promise<PageResponse> {
    const headers: Record<string, string> = {};
    if (this.cookies.size > 0) headers.cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    if (body !== undefined) headers['content-type'] = contentType;
    const response = await fetch(new URL(path, this.baseUrl), { method, headers, body, redirect: 'manual' });
    const setCookies = response.headers.getSetCookie();
    for (const line of setCookies) {
      const [pair, ...attributes] = line.split(';');
      const [name, ...rest] = pair!.split('=');
      const value = rest.join('=');
      const expired = attributes.some((a) => /^\s*max-age=0\s*$/i.test(a) || /^\s*expires=Thu, 01 Jan 1970/i.test(a));
      if (expired || value === '') this.cookies.delete(name!.trim());
      else this.cookies.set(name!.trim(), value);
    }
    const html = await response.text();
    const token = contentType === 'application/json' ? null : /name="_csrf" value="([^"]+)"/.exec(html);
    if (token) this.csrfToken = token[1]!;
    return { status: response.status, location: response.headers.get('location'), html, setCookies };
  }
}

/** A new browser signed in on the pages with a password: on its way to /ui/account. */
export async function pageSignIn(baseUrl: string, email: string, password = PASSWORD): Promise<PageClient> {
  const browser = new PageClient(baseUrl);
  await browser.get('/ui/sign-in');
  const response = await browser.post('/ui/sign-in', { email, password });
  assert.equal(response.status, 303);
  assert.equal(response.location, '/ui/account');
  return browser;
}
