// The scale-out test's mixed load: virtual users, each repeating one person's visit through the
// load balancer (register, sign in, /auth/me, refresh, two refreshes at once as two tabs do,
// password reset by email, sign in again, log out), every request recorded with its status and
// latency against the status the contract gives it.
//
// Each visit comes from an address of its own (X-Forwarded-For, trusted from the balancer): the
// per-IP rate limits stay on, with their counters shared in Redis, and a visit keeps to them.
import { randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import { PASSWORD, uniqueEmail } from './fixtures.js';
import { isResetEmail, tokenFromLink, type TestSmtpServer } from './smtp.js';

export interface Sample {
  name: string;
  status: number;
  ms: number;
  expected: number;
  /** Why it counts as a failure (wrong status, network error, broken contract). */
  problem?: string;
}

export class LoadRecord {
  readonly samples: Sample[] = [];
  /** Failures other than a request's status (an email that never came, a contract broken). */
  readonly problems: string[] = [];
  visits = 0;

  failures(): Sample[] {
    return this.samples.filter((s) => s.problem !== undefined);
  }

  /** Requests by status, and p50/p99 latency by request name and overall. */
  figures(): { requests: number; byStatus: Record<string, number>; latency: Record<string, { n: number; p50: number; p99: number }> } {
    const byStatus: Record<string, number> = {};
    const byName = new Map<string, number[]>();
    for (const s of this.samples) {
      byStatus[s.status] = (byStatus[s.status] ?? 0) + 1;
      byName.set(s.name, [...(byName.get(s.name) ?? []), s.ms]);
    }
    byName.set('all', this.samples.map((s) => s.ms));
    const latency: Record<string, { n: number; p50: number; p99: number }> = {};
    for (const [name, values] of byName) {
      const sorted = [...values].sort((a, b) => a - b);
      const at = (q: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0);
      latency[name] = { n: sorted.length, p50: at(0.5), p99: at(0.99) };
    }
    return { requests: this.samples.length, byStatus, latency };
  }
}

/** A fresh client address (10.0.0.0/8, random: counters of an earlier run may still be live in Redis). */
export const randomClientIp = (): string => `10.${[...randomBytes(3)].join('.')}`;

export interface Call {
  method?: string;
  path: string;
  json?: unknown;
  token?: string;
  ip: string;
  expected: number;
}

/** One request, recorded. Resolves with the status and parsed body (or undefined). */
export async function call(record: LoadRecord, base: string, name: string, c: Call): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = { 'x-forwarded-for': c.ip };
  if (c.json !== undefined) headers['content-type'] = 'application/json';
  if (c.token) headers.authorization = `Bearer ${c.token}`;
  const started = performance.now();
  let status = 0;
  let body: any;
  let problem: string | undefined;
  try {
    const res = await fetch(`${base}${c.path}`, {
      method: c.method ?? (c.json === undefined ? 'GET' : 'POST'),
      headers,
      body: c.json === undefined ? undefined : JSON.stringify(c.json),
    });
    status = res.status;
    const text = await res.text();
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = text;
    }
    if (status !== c.expected) problem = `${c.method ?? ''} ${c.path}: ${status} ${text.slice(0, 200)}`;
  } catch (err) {
    problem = `${c.path}: ${(err as Error).message} ${String((err as { cause?: unknown }).cause ?? '')}`;
  }
  record.samples.push({ name, status, ms: performance.now() - started, expected: c.expected, problem });
  return { status, body };
}

export interface VisitDeps {
  record: LoadRecord;
  /** The load balancer. */
  base: string;
  api: string;
  smtp: TestSmtpServer;
  /** Every so many visits, two refreshes of one token at once. */
  raceEvery: number;
}

/** One person's visit; anything off is recorded (never thrown), so the load goes on. */
export async function visit(deps: VisitDeps, n: number): Promise<void> {
  const { record, base, api } = deps;
  const ip = randomClientIp();
  const email = uniqueEmail('scale');
  const at = (path: string) => `${api}${path}`;
  record.visits++;

  const registered = await call(record, base, 'register', { path: at('/auth/register'), json: { email, password: PASSWORD, name: 'Scale' }, ip, expected: 201 });
  if (registered.status !== 201) return;
  let tokens = (await call(record, base, 'login', { path: at('/auth/login/json'), json: { email, password: PASSWORD }, ip, expected: 200 })).body;
  if (!tokens?.access_token) return;
  await call(record, base, 'me', { path: at('/auth/me'), token: tokens.access_token, ip, expected: 200 });
  const refreshed = await call(record, base, 'refresh', { path: at('/auth/refresh'), json: { refresh_token: tokens.refresh_token }, ip, expected: 200 });
  if (refreshed.status !== 200) return;
  tokens = refreshed.body;

  if (n % deps.raceEvery === 0) {
    // Two tabs refresh one token at once (through different instances): both get the one child.
    const both = await Promise.all(
      [0, 1].map(() => call(record, base, 'refresh-race', { path: at('/auth/refresh'), json: { refresh_token: tokens.refresh_token }, ip, expected: 200 })),
    );
    if (both.every((r) => r.status === 200)) {
      const [a, b] = both.map((r) => decodeJwt(r.body.refresh_token as string).jti);
      if (a !== b) record.problems.push(`two concurrent refreshes of one token got two children (${a}, ${b})`);
      tokens = both[0]!.body;
    }
  }
  await call(record, base, 'me', { path: at('/auth/me'), token: tokens.access_token, ip, expected: 200 });

  await call(record, base, 'forgot', { path: at('/auth/password/forgot'), json: { email }, ip, expected: 200 });
  let resetToken: string;
  try {
    resetToken = tokenFromLink(await deps.smtp.waitForMessage(email, 60_000, isResetEmail), '/reset-password');
  } catch (err) {
    record.problems.push(`password reset email: ${(err as Error).message}`);
    return;
  }
  const newPassword = `${PASSWORD} again`;
  await call(record, base, 'reset', { path: at('/auth/password/reset'), json: { token: resetToken, new_password: newPassword }, ip, expected: 200 });
  const again = await call(record, base, 'login', { path: at('/auth/login/json'), json: { email, password: newPassword }, ip, expected: 200 });
  if (again.status !== 200) return;
  await call(record, base, 'me', { path: at('/auth/me'), token: again.body.access_token, ip, expected: 200 });
  await call(record, base, 'logout', { path: at('/auth/logout'), json: { refresh_token: again.body.refresh_token }, ip, expected: 200 });
}

/** Runs `users` virtual users, each repeating visits until `until()` is false. */
export async function runLoad(deps: VisitDeps, users: number, until: () => boolean): Promise<void> {
  let n = 0;
  await Promise.all(
    Array.from({ length: users }, async () => {
      while (until()) await visit(deps, n++);
    }),
  );
}
