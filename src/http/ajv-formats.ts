// The API's Ajv formats and keywords, shared by the route schemas (app.ts hands this to
// Fastify), the hosted pages' form checks and the import's line check: one value is refused
// everywhere for the same reason.
import { createRequire } from 'node:module';
import type { Ajv } from 'ajv';
import { isValidEmail } from '../lib/email-address.js';
import { isCommonPassword, NOT_COMMON_PASSWORD_KEYWORD } from '../lib/password-policy.js';
import { hasControlOrBidiCharacters } from '../lib/plain-text.js';
import { PLAIN_TEXT_KEYWORD } from './schema-types.js';

const requireCjs = createRequire(import.meta.url);

// Emails are trimmed before they are stored, so the format check must accept what trimming
// fixes. Fastify adds ajv-formats after user plugins unless one is named `formatsPlugin`.
export function formatsPlugin(ajv: Ajv): Ajv {
  // Loaded with Ajv itself, on the first request that validates anything.
  (requireCjs('ajv-formats') as (ajv: Ajv) => Ajv)(ajv);
  ajv.addFormat('email', isValidEmail);
  ajv.addKeyword({
    keyword: NOT_COMMON_PASSWORD_KEYWORD,
    type: 'string',
    schemaType: 'boolean',
    validate: (enabled: boolean, value: string) => !enabled || !isCommonPassword(value),
  });
  ajv.addKeyword({
    keyword: PLAIN_TEXT_KEYWORD,
    type: 'string',
    schemaType: 'boolean',
    validate: (enabled: boolean, value: string) => !enabled || !hasControlOrBidiCharacters(value),
  });
  return ajv;
}
