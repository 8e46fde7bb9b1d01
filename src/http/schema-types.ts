// Small TypeBox helpers shared by every feature's schemas.
import { Type, type TSchema, type TUnsafe } from '@sinclair/typebox';
import { MAX_EMAIL_LENGTH } from '../lib/email-address.js';
import { NOT_COMMON_PASSWORD_KEYWORD } from '../lib/password-policy.js';

/** JSON-schema keyword `{ "x-plain-text": true }`: refuses CONTROL_OR_BIDI_CHARACTERS (422). */
export const PLAIN_TEXT_KEYWORD = 'x-plain-text';
export const PLAIN_TEXT_MESSAGE = 'String must not contain control characters, line breaks or bidirectional overrides';

/**
 * Free text a person enters and others may read (names, profile fields, search terms). Never
 * for passwords or other secrets: those are compared, not shown, and may contain anything.
 */
export const FreeText = (options: { maxLength: number; minLength?: number; pattern?: string; description?: string }) =>
  Type.String({ ...options, [PLAIN_TEXT_KEYWORD]: true });

/** A JSON-schema `type: [T, "null"]`, which fast-json-stringify and OpenAPI 3.1 both read well. */
export function Nullable<T extends TSchema>(schema: T): TUnsafe<T['static'] | null> {
  const { type, ...rest } = schema as unknown as { type: string };
  return Type.Unsafe<T['static'] | null>({ ...rest, type: [type, 'null'] });
}

export const Email = Type.String({
  format: 'email',
  maxLength: MAX_EMAIL_LENGTH,
  [PLAIN_TEXT_KEYWORD]: true,
  description: 'Compared case-insensitively',
});
export const NewPassword = Type.String({
  minLength: 8,
  maxLength: 128,
  [NOT_COMMON_PASSWORD_KEYWORD]: true,
  description: '8 to 128 characters, not one of the 1,000 most common passwords',
});
/** A password being checked, not set: imported users may have shorter ones. */
export const PresentedPassword = Type.String({ minLength: 1, maxLength: 128 });
// The plain hyphenated form only: ajv's `uuid` format also admits `urn:uuid:…`, which
// PostgreSQL's uuid type refuses.
export const Uuid = Type.String({ format: 'uuid', pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' });
export const DateTime = Type.String({ format: 'date-time' });
export const Message = Type.Object({ message: Type.String() });
