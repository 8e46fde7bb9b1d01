export { createKeyholdClient, type KeyholdClient, type KeyholdClientOptions, type SignInResult } from './client.js';
export { KeyholdError } from './errors.js';
export type { AuthorizationOptions, OidcTokens, ProviderMetadata } from './oidc.js';
export { indexedDbStorage, memoryStorage, webStorage, type KeyValueStorage, type StoredSession } from './storage.js';
export type { MfaChallenge, PasskeySignInOptions, SignInReply, TokenPair, User } from './types.js';
