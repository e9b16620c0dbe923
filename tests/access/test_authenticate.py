"""Proving who one is: API tokens (Bearer and Basic), passwords, OIDC tokens, and the refusals.

The OIDC tests run a tiny identity provider on 127.0.0.1: its JWKS document is served over real
HTTP, and tokens are signed with its RSA key, so PyJWT's key fetching and checking run for real.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update

from urbantwin.app import create_app
from urbantwin.settings import Settings
from urbantwin.store.access_schema import api_tokens, users


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture
def ute(client: TestClient) -> str:
    """A contributor's token (read and write)."""
    client.post("/api/admin/organisations", json={"id": "lwb", "title": "LWB", "kind": "municipal_company"})
    client.post("/api/admin/users", json={"name": "ute", "role": "contributor", "organisation_id": "lwb"})
    return client.post("/api/admin/users/ute/tokens", json={"scopes": ["read", "write"]}).json()["token"]


def test_a_token_proves_its_user_as_bearer_and_as_basic_password(client: TestClient, ute: str) -> None:
    me = client.get("/api/me", headers={"Authorization": f"Bearer {ute}"}).json()
    assert me == {
        "name": "ute",
        "role": "contributor",
        "organisation": "lwb",
        "groups": [],
        "scopes": ["read", "write"],
        "proof": "token",
    }
    assert client.get("/api/me", headers=_basic("ute", ute)).json()["name"] == "ute"


