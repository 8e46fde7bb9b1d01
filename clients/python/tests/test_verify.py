import pytest

from keyhold_verify import TokenRejected, Verifier, verify_token


def test_a_real_access_token_gives_the_claims_a_service_scopes_by(keyhold, signed_in):
    claims = verify_token(signed_in["access_token"], issuer=keyhold["issuer"], audience=keyhold["audience"], jwks_url=keyhold["jwks_url"])
    assert claims.id == signed_in["user"]["id"]
    assert claims.account_id == signed_in["user"]["account_id"]
    assert claims.account_role == "owner"
    assert claims.role == "engineer"
    assert claims.aal == "aal1"
    assert claims.amr == ["pwd"]
    assert claims.is_active


def test_refuses_a_refresh_token_another_audience_and_a_forged_signature(keyhold, signed_in):
    verifier = Verifier(keyhold["issuer"], keyhold["audience"], keyhold["jwks_url"])
    with pytest.raises(TokenRejected) as refused:
        verifier.verify(signed_in["refresh_token"])
    assert refused.value.code == "invalid_token"
    with pytest.raises(TokenRejected):
        Verifier(keyhold["issuer"], "another-service", keyhold["jwks_url"]).verify(signed_in["access_token"])
    header, payload, signature = signed_in["access_token"].split(".")
    forged = ".".join([header, payload, ("B" if signature[0] == "A" else "A") + signature[1:]])
    with pytest.raises(TokenRejected):
        verifier.verify(forged)
    with pytest.raises(TokenRejected) as missing:
        verifier.verify(None)
    assert missing.value.code == "token_missing"


def test_an_expired_token_says_so(keyhold, signed_in, monkeypatch):
    # The verifier's clock a day ahead: the fresh token's exp lies in its past.
    from datetime import datetime, timedelta

    import jwt.api_jwt

    class DayAhead(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.now(tz) + timedelta(days=1)

    monkeypatch.setattr(jwt.api_jwt, "datetime", DayAhead)
    verifier = Verifier(keyhold["issuer"], keyhold["audience"], keyhold["jwks_url"])
    with pytest.raises(TokenRejected) as refused:
        verifier.verify(signed_in["access_token"])
    assert refused.value.code == "token_expired"
