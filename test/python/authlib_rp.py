"""A Python relying party (Authlib) against Keyhold's OpenID Provider: authorization code + PKCE.

    authlib_rp.py authorize ISSUER CLIENT_ID CLIENT_SECRET REDIRECT_URI
        prints {"url": ..., "verifier": ..., "state": ...}
    authlib_rp.py exchange ISSUER CLIENT_ID CLIENT_SECRET REDIRECT_URI CALLBACK_URL VERIFIER STATE
        exchanges the code, verifies the ID token against the JWKS, prints its claims
"""
import json
import sys

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, JsonWebToken


def main() -> None:
    mode, issuer, client_id, client_secret, redirect_uri = sys.argv[1:6]
    meta = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()
    session = OAuth2Session(client_id, client_secret, scope="openid email", redirect_uri=redirect_uri,
                            code_challenge_method="S256", token_endpoint_auth_method="client_secret_basic")
    if mode == "authorize":
        verifier = generate_token(48)
        url, state = session.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier)
        print(json.dumps({"url": url, "verifier": verifier, "state": state}))
        return
    callback, verifier, state = sys.argv[6:9]
    session.state = state
    token = session.fetch_token(meta["token_endpoint"], authorization_response=callback, code_verifier=verifier, state=state)
    jwks = JsonWebKey.import_key_set(requests.get(meta["jwks_uri"], timeout=10).json())
    claims = JsonWebToken(["ES256", "RS256", "EdDSA"]).decode(token["id_token"], jwks,
                                                               claims_options={"iss": {"essential": True, "value": issuer},
                                                                               "aud": {"essential": True, "value": client_id}})
    claims.validate()
    userinfo = session.get(meta["userinfo_endpoint"], timeout=10).json()
    print(json.dumps({"claims": dict(claims), "userinfo": userinfo}))


if __name__ == "__main__":
    main()
