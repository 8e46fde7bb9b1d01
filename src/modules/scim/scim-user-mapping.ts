// The edge between SCIM's User resource and Keyhold's user: what a POST/PUT body (or a PATCHed
// resource) means for the user row and the scim_users row, and the resource built back from
// them. Nothing below this file knows SCIM's shapes.
import { isValidEmail, MAX_EMAIL_LENGTH, normalizeEmail } from '../../lib/email-address.js';
import { Errors } from '../../lib/errors.js';
import { hasControlOrBidiCharacters } from '../../lib/plain-text.js';
import type { ScimUserRecord } from './scim.repo.js';
import { ENTERPRISE_USER_SCHEMA, USER_SCHEMA } from './scim-schemas.js';

/** Core attributes kept as sent (besides userName, externalId, displayName and active, which have columns). */
const KEPT_ATTRIBUTES = [
  'name', 'nickName', 'profileUrl', 'title', 'userType', 'preferredLanguage', 'locale', 'timezone',
  'emails', 'phoneNumbers', 'ims', 'photos', 'addresses', 'entitlements', 'roles', 'x509Certificates',
] as const;
/** Attribute names are case-insensitive (RFC 7643 §2.1): lower-case → canonical. */
const CANONICAL = new Map<string, string>(
  [...KEPT_ATTRIBUTES, 'userName', 'externalId', 'displayName', 'active', 'schemas', 'id', 'meta', 'groups', 'password'].map((n) => [n.toLowerCase(), n]),
);
const MULTI_VALUED = new Set(['emails', 'phoneNumbers', 'ims', 'photos', 'addresses', 'entitlements', 'roles', 'x509Certificates']);

const MAX_NAME = 200;
const MAX_SHORT = 256;

/** What a SCIM User body asks for, checked and normalised. */
export interface UserIntent {
  userName: string;
  externalId: string | null;
  displayName: string | null;
  active: boolean;
  /** The Keyhold user's address: trimmed, lower-cased, valid. */
  email: string;
  /** The Keyhold user's name. */
  name: string;
  phone: string | null;
  jobTitle: string | null;
  timezone: string | null;
  /** Stored as sent (case-normalised names): name, emails, …, the enterprise extension. */
  attributes: Record<string, unknown>;
}

const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

/** "True"/"False" as strings (Entra ID) count as booleans. */
export function toBoolean(value: unknown, attribute: string): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string' && /^(true|false)$/i.test(value.trim())) return value.trim().toLowerCase() === 'true';
  throw Errors.scimInvalidValue(`${attribute} must be a boolean`);
}

function optionalString(value: unknown, attribute: string, max = MAX_SHORT): string | null {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value !== 'string') throw Errors.scimInvalidValue(`${attribute} must be a string`);
  if (value.length > max || hasControlOrBidiCharacters(value)) throw Errors.scimInvalidValue(`${attribute} is too long or holds control characters`);
  return value;
}

/** A multi-valued attribute: an array of objects, `primary` a boolean (strings accepted). */
function multiValued(value: unknown, attribute: string): Array<Record<string, unknown>> {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw Errors.scimInvalidValue(`${attribute} must be an array`);
  return value.map((item) => {
    if (!isObject(item)) throw Errors.scimInvalidValue(`${attribute} must hold objects`);
    return item.primary === undefined ? { ...item } : { ...item, primary: toBoolean(item.primary, `${attribute}.primary`) };
  });
}

/** The primary element's `value`, else the first element's. */
function primaryValue(items: Array<Record<string, unknown>>): unknown {
  return (items.find((item) => item.primary === true && item.value !== undefined) ?? items.find((item) => item.value !== undefined))?.value;
}

