// oidc-provider's storage adapter (its documented interface: upsert, find, findByUid,
// findByUserCode, consume, destroy, revokeByGrantId), over oidc_models for every model it
// persists, and over oauth_clients for the Client model (clients are registered through
// Keyhold's admin API, never by the provider). Every instance shares the database, so state
// survives restarts and is shared by every instance; expired rows are never returned.
import type { Executor } from '../../db/database.js';
import type { Clock } from '../../lib/clock.js';
import { addSeconds } from '../../lib/clock.js';
import { findClientMetadata } from './clients.repo.js';
import { consumeModel, destroyModel, findModel, revokeGrantRows, upsertModel } from './oidc-models.repo.js';

export interface AdapterDeps {
  db: Executor;
  clock: Clock;
  /** Thrown when a single-use item was already consumed by a concurrent request. */
  alreadyConsumed: () => Error;
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
    await upsertModel(db, {
      model: this.model,
      id,
      payload,
      expiresAt: expiresIn ? addSeconds(clock.now(), expiresIn) : null,
      // A grant's own row goes with its grant, like every token it issued.
      grantId: this.model === 'Grant' ? id : (payload.grantId ?? null),
      uid: payload.uid ?? null,
      userCode: payload.userCode ?? null,
      userId: this.model === 'Grant' && typeof payload.accountId === 'string' ? payload.accountId : null,
    });
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
    const consumed = await consumeModel(this.deps.db, { model: this.model, id, now: this.deps.clock.now() });
    if (!consumed) throw this.deps.alreadyConsumed();
  }

  async destroy(id: string): Promise<void> {
    await destroyModel(this.deps.db, this.model, id);
  }

  /** One statement: the grant and every code and token issued under it go together. */
  async revokeByGrantId(grantId: string): Promise<void> {
    await revokeGrantRows(this.deps.db, grantId);
  }

  private async read(by: { id: string } | { uid: string } | { userCode: string }): Promise<Payload | undefined> {
    const row = await findModel(this.deps.db, { model: this.model, by, now: this.deps.clock.now() });
    if (!row) return undefined;
    const payload = row.payload as Payload;
    return row.consumed_at ? { ...payload, consumed: Math.floor(row.consumed_at.getTime() / 1000) } : payload;
  }
}

/** Clients come from oauth_clients; the provider never writes them. */
class ClientAdapter {
  constructor(private readonly deps: AdapterDeps) {}

  async find(id: string): Promise<Record<string, unknown> | undefined> {
    return findClientMetadata(this.deps.db, id);
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
