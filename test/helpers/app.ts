// Builds the real app on a fresh database, listening on loopback, and a small HTTP client.
import { Writable } from 'node:stream';
import { buildApp, type App, type AppDeps } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import type { DatabaseHandle } from '../../src/db/database.js';
import type { PasswordHasher } from '../../src/lib/passwords.js';
import { FakeClock } from './clock.js';
import { createTestDatabase, openMemoryDatabase, type DatabaseKind, type TestDatabase } from './database.js';
import { createTestHasher } from './hasher.js';

export interface TestAppOptions {
  env?: Record<string, string>;
  clock?: FakeClock;
  database?: TestDatabase;
  sharedDatabase?: DatabaseHandle;
  /**
   * The password hasher. Default: a fresh cheap one (helpers/hasher.ts); 'argon2' for the
   * app's own argon2id, for tests about hashing itself.
   */
  passwords?: PasswordHasher | 'argon2';
  /** A fresh in-memory database opened by the app itself (PGlite's own initdb), not unpacked
   *  from the cached cluster: keeps that production path tested. */
  appOpensDatabase?: boolean;
  /** The port to listen on (default: any free one); for a PUBLIC_URL known before the start. */
  port?: number;
  /** Webhook delivery timing and name resolution (short retry delays, a fake resolver). */
  webhooks?: AppDeps['webhooks'];
  /** What SCIM learns from enterprise SSO (verified domains, a connection). */
  identityFacts?: AppDeps['identityFacts'];
}

export interface TestApp {
  app: App;
  api: ApiClient;
  clock: FakeClock;
  database: TestDatabase;
  baseUrl: string;
  /** Every log line the app wrote, parsed. */
  logs: string[];
  close(): Promise<void>;
}

export const TEST_ENV: Record<string, string> = {
  LOG_LEVEL: 'info',
  RATE_LIMIT_ENABLED: 'false',
  FRONTEND_URL: 'http://frontend.test',
  PORT: '0',
};

export async function startTestApp(kind: DatabaseKind, options: TestAppOptions = {}): Promise<TestApp> {
  const database = options.database ?? (await createTestDatabase(kind));
  const clock = options.clock ?? new FakeClock();
  const logs: string[] = [];
  const logStream = new Writable({
    write(chunk, _encoding, callback) {
      logs.push(String(chunk));
      callback();
    },
  });
  const config = loadConfig({ ...TEST_ENV, ...database.env, ...options.env });
  // A fresh in-memory database is unpacked from a cached cluster rather than initdb'd (see
  // openMemoryDatabase); the app then migrates it as usual.
  const memory =
    !options.sharedDatabase && !options.appOpensDatabase && config.databaseUrl === undefined && config.dataDir.startsWith('memory://')
      ? await openMemoryDatabase()
      : undefined;
  const passwords = options.passwords === 'argon2' ? undefined : (options.passwords ?? createTestHasher());
  let app: App;
  try {
    app = await buildApp(config, { clock, logStream, database: options.sharedDatabase ?? memory, passwords, webhooks: options.webhooks, identityFacts: options.identityFacts });
  } catch (err) {
    await memory?.close();
    throw err;
  }
  await app.listen({ host: '127.0.0.1', port: options.port ?? 0 });
  const address = app.server.address();
  const baseUrl = typeof address === 'object' && address ? `http://127.0.0.1:${address.port}` : '';
  const ownsDatabase = options.database === undefined;
  return {
    app,
    api: new ApiClient(`${baseUrl}${config.apiPrefix}`),
    clock,
    database,
    baseUrl,
    logs,
    async close() {
      await app.close();
      await memory?.close();
      if (ownsDatabase) await database.drop();
    },
  };
}

export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/** A reply's status, headers and body: parsed as JSON where it is, else the text. */
export async function readReply<T = any>(response: Response): Promise<ApiResponse<T>> {
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, body: parsed as T, headers: response.headers };
}

export class ApiClient {
  constructor(readonly base: string) {}

  async request<T = any>(
    method: string,
    path: string,
    options: { json?: unknown; form?: Record<string, string>; token?: string; headers?: Record<string, string>; raw?: string } = {},
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...options.headers };
    let body: string | undefined;
    if (options.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.json);
    } else if (options.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(options.form).toString();
    } else if (options.raw !== undefined) {
      headers['content-type'] ??= 'application/json';
      body = options.raw;
    }
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    return readReply<T>(await fetch(`${this.base}${path}`, { method, headers, body }));
  }

  get<T = any>(path: string, token?: string) {
    return this.request<T>('GET', path, { token });
  }
  post<T = any>(path: string, json?: unknown, token?: string) {
    return this.request<T>('POST', path, { json: json ?? {}, token });
  }
  patch<T = any>(path: string, json: unknown, token?: string) {
    return this.request<T>('PATCH', path, { json, token });
  }
  put<T = any>(path: string, json: unknown, token?: string) {
    return this.request<T>('PUT', path, { json, token });
  }
  delete<T = any>(path: string, token?: string) {
    return this.request<T>('DELETE', path, { token });
  }
}
