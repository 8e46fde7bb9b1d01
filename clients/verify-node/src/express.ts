// Express: middleware that verifies the bearer token (401 without a valid one) and puts the
// claims on `req.keyhold`; requireAal / requireAccountRole for stronger rules (403).
import type { NextFunction, Request, Response } from 'express';
import { bearerToken, forbidden, meetsAal, meetsAccountRole, TokenRejected, unauthorized, type AccountRole, type KeyholdClaims, type Verifier } from './verifier.js';

export type KeyholdRequest = Request & { keyhold?: KeyholdClaims };

export function keyholdExpress(verifier: Verifier) {
  return (req: KeyholdRequest, res: Response, next: NextFunction): void => {
    verifier.verify(bearerToken(req.headers.authorization)).then(
      (claims) => {
        req.keyhold = claims;
        next();
      },
      (err: unknown) => {
        if (!(err instanceof TokenRejected)) return next(err);
        const refusal = unauthorized(err);
        res.status(refusal.status).set(refusal.headers).json(refusal.body);
      },
    );
  };
}

export function requireAal(level: 'aal1' | 'aal2') {
  return (req: KeyholdRequest, res: Response, next: NextFunction): void => {
    if (req.keyhold && meetsAal(req.keyhold, level)) return next();
    const refusal = forbidden('insufficient_aal');
    res.status(refusal.status).json(refusal.body);
  };
}

export function requireAccountRole(role: AccountRole) {
  return (req: KeyholdRequest, res: Response, next: NextFunction): void => {
    if (req.keyhold && meetsAccountRole(req.keyhold, role)) return next();
    const refusal = forbidden('insufficient_role');
    res.status(refusal.status).json(refusal.body);
  };
}
