// At the token endpoint, a code exchange or refresh writes one after another: the code (or the
// refresh token) consumed, the rotated refresh token saved, the access token saved. Each is one
// statement, one round trip and one socket write on the server. Here the consume (and a
// refresh token saved after it) waits for the access token's save, and all go as one statement
// that saves only if it spent the code (oidc-models.repo.ts, consumeAndUpsertModels): a code
// raced by two requests still buys tokens once, and the loser gets the same invalid_grant, from
// the access token's save instead of from the consume.
//
// Nothing waits past the request: any other adapter call sends what waits first (so the
// provider never reads around a write it made), and what is left when the request ends (it
// failed before saving its access token) is sent then (oidc.plugin.ts), as it would have been.
import type { Executor } from '../../db/database.js';
import { consumeAndUpsertModels, consumeModel, type UpsertModel } from './oidc-models.repo.js';
import type { KoaLikeContext } from './provider-types.js';

export interface Spend {
  model: string;
  id: string;
  now: Date;
}

export interface PendingWrites {
  spend: Spend;
  /** At most one: the refresh token rotated after the consume. */
  saves: UpsertModel[];
}

const CONSUMED_AT_TOKEN_ENDPOINT = new Set(['AuthorizationCode', 'RefreshToken']);
const GRANTS = new Set(['authorization_code', 'refresh_token']);

const byRequest = new WeakMap<object, PendingWrites>();

/** Whether a consume of `model` may wait, in this request. */
export function mayDeferConsume(request: KoaLikeContext | undefined, model: string): request is KoaLikeContext {
  return (
    request !== undefined &&
    CONSUMED_AT_TOKEN_ENDPOINT.has(model) &&
    request.oidc?.route === 'token' &&
    GRANTS.has(String(request.oidc.params?.grant_type)) &&
    !byRequest.has(request)
  );
}

export function deferConsume(request: KoaLikeContext, spend: Spend): void {
  byRequest.set(request, { spend, saves: [] });
}

/** A refresh token saved while a consume waits, waits with it. */
export function mayDeferSave(request: KoaLikeContext | undefined, row: UpsertModel): boolean {
  const pending = request && byRequest.get(request);
  if (!pending || row.model !== 'RefreshToken' || pending.saves.length > 0) return false;
  pending.saves.push(row);
  return true;
}

/** What waits in this request (now no longer waiting), if anything. */
export function takePending(request: KoaLikeContext | undefined): PendingWrites | undefined {
  const pending = request && byRequest.get(request);
  if (pending) byRequest.delete(request);
  return pending;
}

/** Sends what waited, with `row` (the save that ends the wait); false when the code was already spent. */
export async function sendPending(db: Executor, pending: PendingWrites, row?: UpsertModel): Promise<boolean> {
  const rows = row ? [...pending.saves, row] : pending.saves;
  if (rows.length === 0) return consumeModel(db, pending.spend);
  return consumeAndUpsertModels(db, pending.spend, rows);
}

/**
 * Provider middleware: what still waits when the request ends is sent then. Only a request that
 * failed before saving its access token leaves anything (so nothing was issued), and its code
 * is consumed as it would have been without the wait.
 */
export function sendWhatWaits(db: Executor) {
  return async (request: KoaLikeContext, next: () => Promise<void>): Promise<void> => {
    try {
      await next();
    } finally {
      const pending = takePending(request);
      if (pending) await sendPending(db, pending);
    }
  };
}
