// One refresh in flight at a time, in this page and across the origin's tabs.
//
// Keyhold rotates refresh tokens: a token presented after its rotation is reuse, which
// revokes the session (or, within REFRESH_REUSE_INTERVAL_SECONDS, is forgiven). Two calls, or
// two tabs, that each notice an expired access token at the same moment must therefore not
// both present the same refresh token. In-process, concurrent callers share one promise.
// Across tabs, the Web Locks API serialises the refreshes, and whoever holds the lock first
// re-reads the stored session: if another tab rotated it meanwhile, that result is used and
// nothing is sent.

interface LockManagerLike {
  request<T>(name: string, callback: () => Promise<T>): Promise<T>;
}

function webLocks(): LockManagerLike | undefined {
  return (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks;
}

export function singleFlight<T>(lockName: string, work: () => Promise<T>): () => Promise<T> {
  let inFlight: Promise<T> | undefined;
  return () => {
    inFlight ??= (async () => {
      try {
        const locks = webLocks();
        return await (locks ? locks.request(lockName, work) : work());
      } finally {
        inFlight = undefined;
      }
    })();
    return inFlight;
  };
}
