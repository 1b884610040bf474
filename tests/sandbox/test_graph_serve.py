"""The loopback server: Graph under /v1.0, SCIM stand-in under /scim/v2, state saved after writes."""

import json
import threading

import httpx
import pytest

from natoma_entra.sandbox.serve import make_server
from natoma_entra.sandbox.state import ACCESS_TOKEN, NATOMA_TOKEN, Tenant


@pytest.fixture
def server(tmp_path):
    path = tmp_path / "state.json"
    srv = make_server(path, port=0)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv, path
    srv.shutdown()
    srv.server_close()


def test_refuses_non_loopback():
    with pytest.raises(ValueError, match="loopback"):
        make_server(Tenant.initial(), host="0.0.0.0", port=0)


def test_graph_and_state_file(server):
    srv, path = server
    assert path.is_file()  # the initial tenant is written at once
    auth = {"Authorization": f"Bearer {ACCESS_TOKEN}"}
    with httpx.Client(base_url=srv.url + "/v1.0", headers=auth) as c:
        r = c.get("/servicePrincipals", params={"$filter": "displayName eq 'Natoma'"})
        assert r.status_code == 200
        sp = r.json()["value"][0]["id"]
        assert r.json()["@odata.context"].startswith(srv.url + "/v1.0/$metadata")
        assert c.post(f"/servicePrincipals/{sp}/synchronization/jobs", json={"templateId": "scim"}).status_code == 201
        assert httpx.get(srv.url + "/v1.0/users").status_code == 401
    saved = json.loads(path.read_text())
    assert len(saved["jobs"][sp]) == 1


def test_scim_stand_in_and_saved(server):
    srv, path = server
    scim = {"Authorization": f"Bearer {NATOMA_TOKEN}", "Content-Type": "application/scim+json"}
    user = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "AdeleV@contoso.onmicrosoft.com"}
    r = httpx.post(srv.url + "/scim/v2/Users", headers=scim, json=user)
    assert r.status_code == 201
    r = httpx.get(srv.url + "/scim/v2/Users", headers=scim, params={"filter": 'userName eq "AdeleV@contoso.onmicrosoft.com"'})
    assert r.json()["totalResults"] == 1
    assert httpx.get(srv.url + "/scim/v2/Users", headers={"Authorization": "Bearer wrong"}).status_code == 401
    saved = json.loads(path.read_text())
    assert [u["userName"] for u in saved["natoma"]["resources"]] == ["AdeleV@contoso.onmicrosoft.com"]


def test_other_paths_404(server):
    srv, _ = server
    assert httpx.get(srv.url + "/").status_code == 404
