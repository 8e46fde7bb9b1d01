"""FastAPI dependencies that stand in for the original backend's.

    from keyhold_verify.fastapi import configure, get_current_active_user
    configure(issuer="https://auth.example.com", audience="my-api")

    @router.get("/projects")
    async def projects(current_user = Depends(get_current_active_user)):
        ...  # current_user.id, .account_id, .account_role, .role, .is_admin

Answers 401 ``{"detail": "Could not validate credentials"}`` with
``WWW-Authenticate: Bearer`` as the original did, and 403 for ``require_aal`` /
``require_account_role`` when unmet.
"""
from __future__ import annotations

import os
from typing import Callable, Optional, Sequence, Union

from fastapi import Depends, HTTPException, Request

from ._verify import KeyholdClaims, TokenRejected, Verifier

_ROLE_RANK = {"member": 1, "admin": 2, "owner": 3}
_verifier: Optional[Verifier] = None


def configure(
    issuer: Optional[str] = None,
    audience: Union[str, Sequence[str], None] = None,
    jwks_url: Optional[str] = None,
) -> Verifier:
    """Set the verifier; unset arguments come from KEYHOLD_ISSUER, KEYHOLD_AUDIENCE, KEYHOLD_JWKS_URL."""
    global _verifier
    _verifier = Verifier(
        issuer or os.environ["KEYHOLD_ISSUER"],
        audience or os.environ["KEYHOLD_AUDIENCE"],
        jwks_url or os.environ.get("KEYHOLD_JWKS_URL"),
    )
    return _verifier


def _bearer(request: Request) -> Optional[str]:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _unauthorized(code: str) -> HTTPException:
    challenge = "Bearer" if code == "token_missing" else 'Bearer error="invalid_token"'
    return HTTPException(status_code=401, detail="Could not validate credentials", headers={"WWW-Authenticate": challenge})


async def get_current_active_user(request: Request) -> KeyholdClaims:
    verifier = _verifier or configure()
    try:
        return verifier.verify(_bearer(request))
    except TokenRejected as rejected:
        raise _unauthorized(rejected.code) from rejected


def require_aal(level: str) -> Callable[..., KeyholdClaims]:
    async def dependency(user: KeyholdClaims = Depends(get_current_active_user)) -> KeyholdClaims:
        if level == "aal2" and user.aal != "aal2":
            raise HTTPException(status_code=403, detail="Not enough permissions")
        return user

    return dependency


def require_account_role(role: str) -> Callable[..., KeyholdClaims]:
    async def dependency(user: KeyholdClaims = Depends(get_current_active_user)) -> KeyholdClaims:
        if _ROLE_RANK.get(user.account_role or "", 0) < _ROLE_RANK[role]:
            raise HTTPException(status_code=403, detail="Not enough permissions")
        return user

    return dependency


async def get_current_admin_user(user: KeyholdClaims = Depends(get_current_active_user)) -> KeyholdClaims:
    """The original's platform-admin check (``role == "admin"``)."""
    if not user.is_admin:
        raise HTTPException(status_code=403, detail="Not enough permissions")
    return user
