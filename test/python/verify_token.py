"""Verifies a Keyhold access token as a downstream Python service would: PyJWT, the JWKS URL
and nothing else (no shared secret). Prints the claims as JSON, or exits 1 with the reason.

usage: verify_token.py JWKS_URL ISSUER AUDIENCE TOKEN
"""
import json
import sys

import jwt

jwks_url, issuer, audience, token = sys.argv[1:5]
try:
    # The key is chosen by the token's kid among the JWKS's keys; the algorithm is pinned by
    # the list below, never taken from the token alone.
    signing_key = jwt.PyJWKClient(jwks_url).get_signing_key_from_jwt(token)
    if jwt.get_unverified_header(token).get("typ") != "at+jwt":
        raise jwt.InvalidTokenError("not an access token (typ)")
    claims = jwt.decode(
        token,
        signing_key.key,
        algorithms=["ES256", "EdDSA", "RS256"],
        issuer=issuer,
        audience=audience,
        options={"require": ["exp", "iat", "sub", "iss", "aud"]},
    )
except jwt.PyJWTError as err:
    print(f"{type(err).__name__}: {err}", file=sys.stderr)
    sys.exit(1)
print(json.dumps(claims))
