// A run that never overlaps itself (the job queue's lane fills and parked pass).

/** `run`, never twice at once: a poke while it runs (it may already have looked past what the
 *  poke is about) makes one more run when it ends; any number of pokes meanwhile coalesce. */
export interface Coalesced {
  poke(): void;
  /** The run in progress (and the one it was poked for), if any. */
  settled(): Promise<void>;
}

export function coalesced(run: () => Promise<void>, active: () => boolean): Coalesced {
  let current: Promise<void> | undefined;
  let again = false;
  const poke = (): void => {
    if (!active()) return;
    if (current) {
      again = true;
      return;
    }
    current = run().finally(() => {
      current = undefined;
      if (again) {
        again = false;
        poke();
      }
    });
  };
  return {
    poke,
    async settled() {
      while (current) await current;
    },
  };
}
