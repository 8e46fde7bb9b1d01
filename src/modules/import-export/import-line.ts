// One line of an import file: its schema (the contract's "Import and export" line) and the
// checks a line passes before anything is written. A line that fails gets one reason, shown
// as `line N: reason`; the rest of the file goes on.
import { createRequire } from 'node:module';
import { Type, type Static } from '@sinclair/typebox';
import type { Ajv as AjvInstance, ErrorObject, ValidateFunction } from 'ajv';
import { formatsPlugin } from '../../http/ajv-formats.js';
import { DateTime, Email, FreeText, Nullable } from '../../http/schema-types.js';
import { normalizeEmail } from '../../lib/email-address.js';
import { importFloorReason, inspectPasswordHash } from '../../lib/password-formats.js';
import { INVITE_CODE_RULES } from '../invites/invite-codes.service.js';
import type { AccountRole } from '../accounts/create-user.js';

const PersonName = FreeText({ minLength: 1, maxLength: 200, pattern: '\\S' });
const SUBSCRIPTION_STATUSES = ['trialing', 'active', 'past_due', 'canceled'] as const;

export const ImportLineSchema = Type.Object(
  {
    email: Email,
    name: PersonName,
    password_hash: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 1024 }))),
    /** true, or when it was verified (what export writes, so the time survives a round trip). */
    email_verified: Type.Optional(Type.Union([Type.Boolean(), DateTime])),
    role: Type.Optional(Type.Union([Type.Literal('engineer'), Type.Literal('admin')])),
    account: Type.Optional(
      Type.Object(
        {
          key: FreeText({ minLength: 1, maxLength: 200 }),
          name: FreeText({ minLength: 1, maxLength: 200, pattern: '\\S' }),
          plan: Type.Optional(Type.String({ pattern: INVITE_CODE_RULES.planPattern })),
          status: Type.Optional(Type.Union(SUBSCRIPTION_STATUSES.map((status) => Type.Literal(status)))),
          period_end: Type.Optional(Nullable(DateTime)),
        },
        { additionalProperties: false },
      ),
    ),
    account_role: Type.Optional(Type.Union([Type.Literal('owner'), Type.Literal('admin'), Type.Literal('member')])),
    oauth: Type.Optional(
      Type.Array(
        Type.Object(
          {
            provider: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' }),
            subject: Type.String({ minLength: 1, maxLength: 255 }),
            email: Type.Optional(Nullable(Type.String({ maxLength: 254 }))),
          },
          { additionalProperties: false },
        ),
        { maxItems: 20 },
      ),
    ),
    created_at: Type.Optional(DateTime),
    // Beyond the contract's list, so a Keyhold export loses nothing that matters when it comes
    // back: a deactivated user must not return active.
    is_active: Type.Optional(Type.Boolean()),
    must_change_password: Type.Optional(Type.Boolean()),
  },
  // An unknown field is refused rather than dropped: `password` instead of `password_hash`
  // would otherwise import a user without their password, silently.
  { additionalProperties: false },
);
export type ImportLineJson = Static<typeof ImportLineSchema>;

/** A line that passed every check that needs no database. */
export interface ImportRecord {
  line: number;
  email: string;
  name: string;
  passwordHash: string | null;
  emailVerifiedAt: Date | null;
  role: 'engineer' | 'admin';
  account: { key: string; name: string; plan?: string; status?: (typeof SUBSCRIPTION_STATUSES)[number]; periodEnd: Date | null } | null;
  /** Null: not given (a member of a named account; the owner of a personal one). */
  accountRole: AccountRole | null;
  oauth: Array<{ provider: string; subject: string; email: string | null }>;
  createdAt: Date | null;
  isActive: boolean;
  mustChangePassword: boolean;
}

export type LineResult = { ok: true; record: ImportRecord } | { ok: false; line: number; reason: string };

let validator: ValidateFunction<ImportLineJson> | undefined;
function validate(): ValidateFunction<ImportLineJson> {
  // The same Ajv, formats and keywords as the HTTP schemas (app.ts), so an email or a name
  // that the API refuses is refused here too.
  const Ajv = (createRequire(import.meta.url)('ajv') as { default: new (options: object) => AjvInstance }).default;
  validator ??= formatsPlugin(new Ajv({ allErrors: false, strict: false })).compile<ImportLineJson>(ImportLineSchema);
  return validator;
}

function describe(error: ErrorObject): string {
  const field = error.instancePath.slice(1).replace(/\//g, '.') || 'line';
  if (error.keyword === 'additionalProperties') {
    return `unknown field "${[field === 'line' ? '' : `${field}.`, (error.params as { additionalProperty: string }).additionalProperty].join('')}"`;
  }
  if (error.keyword === 'format' && error.params.format === 'email') return `${field}: not a valid email address`;
  if (error.keyword === 'x-plain-text') return `${field}: must not contain control characters, line breaks or bidirectional overrides`;
  if (error.keyword === 'enum' || error.keyword === 'const' || error.keyword === 'anyOf') return `${field}: not one of the allowed values`;
  return `${field}: ${error.message ?? 'invalid'}`;
}

const parseTime = (text: string): Date => new Date(text);

export function checkImportLine(text: string, line: number, now: Date): LineResult {
  const refuse = (reason: string): LineResult => ({ ok: false, line, reason });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return refuse('not valid JSON');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return refuse('not a JSON object');
  const check = validate();
  if (!check(json)) return refuse(describe(check.errors![0]!));

  if (json.password_hash) {
    const inspected = inspectPasswordHash(json.password_hash);
    if (!inspected.ok) return refuse(`password_hash: ${inspected.reason}`);
    const tooWeak = importFloorReason(json.password_hash);
    if (tooWeak) return refuse(`password_hash: ${tooWeak}`);
  }
  const createdAt = json.created_at === undefined ? null : parseTime(json.created_at);
  if (createdAt && createdAt.getTime() > now.getTime() + 60_000) return refuse('created_at: in the future');
  if (!json.account && json.account_role && json.account_role !== 'owner') {
    return refuse('account_role: a user without an account owns their personal one (give account to make them an admin or member)');
  }
  const pairs = new Set<string>();
  for (const identity of json.oauth ?? []) {
    const pair = `${identity.provider}\u0000${identity.subject}`;
    if (pairs.has(pair)) return refuse(`oauth: ${identity.provider} identity ${JSON.stringify(identity.subject)} given twice`);
    pairs.add(pair);
  }
  const verified = json.email_verified;
  return {
    ok: true,
    record: {
      line,
      email: normalizeEmail(json.email),
      name: json.name,
      passwordHash: json.password_hash ?? null,
      emailVerifiedAt: verified === undefined || verified === false ? null : verified === true ? (createdAt ?? now) : parseTime(verified),
      role: json.role ?? 'engineer',
      account: json.account
        ? {
            key: json.account.key,
            name: json.account.name,
            ...(json.account.plan ? { plan: json.account.plan } : {}),
            ...(json.account.status ? { status: json.account.status } : {}),
            periodEnd: json.account.period_end ? parseTime(json.account.period_end) : null,
          }
        : null,
      accountRole: json.account_role ?? null,
      oauth: (json.oauth ?? []).map((identity) => ({ provider: identity.provider, subject: identity.subject, email: identity.email ? normalizeEmail(identity.email) : null })),
      createdAt,
      isActive: json.is_active ?? true,
      mustChangePassword: json.must_change_password ?? false,
    },
  };
}
