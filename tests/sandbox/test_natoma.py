"""Natoma's SCIM stand-in: token check, /scim/v2 prefix, users(), dump/restore."""

import json

import httpx
import pytest

from natoma_entra.sandbox.natoma import NatomaStandIn, is_loopback_host, save_standin, standin_for

URL = "https://natoma.sandbox.test/scim/v2"
TOKEN = "sandbox-scim-token"
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def entra_user(user_name="ada@contoso.onmicrosoft.com", role="admin"):
    return {
        "schemas": [CORE, ENTERPRISE],
        "userName": user_name,
        "externalId": "11111111-1111-1111-1111-111111111111",
        "active": True,
        "displayName": "Ada Lovelace",
        "emails": [{"primary": True, "type": "work", "value": user_name}],
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        # Entra sends primary as the string "True".
        "roles": [{"primary": "True", "type": "WindowsAzureActiveDirectoryRole", "value": role}],
        ENTERPRISE: {"department": "Engineering"},
    }


@pytest.fixture
def natoma():
    return NatomaStandIn(token=TOKEN, base_url=URL)


def test_right_token_creates_and_finds_user(natoma):
    with natoma.client(TOKEN) as c:
        created = c.post("/Users", json=entra_user())
        assert created.status_code == 201, created.text
        assert created.json()["meta"]["location"].startswith(URL + "/Users/")
        found = c.get("/Users", params={"filter": 'userName eq "ada@contoso.onmicrosoft.com"'})
    assert found.status_code == 200
    body = found.json()
    assert body["totalResults"] == 1
    assert body["Resources"][0]["roles"] == [
        {"primary": True, "type": "WindowsAzureActiveDirectoryRole", "value": "admin"}
    ]
    [user] = natoma.users()
    assert user["userName"] == "ada@contoso.onmicrosoft.com"
    assert user["externalId"] == "11111111-1111-1111-1111-111111111111"
    assert user["active"] is True
    assert user["roles"][0]["value"] == "admin"
    assert natoma.user("ADA@contoso.onmicrosoft.com")["id"] == user["id"]


@pytest.mark.parametrize("token", ["wrong-token", "", None])
def test_wrong_or_missing_token_is_401(natoma, token):
    with natoma.client(token) as c:
        r = c.get("/Users", params={"filter": 'userName eq "x"'})
        assert r.status_code == 401
        assert c.post("/Users", json=entra_user()).status_code == 401
    assert natoma.users() == []


def test_basic_scheme_refused(natoma):
    with natoma.client(None) as c:
        r = c.get("/Users", headers={"Authorization": f"Basic {TOKEN}"})
    assert r.status_code == 401


def test_service_provider_config_needs_no_token(natoma):
    with natoma.client(None) as c:
        assert c.get("/ServiceProviderConfig").status_code == 200


def test_prefix_required(natoma):
    transport = httpx.WSGITransport(app=natoma.wsgi_app)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(transport=transport, base_url="https://natoma.sandbox.test") as c:
        assert c.get("/scim/v2/Users", headers=auth).status_code == 200
        assert c.get("/scim/v2/Users/", headers=auth).status_code == 200
        for path in ("/Users", "/v2/Users", "/scim/Users", "/other/scim/v2/Users"):
            r = c.get(path, headers=auth)
            assert r.status_code == 404, path
            assert r.json()["status"] == "404"


def test_loopback_base_url_reaches_same_store(natoma):
    with natoma.client(TOKEN, base_url="http://127.0.0.1:8080/scim/v2") as c:
        assert c.post("/Users", json=entra_user()).status_code == 201
    assert len(natoma.users()) == 1


@pytest.mark.parametrize(
    "url,expected",
    [
        (URL, True),
        (URL + "/", True),
        ("https://NATOMA.sandbox.test/scim/v2", True),
        ("https://natoma.sandbox.test/scim", False),
        ("https://natoma.sandbox.test:8443/scim/v2", False),
        ("http://natoma.sandbox.test/scim/v2", False),
        ("https://example.natoma.app/scim/v2", False),
        ("http://127.0.0.1:8080/scim/v2", True),
        ("http://localhost:9000/scim/v2/", True),
        ("http://[::1]:9000/scim/v2", True),
        ("http://127.0.0.1:8080/v1.0", False),
        ("http://10.0.0.1:8080/scim/v2", False),
        ("not a url", False),
        ("", False),
    ],
)
def test_handles(natoma, url, expected):
    assert natoma.handles(url) is expected


