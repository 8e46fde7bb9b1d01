// Which new passwords are refused beyond the length rule: the most common ones, which any
// guessing attack tries first. Checked by JSON schema (keyword below), so every endpoint
// that sets a password refuses them with the same 422.
import { createRequire } from 'node:module';
import type * as LanguageCommon from '@zxcvbn-ts/language-common';
import { normalizePassword } from './passwords.js';

const COMMON_PASSWORD_COUNT = 1000;

// The list is ranked by frequency in leaked password sets. zxcvbn-ts's dictionaries are large,
// so they are loaded by the first check (the first request that sets a password), not at start.
// The package is CommonJS: loaded synchronously, as the schema keyword that calls this must be.
let commonPasswords: Set<string> | undefined;

function loadCommonPasswords(): Set<string> {
  const { dictionary } = createRequire(import.meta.url)('@zxcvbn-ts/language-common') as typeof LanguageCommon;
  return new Set(dictionary.passwords.slice(0, COMMON_PASSWORD_COUNT).map((p) => p.toLowerCase()));
}

export const isCommonPassword = (password: string): boolean =>
  (commonPasswords ??= loadCommonPasswords()).has(normalizePassword(password).toLowerCase());

/** JSON-schema keyword: `{ "x-not-common-password": true }`. */
export const NOT_COMMON_PASSWORD_KEYWORD = 'x-not-common-password';
export const COMMON_PASSWORD_MESSAGE = 'This password is too common; choose another';
