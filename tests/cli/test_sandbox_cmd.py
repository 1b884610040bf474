"""`natoma-entra sandbox reset|show|serve` and the state file between runs."""
import json

from natoma_entra.sandbox.state import Tenant


def test_state_persists_between_runs_and_reset_starts_afresh(sandbox):
    assert sandbox.cli("roles").code == 0
    assert sandbox.cli("roles").writes == []  # the second run sees the first run's roles
    r = sandbox.cli("sandbox", "reset")
    assert r.code == 0
    values = {r.get("value") for r in sandbox.tenant().find_app("Natoma")["appRoles"]}
    assert values == {None}  # only the template's msiam_access and User remain


def test_show_json_lists_what_natoma_received_and_masks_the_token(sandbox):
    sandbox.set_up()
    r = sandbox.cli("sandbox", "show", "--output", "json")
    assert r.code == 0
    snap = json.loads(r.out)
    users = {u["userName"].split("@")[0]: u["roles"] for u in snap["natoma_users"]}
    assert users == {"AdeleV": ["admin"], "AlexW": ["AppAdmin"], "MeganB": ["member"]}
    assert snap["credentials"]["SecretToken"] == "***"
    assert snap["job"]["schedule"] == "Active"
    assert {"principal": "Natoma Admins", "type": "Group", "role": "admin"} in snap["assignments"]
    assert "sandbox-scim-token" not in r.out


def test_show_text(sandbox):
    sandbox.set_up()
    r = sandbox.cli("sandbox", "show")
    assert r.code == 0 and "AdeleV@contoso.onmicrosoft.com" in r.out and "Natoma App Admins" in r.out


def test_default_state_path_follows_xdg_state_home(tmp_path, monkeypatch, capsys):
    from natoma_entra.cli.main import run

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    try:
        run(["sandbox", "reset"])
    except SystemExit as e:
        assert not e.code
    assert Tenant.load(tmp_path / "xdg" / "natoma-entra" / "sandbox.json").find_sp("Natoma")


def test_serve_refuses_a_non_loopback_host(sandbox):
    r = sandbox.cli("sandbox", "serve", "--host", "0.0.0.0", "--port", "0")
    assert r.code == 2 and "loopback" in r.err


def test_serve_picks_up_a_reset_made_while_it_runs(server, capsys, monkeypatch):
    """`sandbox reset` (or a --sandbox run) on the file a running server uses is not lost on the server's next write."""
    import httpx

    from natoma_entra.cli.main import run
    from natoma_entra.sandbox.state import ACCESS_TOKEN

    auth = {"Authorization": f"Bearer {ACCESS_TOKEN}"}
    with httpx.Client(base_url=server.url + "/v1.0", headers=auth) as c:
        sp = c.get("/servicePrincipals", params={"$filter": "displayName eq 'Natoma'"}).json()["value"][0]["id"]
        assert c.post(f"/servicePrincipals/{sp}/synchronization/jobs", json={"templateId": "scim"}).status_code == 201
        try:
            run(["--sandbox-state", str(server.state_path), "sandbox", "reset"])
        except SystemExit as e:
            assert not e.code
        assert c.get(f"/servicePrincipals/{sp}/synchronization/jobs").json()["value"] == []
        assert c.post(f"/servicePrincipals/{sp}/synchronization/jobs", json={"templateId": "scim"}).status_code == 201
    assert len(Tenant.load(server.state_path).state["jobs"][sp]) == 1


def test_reset_honours_dry_run(sandbox):
    sandbox.cli("roles")
    before = sandbox.path.read_text()
    r = sandbox.cli("--dry-run", "sandbox", "reset")
    assert r.code == 0 and "would reset" in r.err
    assert sandbox.path.read_text() == before
