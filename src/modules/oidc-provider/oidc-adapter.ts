// oidc-provider's storage adapter (its documented interface: upsert, find, findByUid,
// findByUserCode, consume, destroy, revokeByGrantId), over oidc_models for every model it
// persists, and over oauth_clients for the Client model (clients are registered through
// Keyhold's admin API, never by the provider). Every instance shares the database, so state
// survives restarts and is shared by every instance; expired rows are never returned.
import type { Executor } from '../../db/database.js';
import type { Clock } from '../../lib/clock.js';
import { addSeconds } from '../../lib/clock.js';
import { findClientMetadata } from './clients.repo.js';
import { providerMetadata } from './client-metadata.js';
import { findGrantSourceRows } from './grant-source.repo.js';
import { consumeModel, destroyModel, findModel, revokeGrantRows, upsertModel } from './oidc-models.repo.js';
import type { KoaLikeContext } from './provider-types.js';
import { existingReadsOf, modelKey, readsOf, sessionUidKey, type RequestReads } from './request-reads.js';
import { deferConsume, mayDeferConsume, mayDeferSave, sendPending, takePending } from './write-behind.js';

export interface AdapterDeps {
  db: Executor;
  clock: Clock;
  /** Thrown when a single-use item was already consumed by a concurrent request. */
  alreadyConsumed: () => Error;
  /** The provider request being served (oidc-provider's own request context), if any. */
  currentRequest?: () => KoaLikeContext | undefined;
}

/** Where the token endpoint's grant will look first: the code or refresh token it was sent. */
function grantSourceOf(request: KoaLikeContext): { model: string; id: string } | undefined {
  if (request.oidc?.route !== 'token') return undefined;
  const params = request.oidc.params ?? {};
  if (params.grant_type === 'authorization_code' && typeof params.code === 'string') return { model: 'AuthorizationCode', id: params.code };
  if (params.grant_type === 'refresh_token' && typeof params.refresh_token === 'string') return { model: 'RefreshToken', id: params.refresh_token };
  return undefined;
}

type Payload = Record<string, unknown> & { grantId?: string; uid?: string; userCode?: string; consumed?: unknown };

export function adapterFactory(deps: AdapterDeps): (name: string) => object {
  return (name: string) => (name === 'Client' ? new ClientAdapter(deps) : new ModelAdapter(name, deps));
}

class ModelAdapter {
  constructor(
    private readonly model: string,
    private readonly deps: AdapterDeps,
  ) {}

  async upsert(id: string, payload: Payload, expiresIn?: number): Promise<void> {
    const { db, clock } = this.deps;
    const reads = this.reads();
    reads?.forget(modelKey(this.model, id));
    if (this.model === 'Session' && payload.uid) reads?.forget(sessionUidKey(payload.uid));
    const row = {
      model: this.model,
      id,
      payload,
      expiresAt: expiresIn ? addSeconds(clock.now(), expiresIn) : null,
      // A grant's own row goes with its grant, like every token it issued.
      grantId: this.model === 'Grant' ? id : (payload.grantId ?? null),
      uid: payload.uid ?? null,
      userCode: payload.userCode ?? null,
      userId: this.model === 'Grant' && typeof payload.accountId === 'string' ? payload.accountId : null,
    };
    // The token endpoint's writes go together (write-behind.ts).
    const request = this.deps.currentRequest?.();
    if (mayDeferSave(request, row)) return;
    const pending = takePending(request);
    if (!pending) return upsertModel(db, row);
    if (!(await sendPending(db, pending, row))) throw this.deps.alreadyConsumed();
  }

  async find(id: string): Promise<Payload | undefined> {
    return this.read({ id });
  }

  async findByUid(uid: string): Promise<Payload | undefined> {
    return this.read({ uid });
  }

  async findByUserCode(userCode: string): Promise<Payload | undefined> {
    return this.read({ userCode });
  }

