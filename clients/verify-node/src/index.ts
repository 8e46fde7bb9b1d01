export { bearerToken, createVerifier, meetsAal, meetsAccountRole, TokenRejected, type AccountRole, type KeyholdClaims, type Verifier, type VerifierOptions } from './verifier.js';
