"""Verify Keyhold access tokens locally, from the server's JWKS (PyJWT).

    from keyhold_verify import verify_token
    claims = verify_token(token, issuer="https://auth.example.com", audience="my-api")

For FastAPI, ``keyhold_verify.fastapi`` has ``get_current_active_user``, a drop-in for the
original backend's dependency of the same name.
"""
from ._verify import (
    KeyholdClaims,
    TokenRejected,
    Verifier,
    verify_token,
)

__all__ = ["KeyholdClaims", "TokenRejected", "Verifier", "verify_token"]
__version__ = "0.3.0"
