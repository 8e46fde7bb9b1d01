// Refresh tokens for the load generator: each request takes a distinct live token, and the
// rotated token from its response goes back into the pool, so a few hundred seeded sessions
// sustain any number of refreshes.
import { API_PREFIX } from './seed.js';

export class RefreshTokenPool {
  readonly #available: string[];
  /** Taken, and not yet answered: at the end of a run these were either never sent or lost. */
  readonly #outstanding = new Set<string>();
  #takenWhileEmpty = 0;

  constructor(tokens: string[]) {
    this.#available = [...tokens];
  }

  get size(): number {
    return this.#available.length;
  }

  get starved(): number {
    return this.#takenWhileEmpty;
  }

  take(): string | undefined {
    const token = this.#available.shift();
    if (token === undefined) this.#takenWhileEmpty++;
    else this.#outstanding.add(token);
    return token;
  }

  /** The answer to `presented`: its successor (on 200) goes to the back of the queue. */
  settle(presented: string | undefined, successor: string | undefined): void {
    if (presented !== undefined) this.#outstanding.delete(presented);
    if (successor !== undefined) this.#available.push(successor);
  }

  /**
   * After a run, tokens taken but unanswered (built for a request the run ended before
   * sending, or a reply cut off) are refreshed once, one by one. A token never sent rotates
   * normally; one whose reply was lost is still inside the reuse interval and answers with
   * its child. Either way the session stays usable and no family is revoked.
   */
  async reclaim(baseUrl: string): Promise<{ reclaimed: number; lost: number }> {
    const pending = [...this.#outstanding];
    this.#outstanding.clear();
    let reclaimed = 0;
    for (const token of pending) {
      const response = await fetch(`${baseUrl}${API_PREFIX}/auth/refresh`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ refresh_token: token }),
      });
      const body = (await response.json()) as { refresh_token?: string };
      if (response.status === 200 && body.refresh_token) {
        this.#available.push(body.refresh_token);
        reclaimed++;
      }
    }
    return { reclaimed, lost: pending.length - reclaimed };
  }
}
