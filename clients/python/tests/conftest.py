"""Fixtures against a real Keyhold. test/clients-python.test.ts starts one and runs pytest with
KEYHOLD_BASE_URL, KEYHOLD_ISSUER, KEYHOLD_AUDIENCE and KEYHOLD_JWKS_URL set."""
import os
import secrets

import httpx
import pytest


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.skip(f"{name} is not set: run through `npm test` (test/clients-python.test.ts), which starts a Keyhold")
    return value


@pytest.fixture(scope="session")
def keyhold():
    base = _env("KEYHOLD_BASE_URL")
    return {
        "base": base,
        "api": base + "/api/v1",
        "issuer": _env("KEYHOLD_ISSUER"),
        "audience": _env("KEYHOLD_AUDIENCE"),
        "jwks_url": _env("KEYHOLD_JWKS_URL"),
    }


@pytest.fixture()
def signed_in(keyhold):
    """A new user (owner of a personal account) and their token pair."""
    email = f"py-{secrets.token_hex(6)}@example.com"
    password = "correct horse battery staple 9"
    with httpx.Client(base_url=keyhold["api"], timeout=30) as http:
        created = http.post("/auth/register", json={"email": email, "password": password, "name": "Py"})
        assert created.status_code == 201, created.text
        tokens = http.post("/auth/login/json", json={"email": email, "password": password})
        assert tokens.status_code == 200, tokens.text
    return {"user": created.json(), **tokens.json()}
