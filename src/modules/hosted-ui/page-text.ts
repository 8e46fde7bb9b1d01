// What the hosted pages say about a refusal: one table from the catalogue's stable codes
// (lib/errors.ts) to words a person understands. A code not in the table is shown with the
// API's own message (its `detail`, already a sentence for every string-shaped error).
import type { FastifyError } from 'fastify';
import { AppError, Errors, type ErrorCode } from '../../lib/errors.js';
import type { FieldErrors } from './form-validation.js';

export interface PageText {
  message: string;
  fields: FieldErrors;
}

const GENERIC = 'Something went wrong. Please try again.';

const PAGE_TEXT: Partial<Record<ErrorCode, (err: AppError) => string>> = {
  use_oauth_provider: (err) => {
    const providers = (err.detail as { providers?: string[] }).providers ?? [];
    return `This account signs in with ${providers.map(providerLabel).join(' or ') || 'a sign-in provider'}.`;
  },
  invite_email_mismatch: () => 'This invitation was sent to a different email address.',
  account_exists_unverified_email: () => 'An account with this email address exists. Sign in with its password first, then link the provider.',
  transfer_ownership_first: () => GENERIC,
  form_expired: (err) => String(err.detail),
  bad_request: () => 'The request could not be read.',
  body_too_large: () => 'The request could not be read.',
  unsupported_media_type: () => 'The request could not be read.',
  not_found: () => 'The request could not be read.',
  method_not_allowed: () => 'The request could not be read.',
  internal_error: () => 'Something went wrong on our side. Please try again.',
  domain_verification_failed: () => 'We did not find the TXT record yet. DNS changes can take a few minutes to appear: check the name and value, then try again.',
};

/** The words for `err`; a request-validation issue list becomes a message per field. */
export function pageText(err: AppError): PageText {
  if (err.code === 'validation_failed' && Array.isArray(err.detail)) {
    const fields: FieldErrors = {};
    for (const issue of err.detail as Array<{ loc?: unknown[]; msg?: string }>) {
      // An item of a list field (['body', 'redirect_uris', 0]) is shown at the list's field.
      const field = issue.loc?.findLast((part) => typeof part === 'string');
      if (typeof field === 'string' && !(field in fields)) fields[field] = issue.msg ?? 'This value is not valid.';
    }
    return { message: 'Some fields need attention.', fields };
  }
  const text = PAGE_TEXT[err.code];
  if (text) return { message: text(err), fields: {} };
  return { message: typeof err.detail === 'string' ? err.detail : GENERIC, fields: {} };
}

/**
 * What the pages' error handler answers for anything thrown: catalogue errors as they are; a
 * CSRF refusal is `form_expired`; other framework refusals (a body that does not parse, a
 * schema) keep their status with the status's bare code (the page does not describe the
 * framework's reasons); anything else is a 500.
 */
export function pageRefusal(err: FastifyError | Error): AppError {
  if (err instanceof AppError) return err;
  const { code, statusCode } = err as FastifyError;
  if (code?.startsWith('FST_CSRF')) return Errors.formExpired();
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) return Errors.requestRefused(statusCode);
  return Errors.internal();
}

export const providerLabel = (name: string): string =>
  name === 'google' ? 'Google' : name === 'microsoft' ? 'Microsoft' : name.charAt(0).toUpperCase() + name.slice(1);
