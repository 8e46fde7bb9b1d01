// Where the client keeps its tokens. Browsers default to IndexedDB, which every tab of the
// origin shares (so a refresh made by one tab serves the others), Node to memory.
//
// Not localStorage: Chromium copies it into each tab's process and sends changes to the other
// tabs later, so a tab that takes the refresh lock right after another tab rotated the session
// can still read the old refresh token and present it again, which the server treats as reuse
// (seen in test/clients-js.test.ts, two of three runs). An IndexedDB transaction that starts
// after another has completed sees its writes, whichever tab made them.

export interface StoredSession {
  access_token: string;
  refresh_token: string;
  /** Which endpoint refreshes it: Keyhold's own API, or the OpenID Provider's token endpoint. */
  refresh_with: 'api' | 'oidc';
  /** For 'oidc' sessions: the client the tokens were issued to. */
  client_id?: string;
  id_token?: string;
  /** When the access token expires (seconds since the epoch), where the token does not say. */
  expires_at?: number;
}

/** A place for one value per key. Every method may be synchronous or asynchronous. */
export interface KeyValueStorage {
  get(key: string): string | null | Promise<string | null>;
  set(key: string, value: string): void | Promise<void>;
  remove(key: string): void | Promise<void>;
}

export function memoryStorage(): KeyValueStorage {
  const values = new Map<string, string>();
  return {
    get: (key) => values.get(key) ?? null,
    set: (key, value) => void values.set(key, value),
    remove: (key) => void values.delete(key),
  };
}

interface WebStorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** window.sessionStorage (one tab), or localStorage (but see above: across tabs, prefer the default). */
export function webStorage(store: WebStorageLike): KeyValueStorage {
  return {
    get: (key) => store.getItem(key),
    set: (key, value) => store.setItem(key, value),
    remove: (key) => store.removeItem(key),
  };
}

// What indexedDbStorage uses of IndexedDB (the package compiles without the DOM's types).
interface IdbRequest<T> {
  result: T;
  error: unknown;
  onsuccess: (() => void) | null;
  onerror: (() => void) | null;
}
interface IdbStore {
  get(key: string): IdbRequest<unknown>;
  put(value: string, key: string): unknown;
  delete(key: string): unknown;
}
interface IdbTransaction {
  objectStore(name: string): IdbStore;
  error: unknown;
  oncomplete: (() => void) | null;
  onerror: (() => void) | null;
  onabort: (() => void) | null;
}
interface IdbDatabase {
  transaction(store: string, mode: 'readonly' | 'readwrite'): IdbTransaction;
  createObjectStore(name: string): unknown;
}
interface IdbFactory {
  open(name: string, version: number): IdbRequest<IdbDatabase> & { onupgradeneeded: (() => void) | null };
}

const STORE = 'kv';

/** IndexedDB (database `name`, one object store): consistent across the origin's tabs. */
export function indexedDbStorage(factory: IdbFactory, name = 'keyhold'): KeyValueStorage {
  let opened: Promise<IdbDatabase> | undefined;
  const open = (): Promise<IdbDatabase> =>
    (opened ??= new Promise((resolve, reject) => {
      const request = factory.open(name, 1);
      request.onupgradeneeded = () => void request.result.createObjectStore(STORE);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    }));
  // Settles when the transaction has committed: what the next transaction, in any tab, reads.
  const run = async <T>(mode: 'readonly' | 'readwrite', work: (store: IdbStore) => IdbRequest<T> | unknown): Promise<T | undefined> => {
    const transaction = (await open()).transaction(STORE, mode);
    const request = work(transaction.objectStore(STORE)) as IdbRequest<T> | undefined;
    return new Promise((resolve, reject) => {
      transaction.oncomplete = () => resolve(mode === 'readonly' ? request?.result : undefined);
      transaction.onerror = transaction.onabort = () => reject(transaction.error);
    });
  };
  return {
    get: async (key) => {
      const value = await run<unknown>('readonly', (store) => store.get(key));
      return typeof value === 'string' ? value : null;
    },
    set: async (key, value) => void (await run('readwrite', (store) => store.put(value, key))),
    remove: async (key) => void (await run('readwrite', (store) => store.delete(key))),
  };
}

/** IndexedDB where there is one (a browser), else memory (Node). */
export function defaultStorage(): KeyValueStorage {
  const factory = (globalThis as { indexedDB?: IdbFactory }).indexedDB;
  return factory ? indexedDbStorage(factory) : memoryStorage();
}

export async function readSession(storage: KeyValueStorage, key: string): Promise<StoredSession | null> {
  const text = await storage.get(key);
  if (!text) return null;
  try {
    const value = JSON.parse(text) as StoredSession;
    return typeof value.access_token === 'string' && typeof value.refresh_token === 'string' ? value : null;
  } catch {
    return null;
  }
}