def test_is_loopback_host():
    assert is_loopback_host("127.0.0.5")
    assert is_loopback_host("::1")
    assert is_loopback_host("LOCALHOST")
    assert not is_loopback_host("192.168.1.1")
    assert not is_loopback_host(None)


def test_dump_restore_round_trip_keeps_ids(natoma):
    with natoma.client(TOKEN) as c:
        a = c.post("/Users", json=entra_user()).json()
        b = c.post("/Users", json=entra_user("bob@contoso.onmicrosoft.com", "member")).json()
        c.patch(
            f"/Users/{a['id']}",
            json={
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "Replace", "path": "active", "value": False}],
            },
        )
    data = natoma.dump()
    data = json.loads(json.dumps(data))  # what the state file holds

    other = NatomaStandIn(token=TOKEN, base_url=URL)
    other.restore(data)
    assert other.users() == natoma.users()
    by_name = {u["userName"]: u for u in other.users()}
    assert by_name["ada@contoso.onmicrosoft.com"]["id"] == a["id"]
    assert by_name["ada@contoso.onmicrosoft.com"]["active"] is False
    assert by_name["bob@contoso.onmicrosoft.com"]["id"] == b["id"]
    assert by_name["bob@contoso.onmicrosoft.com"]["roles"][0]["value"] == "member"
    with other.client(TOKEN) as c:
        # uniqueness index restored: userName is still taken
        assert c.post("/Users", json=entra_user()).status_code == 409
        r = c.get("/Users", params={"filter": 'userName eq "bob@contoso.onmicrosoft.com"'})
        assert r.json()["Resources"][0]["id"] == b["id"]
        # new writes get versions after the restored ones
        new = c.post("/Users", json=entra_user("cy@contoso.onmicrosoft.com")).json()
    versions = {u["meta"]["version"] for u in other.users()}
    assert len(versions) == 3
    assert new["meta"]["version"] not in {u["meta"]["version"] for u in natoma.users()}


def test_restore_none_empties(natoma):
    with natoma.client(TOKEN) as c:
        c.post("/Users", json=entra_user())
    natoma.restore(None)
    assert natoma.users() == []


class FakeTenant:
    def __init__(self, state):
        self.state = state


def test_standin_for_follows_tenant_state():
    tenant = FakeTenant({"natoma": {}})
    s1 = standin_for(tenant)
    with s1.client(TOKEN) as c:
        c.post("/Users", json=entra_user())
    save_standin(tenant, s1)
    assert len(tenant.state["natoma"]["resources"]) == 1
    assert standin_for(tenant) is s1
    # a reloaded tenant sees the users
    again = FakeTenant(json.loads(json.dumps(tenant.state)))
    assert [u["userName"] for u in standin_for(again).users()] == ["ada@contoso.onmicrosoft.com"]
    # a reset (state dict replaced) empties the same stand-in object
    tenant.state = {"natoma": {}}
    assert standin_for(tenant) is s1
    assert s1.users() == []


def test_drift_is_seeded_over_scim_and_saved_in_the_state():
    from natoma_entra.sandbox.natoma import seed_drift
    from natoma_entra.sandbox.state import Tenant

    tenant = Tenant.initial()
    seed_drift(tenant, orphans={"kept@contoso.com": True, "lost@contoso.com": True, "old@contoso.com": False})
    seed_drift(tenant, wrong_role={"kept@contoso.com": "admin"}, missing=["lost@contoso.com"])
    reloaded = Tenant.from_state(json.loads(json.dumps(tenant.state)))
    users = {u["userName"]: u for u in standin_for(reloaded).users()}
    assert set(users) == {"kept@contoso.com", "old@contoso.com"}
    assert [r["value"] for r in users["kept@contoso.com"]["roles"]] == ["admin"]
    assert users["old@contoso.com"]["active"] is False


def test_scim2_client_wsgi_engine_reads_the_standin(natoma):
    from scim2_models import User

    natoma.put_user("ada@contoso.onmicrosoft.com", ["member"])
    scim = natoma.scim_client(TOKEN, base_url="http://127.0.0.1:8080/scim/v2")  # any host reaches the stand-in
    found = scim.query(User)
    assert [u.user_name for u in found.resources] == ["ada@contoso.onmicrosoft.com"]
    from scim2_client import SCIMClientException
    from scim2_models import SCIMException

    with pytest.raises((SCIMClientException, SCIMException)):
        natoma.scim_client("wrong").query(User)