/** Reads a POST/PUT body (or a PATCHed resource). Readonly attributes (id, meta, groups) and `password` are ignored. */
export function readUser(body: unknown): UserIntent {
  if (!isObject(body)) throw Errors.scimInvalidSyntax('The body must be a JSON object');
  const input: Record<string, unknown> = {};
  let enterprise: unknown;
  for (const [key, value] of Object.entries(body)) {
    if (key.toLowerCase() === ENTERPRISE_USER_SCHEMA.toLowerCase()) enterprise = value;
    else {
      const canonical = CANONICAL.get(key.toLowerCase());
      if (canonical) input[canonical] = value;
    }
  }
  if (input.schemas !== undefined) {
    const schemas = input.schemas;
    if (!Array.isArray(schemas) || !schemas.some((s) => typeof s === 'string' && s.toLowerCase() === USER_SCHEMA.toLowerCase())) {
      throw Errors.scimInvalidSyntax(`schemas must include ${USER_SCHEMA}`);
    }
  }
  const userName = optionalString(input.userName, 'userName');
  if (userName === null || userName.trim() === '') throw Errors.scimInvalidValue('userName is required');

  const attributes: Record<string, unknown> = {};
  for (const key of KEPT_ATTRIBUTES) {
    const value = input[key];
    if (value === undefined || value === null) continue;
    attributes[key] = MULTI_VALUED.has(key) ? multiValued(value, key) : value;
  }
  if (attributes.name !== undefined && !isObject(attributes.name)) throw Errors.scimInvalidValue('name must be an object');
  if (enterprise !== undefined && enterprise !== null) {
    if (!isObject(enterprise)) throw Errors.scimInvalidValue('The enterprise extension must be an object');
    attributes[ENTERPRISE_USER_SCHEMA] = normaliseEnterprise(enterprise);
  }

  const emails = (attributes.emails as Array<Record<string, unknown>> | undefined) ?? [];
  const email = chooseEmail(primaryValue(emails), userName);
  const displayName = optionalString(input.displayName, 'displayName', MAX_NAME);
  const name = keyholdName(attributes.name as Record<string, unknown> | undefined, displayName, userName);
  const phone = primaryValue((attributes.phoneNumbers as Array<Record<string, unknown>> | undefined) ?? []);
  return {
    userName,
    externalId: optionalString(input.externalId, 'externalId'),
    displayName,
    active: input.active === undefined || input.active === null ? true : toBoolean(input.active, 'active'),
    email,
    name,
    phone: optionalString(phone, 'phoneNumbers.value', 64),
    jobTitle: optionalString(attributes.title, 'title', MAX_NAME),
    timezone: optionalString(attributes.timezone, 'timezone', 64),
    attributes,
  };
}

/** The primary (else first) email; else userName when it is an address; else 400. */
function chooseEmail(fromEmails: unknown, userName: string): string {
  const candidate = typeof fromEmails === 'string' && fromEmails.trim() !== '' ? fromEmails : userName;
  const email = normalizeEmail(candidate);
  if (email.length > MAX_EMAIL_LENGTH || !isValidEmail(email)) {
    throw Errors.scimInvalidValue('No usable email address: give emails, or a userName that is an email address');
  }
  return email;
}

function keyholdName(name: Record<string, unknown> | undefined, displayName: string | null, userName: string): string {
  const formatted = typeof name?.formatted === 'string' ? name.formatted.trim() : '';
  const parts = [name?.givenName, name?.familyName].filter((p): p is string => typeof p === 'string' && p.trim() !== '').join(' ');
  const chosen = formatted || parts || displayName?.trim() || userName.trim();
  const clean = chosen.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]+/gu, ' ').trim();
  return (clean || userName).slice(0, MAX_NAME);
}

/** Entra ID sends `manager` as the manager's id alone; the schema makes it a complex {value}. */
function normaliseEnterprise(enterprise: Record<string, unknown>): Record<string, unknown> {
  const out = { ...enterprise };
  if (typeof out.manager === 'string') out.manager = out.manager === '' ? undefined : { value: out.manager };
  if (out.manager === undefined || out.manager === null) delete out.manager;
  return out;
}

/** A User resource as RFC 7643 §4.1 shapes it. */
export function toScimUser(
  record: ScimUserRecord,
  groups: Array<{ group_id: string; display_name: string }>,
  baseUrl: string,
): Record<string, unknown> {
  const { [ENTERPRISE_USER_SCHEMA]: enterprise, ...core } = record.attributes;
  const resource: Record<string, unknown> = {
    schemas: enterprise ? [USER_SCHEMA, ENTERPRISE_USER_SCHEMA] : [USER_SCHEMA],
    id: record.user_id,
    ...(record.external_id !== null ? { externalId: record.external_id } : {}),
    userName: record.user_name,
    ...(record.display_name !== null ? { displayName: record.display_name } : {}),
    ...core,
    active: record.is_active,
  };
  if (!Array.isArray(resource.emails) || resource.emails.length === 0) resource.emails = [{ value: record.email, primary: true }];
  if (enterprise) resource[ENTERPRISE_USER_SCHEMA] = enterprise;
  if (groups.length > 0) {
    resource.groups = groups.map((g) => ({ value: g.group_id, display: g.display_name, $ref: `${baseUrl}/Groups/${g.group_id}`, type: 'direct' }));
  }
  resource.meta = {
    resourceType: 'User',
    created: record.created_at.toISOString(),
    lastModified: record.updated_at.toISOString(),
    location: `${baseUrl}/Users/${record.user_id}`,
  };
  return resource;
}
