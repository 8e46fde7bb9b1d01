import { Type, type Static } from '@sinclair/typebox';
import type { AccountDomainRow } from '../../db/schema.js';
import { DateTime, Nullable, Uuid } from '../../http/schema-types.js';
import { expectedTxtValue, TXT_PREFIX } from './dns-verification.js';

export const ClaimDomainBody = Type.Object({ domain: Type.String({ minLength: 1, maxLength: 253 }) }, { additionalProperties: false });
export const DomainParams = Type.Object({ id: Uuid });

export const DomainResponse = Type.Object({
  id: Uuid,
  domain: Type.String(),
  verified_at: Nullable(DateTime),
  created_at: DateTime,
  verification: Type.Object({ type: Type.Literal('dns_txt'), name: Type.String(), value: Type.String() }),
});
export type DomainResponse = Static<typeof DomainResponse>;

export function toDomainResponse(row: AccountDomainRow): DomainResponse {
  return {
    id: row.id,
    domain: row.domain,
    verified_at: row.verified_at?.toISOString() ?? null,
    created_at: row.created_at.toISOString(),
    verification: { type: 'dns_txt', name: `${TXT_PREFIX}${row.domain}`, value: expectedTxtValue(row.verification_token) },
  };
}