  /**
   * Marks a code, refresh token or device code used. The provider reads `consumed` first; of
   * two requests racing with one item, the conditional update lets only one through, and the
   * other fails as a reuse would.
   */
  async consume(id: string): Promise<void> {
    this.reads()?.forget(modelKey(this.model, id));
    const request = this.deps.currentRequest?.();
    const spend = { model: this.model, id, now: this.deps.clock.now() };
    // At the token endpoint, sent with the access token's save (write-behind.ts).
    if (mayDeferConsume(request, this.model)) return deferConsume(request, spend);
    await this.sendWaiting();
    const consumed = await consumeModel(this.deps.db, spend);
    if (!consumed) throw this.deps.alreadyConsumed();
  }

  async destroy(id: string): Promise<void> {
    this.reads()?.forget(modelKey(this.model, id));
    await this.sendWaiting();
    await destroyModel(this.deps.db, this.model, id);
  }

  /** One statement: the grant and every code and token issued under it go together. */
  async revokeByGrantId(grantId: string): Promise<void> {
    this.reads()?.forgetModels();
    await this.sendWaiting();
    await revokeGrantRows(this.deps.db, grantId);
  }

  private reads(): RequestReads | undefined {
    return existingReadsOf(this.deps.currentRequest?.());
  }

  /** What waits (write-behind.ts) goes before any other call: the provider never reads around its own write. */
  private async sendWaiting(): Promise<void> {
    const pending = takePending(this.deps.currentRequest?.());
    if (pending && !(await sendPending(this.deps.db, pending))) throw this.deps.alreadyConsumed();
  }

  private async read(by: { id: string } | { uid: string } | { userCode: string }): Promise<Payload | undefined> {
    await this.sendWaiting();
    const row = (await this.readAhead(by)) ?? (await findModel(this.deps.db, { model: this.model, by, now: this.deps.clock.now() }));
    if (!row) return undefined;
    const payload = row.payload as Payload;
    return row.consumed_at ? { ...payload, consumed: Math.floor(row.consumed_at.getTime() / 1000) } : payload;
  }

  /**
   * A row this request already read (request-reads.ts), or, for the access token userinfo is
   * given, the token read together with its grant, user and client (the look-ups that follow).
   */
  private async readAhead(by: { id: string } | { uid: string } | { userCode: string }) {
    const request = this.deps.currentRequest?.();
    const existing = existingReadsOf(request);
    if ('uid' in by) return this.model === 'Session' ? existing?.takeModel(sessionUidKey(by.uid)) : undefined;
    if (!('id' in by)) return undefined;
    const key = modelKey(this.model, by.id);
    const kept = existing?.takeModel(key);
    if (kept || this.model !== 'AccessToken' || request?.oidc?.route !== 'userinfo') return kept;
    const reads = readsOf(request)!;
    const token = { model: this.model, id: by.id };
    reads.keep(await findGrantSourceRows(this.deps.db, { ...token, now: this.deps.clock.now(), clientId: null }), token);
    return reads.takeModel(key);
  }
}

/** Clients come from oauth_clients; the provider never writes them. */
class ClientAdapter {
  constructor(private readonly deps: AdapterDeps) {}

  /**
   * At the token endpoint the client is looked up first (to authenticate it): the code or
   * refresh token the grant will look up next is read in the same statement, with its grant,
   * session and user (request-reads.ts).
   */
  async find(id: string): Promise<Record<string, unknown> | undefined> {
    const request = this.deps.currentRequest?.();
    const kept = existingReadsOf(request)?.takeClient(id);
    if (kept) return providerMetadata(kept);
    const source = request && grantSourceOf(request);
    const reads = source && readsOf(request);
    if (!reads || !source) return findClientMetadata(this.deps.db, id);
    reads.keep(await findGrantSourceRows(this.deps.db, { ...source, now: this.deps.clock.now(), clientId: id }), source);
    const client = reads.takeClient(id);
    return client && providerMetadata(client);
  }

  async upsert(): Promise<void> {
    throw new Error('clients are registered through the admin API');
  }

  async destroy(): Promise<void> {}
  async consume(): Promise<void> {}
  async revokeByGrantId(): Promise<void> {}
  async findByUid(): Promise<undefined> {
    return undefined;
  }
  async findByUserCode(): Promise<undefined> {
    return undefined;
  }
}