def test_tokens_are_stored_hashed_and_listed_without_the_secret(
    client: TestClient, ute: str, engine: Engine
) -> None:
    with engine.connect() as connection:
        stored = connection.execute(select(api_tokens.c.token_hash, api_tokens.c.prefix)).one()
    assert ute not in stored.token_hash and ute.startswith(stored.prefix)
    listed = client.get("/api/admin/tokens").json()
    assert "token_hash" not in listed[0] and ute not in json.dumps(listed)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("Bearer ut_forged-0000000000000000000000000000000000000", "the token is not valid"),
        ("Bearer ", "the Bearer token is empty"),
        ("Basic !!!", "not valid base64"),
        # probe: bytes beyond ASCII were a 500 before any login check
        (b"Basic \xc3\xa9\xff==", "the Basic credentials are not valid base64 of user:password"),
        ("Basic " + base64.b64encode(b"\xff\xfe:pw").decode(), "not valid base64 of user:password"),
        ("Basic " + base64.b64encode(b"ute\x00:secret").decode(), "the Basic credentials contain a NUL"),
        ("Digest abc", "unsupported authorization scheme"),
        ("Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", "no single-sign-on tokens"),
    ],
)
def test_bad_credentials_are_refused_with_a_reason(
    anonymous: TestClient, header: str | bytes, message: str
) -> None:
    response = anonymous.get("/v1.1/Things", headers={"Authorization": header})
    assert response.status_code == 401 and message in response.json()["message"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_an_expired_token_is_refused(client: TestClient, ute: str, engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(update(api_tokens).values(expires=datetime.now(UTC) - timedelta(minutes=1)))
    response = client.get("/api/me", headers={"Authorization": f"Bearer {ute}"})
    assert response.status_code == 401 and "expired" in response.json()["message"]


def test_a_revoked_token_is_refused_by_its_owner_and_by_an_administrator(
    client: TestClient, ute: str
) -> None:
    mine = {"Authorization": f"Bearer {ute}"}
    second = client.post("/api/me/tokens", json={"scopes": ["read"]}, headers=mine).json()
    assert second["scopes"] == ["read"]
    assert client.delete(f"/api/me/tokens/{second['id']}", headers=mine).status_code == 204
    refused = client.get("/api/me", headers={"Authorization": f"Bearer {second['token']}"})
    assert refused.status_code == 401 and "revoked" in refused.json()["message"]
    first = client.get("/api/admin/tokens", params={"user": "ute"}).json()[0]["id"]
    assert client.delete(f"/api/admin/tokens/{first}").status_code == 204
    assert client.get("/api/me", headers=mine).status_code == 401


def test_a_token_gets_no_scope_its_user_or_maker_lacks(client: TestClient, ute: str) -> None:
    mine = {"Authorization": f"Bearer {ute}"}
    refused = client.post("/api/me/tokens", json={"scopes": ["admin"]}, headers=mine)
    assert refused.status_code == 400
    assert "admin is beyond the role of 'ute' (contributor)" in refused.json()["message"]
    # An administrator cannot issue one either: the scope is refused, not silently dropped.
    admin_scoped = client.post("/api/admin/users/ute/tokens", json={"scopes": ["read", "admin"]})
    assert admin_scoped.status_code == 400
    assert "admin is beyond the role of 'ute' (contributor)" in admin_scoped.json()["message"]
    assert "read, write" in admin_scoped.json()["message"]
    assert [t["scopes"] for t in client.get("/api/admin/tokens", params={"user": "ute"}).json()] == [
        ["read", "write"]
    ]
    # A read-only token cannot write, whatever its user may do.
    read_only = client.post("/api/me/tokens", json={"scopes": ["read"]}, headers=mine).json()["token"]
    response = client.post(
        "/v1.1/Things",
        json={"name": "t", "description": "d"},
        headers={"Authorization": f"Bearer {read_only}"},
    )
    assert response.status_code == 403 and "no write scope" in response.json()["message"]
    # Nor does a read-only token make itself a wider one.
    wider = client.post(
        "/api/me/tokens", json={"scopes": ["read", "write"]}, headers={"Authorization": f"Bearer {read_only}"}
    )
    assert wider.status_code == 403 and "the token asking for it lacks" in wider.json()["message"]


def test_a_readers_token_is_for_reading_and_write_is_refused_at_issue(client: TestClient) -> None:
    client.post("/api/admin/users", json={"name": "anna"})
    default = client.post("/api/admin/users/anna/tokens", json={})
    assert default.status_code == 201 and default.json()["scopes"] == ["read"]
    refused = client.post("/api/admin/users/anna/tokens", json={"scopes": ["read", "write"]})
    assert refused.status_code == 400
    assert refused.json()["message"] == (
        "scopes: write is beyond the role of 'anna' (reader), whose tokens may have read"
    )
    client.post("/api/admin/users", json={"name": "ada", "role": "administrator"})
    assert client.post("/api/admin/users/ada/tokens", json={}).json()["scopes"] == ["read", "write"]
    full = client.post("/api/admin/users/ada/tokens", json={"scopes": ["read", "write", "admin"]})
    assert full.json()["scopes"] == ["read", "write", "admin"]


def test_a_deactivated_user_is_refused(client: TestClient, ute: str) -> None:
    assert client.patch("/api/admin/users/ute", json={"active": False}).status_code == 204
    response = client.get("/api/me", headers={"Authorization": f"Bearer {ute}"})
    assert response.status_code == 401 and "deactivated" in response.json()["message"]


def test_a_password_is_hashed_with_argon2_and_works_over_basic(client: TestClient, engine: Engine) -> None:
    client.post("/api/admin/users", json={"name": "qgis", "password": "correct horse battery"})
    with engine.connect() as connection:
        stored = connection.execute(select(users.c.password_hash).where(users.c.name == "qgis")).scalar_one()
    assert stored.startswith("$argon2")
    assert (
        client.get("/api/me", headers=_basic("qgis", "correct horse battery")).json()["proof"] == "password"
    )
    assert client.get("/api/me", headers=_basic("qgis", "wrong horse battery")).status_code == 401


def test_a_fresh_install_refuses_anonymous_writes(anonymous: TestClient) -> None:
    response = anonymous.post("/v1.1/Things", json={"name": "t", "description": "d"})
    assert response.status_code == 401 and "needs a token" in response.json()["message"]


def test_administration_needs_an_administrator(client: TestClient, ute: str, anonymous: TestClient) -> None:
    assert anonymous.get("/api/admin/users").status_code == 401
    assert client.get("/api/admin/users", headers={"Authorization": f"Bearer {ute}"}).status_code == 403


# --- single sign-on ----------------------------------------------------------------------------


class IdentityProvider:
    """Serves a JWKS document on 127.0.0.1 and signs tokens with its key."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        document = json.dumps({"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the standard library's name
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(document)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}/realms/leipzig"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def token(self, key: object | None = None, **claims: object) -> str:
        now = int(time.time())
        payload = {
            "iss": self.issuer,
            "sub": "u-1",
            "aud": "urbantwin",
            "iat": now,
            "exp": now + 300,
            **claims,
        }
        return jwt.encode(payload, key or self.key, algorithm="RS256", headers={"kid": "k1"})


@pytest.fixture
def idp() -> Iterator[IdentityProvider]:
    provider = IdentityProvider()
    yield provider
    provider.server.shutdown()


@pytest.fixture
def sso(settings: Settings, engine: Engine, idp: IdentityProvider) -> Iterator[TestClient]:
    configured = replace(
        settings, oidc_issuer=idp.issuer, oidc_jwks_url=idp.issuer + "/certs", oidc_audience="urbantwin"
    )
    with TestClient(create_app(configured, engine)) as client:
        yield client


def test_an_oidc_token_signs_in_a_new_user_as_reader_with_known_groups(
    sso: TestClient, client: TestClient, idp: IdentityProvider
) -> None:
    client.post("/api/admin/groups", json={"id": "partners", "title": "Partners"})
    token = idp.token(preferred_username="erika", email="erika@example.org", groups=["/partners", "/unknown"])
    me = sso.get("/api/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["name"] == "erika" and me["role"] == "reader" and me["proof"] == "oidc"
    assert me["groups"] == ["partners"]
    # The same subject is the same user next time, with the role an administrator gave it.
    client.patch("/api/admin/users/erika", json={"role": "contributor"})
    assert (
        sso.get("/api/me", headers={"Authorization": f"Bearer {idp.token()}"}).json()["role"] == "contributor"
    )


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("forged", "signature"),
        ("expired", "expired"),
        ("other issuer", "issued by"),
        ("other audience", "not issued for this platform"),
    ],
)
def test_oidc_tokens_that_do_not_hold_are_refused(
    sso: TestClient, idp: IdentityProvider, case: str, message: str
) -> None:
    if case == "forged":
        token = idp.token(key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
    elif case == "expired":
        token = idp.token(exp=int(time.time()) - 10)
    elif case == "other issuer":
        token = idp.token(iss="http://127.0.0.1:1/realms/elsewhere")
    else:
        token = idp.token(aud="another-app")
    response = sso.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401 and message in response.json()["message"], response.json()


def test_references_to_nothing_are_400s_naming_the_field(client: TestClient) -> None:
    for body, field in (
        ({"name": "a", "organisation_id": ""}, "organisation_id"),
        ({"name": "b", "default_dataset_id": ""}, "default_dataset_id"),
    ):
        response = client.post("/api/admin/users", json=body)
        assert response.status_code == 400 and field in response.json()["message"]
    response = client.post("/api/admin/groups", json={"id": "g", "title": "G", "organisation_id": "nowhere"})
    assert response.status_code == 400 and "organisation_id" in response.json()["message"]
    response = client.post("/api/admin/datasets", json={"id": "d", "title": "D", "publisher_id": ""})
    assert response.status_code == 400 and "publisher_id" in response.json()["message"]
