import pytest
from fastapi.testclient import TestClient

from keyhold_verify.fastapi import configure


@pytest.fixture()
def client(keyhold):
    configure(issuer=keyhold["issuer"], audience=keyhold["audience"], jwks_url=keyhold["jwks_url"])
    from tests.app import app

    return TestClient(app)


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_routes_that_depend_on_get_current_active_user(client, signed_in):
    reply = client.get("/projects", headers=bearer(signed_in["access_token"]))
    assert reply.status_code == 200
    assert reply.json() == {"user_id": signed_in["user"]["id"], "account_id": signed_in["user"]["account_id"], "account_role": "owner"}


def test_no_token_or_a_bad_one_is_401_as_in_the_original(client, signed_in):
    missing = client.get("/projects")
    assert missing.status_code == 401
    assert missing.json() == {"detail": "Could not validate credentials"}
    assert missing.headers["www-authenticate"].startswith("Bearer")
    refresh = client.get("/projects", headers=bearer(signed_in["refresh_token"]))
    assert refresh.status_code == 401
    assert 'error="invalid_token"' in refresh.headers["www-authenticate"]


def test_role_and_assurance_rules_answer_403_when_unmet(client, signed_in):
    token = bearer(signed_in["access_token"])
    assert client.delete("/account/danger", headers=token).status_code == 200
    assert client.post("/billing", headers=token).status_code == 403
    assert client.get("/admin/stats", headers=token).status_code == 403
