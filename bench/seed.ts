// Seeds users and live sessions through the public API, as clients would: register, then
// log in (each login starts one session: one refresh token and one access token).
export const API_PREFIX = '/api/v1';
export const BENCH_PASSWORD = 'bench-password-1';

export interface Credentials {
  email: string;
  password: string;
}

export interface Session {
  accessToken: string;
  refreshToken: string;
}

export interface SeededData {
  users: Credentials[];
  sessions: Session[];
}

export async function postJson(baseUrl: string, path: string, body: unknown): Promise<{ status: number; json: unknown }> {
  const response = await fetch(`${baseUrl}${API_PREFIX}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : null };
}

let emailCounter = 0;
/** Unique across the whole bench process (register runs also draw from it). */
export const benchEmail = (runId: string, prefix = 'user'): string => `bench-${prefix}-${runId}-${++emailCounter}@example.com`;

export async function register(baseUrl: string, user: Credentials): Promise<void> {
  const { status, json } = await postJson(baseUrl, '/auth/register', { ...user, name: 'Bench User' });
  if (status !== 201) throw new Error(`register answered ${status}: ${JSON.stringify(json)}`);
}

export async function login(baseUrl: string, user: Credentials): Promise<Session> {
  const { status, json } = await postJson(baseUrl, '/auth/login/json', user);
  if (status !== 200) throw new Error(`login answered ${status}: ${JSON.stringify(json)}`);
  const body = json as { access_token: string; refresh_token: string };
  return { accessToken: body.access_token, refreshToken: body.refresh_token };
}

/** Runs `work` over the items with at most `concurrency` in flight (argon2 is the limit). */
export async function inParallel<T, R>(items: T[], concurrency: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await work(items[index]!);
      }
    }),
  );
  return results;
}

export async function seed(
  baseUrl: string,
  options: { runId: string; users: number; sessionsPerUser: number; concurrency: number },
): Promise<SeededData> {
  const users = Array.from({ length: options.users }, () => ({ email: benchEmail(options.runId), password: BENCH_PASSWORD }));
  await inParallel(users, options.concurrency, (user) => register(baseUrl, user));
  const logins = users.flatMap((user) => Array.from({ length: options.sessionsPerUser }, () => user));
  const sessions = await inParallel(logins, options.concurrency, (user) => login(baseUrl, user));
  return { users, sessions };
}
