// The pages check a form against the API route's own TypeBox schema, with the API's Ajv
// formats and keywords (http/ajv-formats.ts), so a value the API refuses is refused here for
// the same reason; the reasons are then put in words a person understands, next to the field.
import { createRequire } from 'node:module';
import type { TSchema } from '@sinclair/typebox';
import type { Ajv, ErrorObject, ValidateFunction } from 'ajv';
import { formatsPlugin } from '../../http/ajv-formats.js';
import { PLAIN_TEXT_KEYWORD } from '../../http/schema-types.js';
import { NOT_COMMON_PASSWORD_KEYWORD } from '../../lib/password-policy.js';

export type FieldErrors = Record<string, string>;

/** A form as the URL-encoded parser gives it: a repeated field is an array, kept as its first value. */
export type FormBody = Record<string, string | string[] | undefined>;

export function formField(body: unknown, name: string): string {
  const value = (body as FormBody | undefined)?.[name];
  return typeof value === 'string' ? value : Array.isArray(value) && typeof value[0] === 'string' ? value[0] : '';
}

const requireCjs = createRequire(import.meta.url);
let ajv: Ajv | undefined;
const compiled = new WeakMap<TSchema, ValidateFunction>();

function validatorOf(schema: TSchema): ValidateFunction {
  let validate = compiled.get(schema);
  if (!validate) {
    // Loaded on the first form post, as the API loads its own Ajv on first use.
    const AjvClass = (requireCjs('ajv') as { default: new (options: object) => Ajv }).default;
    ajv ??= formatsPlugin(new AjvClass({ allErrors: true, strict: false, coerceTypes: false }));
    validate = ajv.compile(schema);
    compiled.set(schema, validate);
  }
  return validate;
}

/** Whether `value` is valid against `schema` (for bodies that are not forms a person typed). */
export const matchesSchema = (schema: TSchema, value: unknown): boolean => validatorOf(schema)(value) as boolean;

/** Field errors of `input` against `schema`, one per field (the first found); empty when valid. */
export function checkForm(schema: TSchema, input: Record<string, unknown>): FieldErrors {
  const validate = validatorOf(schema);
  if (validate(input)) return {};
  const errors: FieldErrors = {};
  for (const error of validate.errors ?? []) {
    const field = error.keyword === 'required' ? String(error.params.missingProperty) : error.instancePath.split('/')[1] ?? '';
    if (field && !(field in errors)) errors[field] = describe(error);
  }
  return errors;
}

function describe(error: ErrorObject): string {
  const limit = (error.params as { limit?: number }).limit;
  switch (error.keyword) {
    case 'required':
      return 'This field is required.';
    case 'format':
      return error.params.format === 'email' ? 'Enter an email address, like name@example.com.' : 'This value is not in the expected format.';
    case 'minLength':
      return limit === 1 ? 'This field is required.' : `Use at least ${limit} characters.`;
    case 'maxLength':
      return `Use at most ${limit} characters.`;
    case 'pattern':
      return 'This field is required.';
    case NOT_COMMON_PASSWORD_KEYWORD:
      return 'This password is one of the most common ones. Choose one that is harder to guess.';
    case PLAIN_TEXT_KEYWORD:
      return 'Remove line breaks and control characters.';
    default:
      return 'This value is not valid.';
  }
}
