// Limit/offset paging, checked where the HTTP routes and the command line both pass through;
// shared by every module that lists (admin, audit, invites, webhooks, sessions, accounts).
import { Type } from '@sinclair/typebox';
import { validationError } from '../lib/errors.js';
import { QueryInteger } from './request-params.js';

/** The querystring of a limit/offset page. */
export const PageQuery = Type.Object({ limit: Type.Optional(QueryInteger), offset: Type.Optional(QueryInteger) });

export interface PageRequest {
  limit?: number;
  offset?: number;
}

export interface PageRules {
  defaultLimit: number;
  maxLimit: number;
}

export function checkPage(page: PageRequest, rules: PageRules): { limit: number; offset: number } {
  const limit = page.limit ?? rules.defaultLimit;
  const offset = page.offset ?? 0;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > rules.maxLimit) {
    throw validationError(['query', 'limit'], `Input should be a whole number from 1 to ${rules.maxLimit}`, 'int_range');
  }
  if (!Number.isSafeInteger(offset) || offset < 0 || offset > 1_000_000) {
    throw validationError(['query', 'offset'], 'Input should be a whole number from 0 to 1000000', 'int_range');
  }
  return { limit, offset };
}
