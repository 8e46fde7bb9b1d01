"""The checks: signature from the JWKS (fetched once, fetched again for an unknown ``kid``),
``iss``, ``aud``, ``exp`` and the ``typ: at+jwt`` header (RFC 9068), which no other kind of
Keyhold token carries."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Union

import jwt
from jwt import PyJWKClient

ALGORITHMS = ["ES256", "EdDSA", "RS256"]


class TokenRejected(Exception):
    """``code`` is ``token_missing``, ``token_expired`` or ``invalid_token``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class KeyholdClaims:
    """What a service scopes by, read from the token alone."""

    id: str
    account_id: Optional[str]
    account_role: Optional[str]
    role: Optional[str]
    aal: Optional[str]
    amr: List[str]
    claims: Dict[str, Any] = field(repr=False)
    #: Deactivated users hold no valid token past its expiry: a verified token is an active user.
    is_active: bool = True

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def _is_fetch_failure(err: Exception) -> bool:
    # PyJWT >= 2.7 has its own class for it; 2.6 (Debian 12) only says so in the message.
    connection_error = getattr(jwt, "PyJWKClientConnectionError", None)
    if connection_error is not None and isinstance(err, connection_error):
        return True
    return str(err).startswith("Fail to fetch data")


def _jwks_url(issuer: str) -> str:
    if not issuer.startswith(("https://", "http://")):
        raise ValueError(f'the issuer "{issuer}" is not a URL; pass jwks_url')
    return issuer.rstrip("/") + "/.well-known/jwks.json"


class Verifier:
    """One per service: it keeps the fetched key set (PyJWKClient's cache)."""

    def __init__(
        self,
        issuer: str,
        audience: Union[str, Sequence[str]],
        jwks_url: Optional[str] = None,
        cache_seconds: int = 300,
        leeway: float = 0,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        self._keys = PyJWKClient(jwks_url or _jwks_url(issuer), cache_keys=True, lifespan=cache_seconds)
        self._lock = threading.Lock()

    def verify(self, token: Optional[str]) -> KeyholdClaims:
        if not token:
            raise TokenRejected("token_missing", "No bearer token")
        try:
            header = jwt.get_unverified_header(token)
            if header.get("typ") != "at+jwt":
                raise TokenRejected("invalid_token", "Not an access token")
            with self._lock:
                # PyJWKClient fetches the set again when the kid is unknown.
                key = self._keys.get_signing_key_from_jwt(token).key
            claims = jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                issuer=self.issuer,
                audience=self.audience,
                leeway=self.leeway,
                options={"require": ["sub", "exp", "iat", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as err:
            raise TokenRejected("token_expired", "The access token expired") from err
        except jwt.PyJWKClientError as err:
            if _is_fetch_failure(err):
                raise  # the key set could not be fetched: not the token's fault
            raise TokenRejected("invalid_token", str(err)) from err  # no such key
        except (jwt.PyJWTError, ValueError) as err:
            raise TokenRejected("invalid_token", str(err)) from err
        amr = claims.get("amr")
        return KeyholdClaims(
            id=claims["sub"],
            account_id=claims.get("account_id"),
            account_role=claims.get("account_role"),
            role=claims.get("role"),
            aal=claims.get("aal"),
            amr=list(amr) if isinstance(amr, list) else [],
            claims=claims,
        )


_verifiers: Dict[tuple, Verifier] = {}
_verifiers_lock = threading.Lock()


def verify_token(
    token: Optional[str],
    *,
    issuer: str,
    audience: Union[str, Sequence[str]],
    jwks_url: Optional[str] = None,
) -> KeyholdClaims:
    """Verify one token; the key set is kept per (issuer, audience, jwks_url) between calls."""
    key = (issuer, audience if isinstance(audience, str) else tuple(audience), jwks_url)
    with _verifiers_lock:
        verifier = _verifiers.get(key)
        if verifier is None:
            verifier = _verifiers[key] = Verifier(issuer, audience, jwks_url)
    return verifier.verify(token)
