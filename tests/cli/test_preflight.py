"""The permission preflight on the sandbox, whose tokens carry claims (sandbox/tokens.py): a writing command whose
token lacks something exits 2 before any write, one stderr line per missing permission with the operation and the
way to grant it, the JSON document carrying the table; a token with everything runs; an opaque token is a note."""
import json

from natoma_entra.sandbox.tokens import CALLER_OID

SYNC = "9b50c33d-700f-43b1-b2eb-87e89b703581"  # Synchronization.ReadWrite.All's app role id
ASSIGN = "06b708a9-e830-4db3-a914-8e69da51d44f"  # AppRoleAssignment.ReadWrite.All's app role id
CLOUD_APP_ADMIN = "158c047a-c907-4556-b7ef-446551a6b5f7"


def errors(r) -> list[str]:
    return [line for line in r.err.splitlines() if line.startswith("error:")]


def test_an_app_token_missing_one_permission_exits_2_and_writes_nothing(sandbox):
    sandbox.cli("sandbox", "reset")
    before = sandbox.path.read_bytes()
    sandbox.options.denied_permissions = {"AppRoleAssignment.ReadWrite.All"}
    r = sandbox.cli("-o", "json", "setup")
    assert r.code == 2, r.err
    assert r.writes == [] and sandbox.path.read_bytes() == before  # the state file is untouched
    [line] = errors(r)  # one line per missing permission
    assert line.startswith("error: setup: missing the Microsoft Graph application permission "
                           "AppRoleAssignment.ReadWrite.All, needed for assign: POST /servicePrincipals/")
    assert f"--api-permissions {ASSIGN}=Role" in line and "az ad app permission admin-consent --id" in line
    assert "API permissions > Add a permission > Microsoft Graph > Application permissions" in line
    assert line.endswith("nothing was written")
    doc = r.json()
    assert doc["exit_code"] == 2 and doc["ok"] is False
    [missing] = doc["permissions"]["missing"]
    assert missing["permission"] == "AppRoleAssignment.ReadWrite.All" and missing["kind"] == "application"
    assert missing["needed_by"] == [line.split("needed for ")[1].split(". Grant")[0]]  # the groups' POSTs, once
    assert missing["grant"]["az"][1].startswith("az ad app permission admin-consent")


def test_each_missing_permission_gets_its_own_line(sandbox):
    sandbox.options.denied_permissions = {"AppRoleAssignment.ReadWrite.All", "Application.ReadWrite.All"}
    r = sandbox.cli("setup")
    assert r.code == 2 and r.writes == []
    lines = errors(r)
    assert len(lines) == 2
    assert "Application.ReadWrite.All, needed for roles: PATCH /applications/" in lines[0]
    assert "AppRoleAssignment.ReadWrite.All, needed for assign" in lines[1]


def test_a_delegated_token_without_the_directory_role_exits_2(sandbox):
    sandbox.cli("sandbox", "reset")
    before = sandbox.path.read_bytes()
    sandbox.options.sign_in, sandbox.options.directory_roles = "delegated", frozenset()
    r = sandbox.cli("-o", "json", "setup")
    assert r.code == 2, r.err
    assert sandbox.path.read_bytes() == before
    [line] = errors(r)
    assert "missing the Entra role Cloud Application Administrator, needed for roles: PATCH /applications/" in line
    assert "/roleManagement/directory/roleAssignments" in line and CLOUD_APP_ADMIN in line
    assert "or instead: Application Administrator or ownership of the app" in line
    [missing] = r.json()["permissions"]["missing"]
    assert missing["kind"] == "directory-role" and r.json()["permissions"]["sign_in"] == "delegated"
    assert any("/owners" in path for _m, path, _s in r.requests)  # an owner would not need the role: it was read


def test_a_delegated_token_with_the_role_runs(sandbox):
    sandbox.options.sign_in = "delegated"  # Cloud Application Administrator by default
    r = sandbox.cli("setup")
    assert r.code == 0, r.err
    assert errors(r) == [] and "note:" not in r.err


def test_a_delegated_token_missing_a_scope_names_the_azure_cli_grant(sandbox):
    sandbox.options.sign_in = "delegated"
    sandbox.options.denied_permissions = {"Application.ReadWrite.All"}
    r = sandbox.cli("roles")
    assert r.code == 2
    [line] = errors(r)
    assert "missing the delegated Microsoft Graph permission Application.ReadWrite.All" in line
    assert "az ad app permission grant --id 04b07795-8ddb-461a-bbee-02f9e1bf7b46" in line  # the Azure CLI's app
    assert "--scope Application.ReadWrite.All" in line


def test_a_token_with_everything_runs(sandbox):
    r = sandbox.cli("setup")
    assert r.code == 0, r.err
    assert errors(r) == [] and "note:" not in r.err
    assert sandbox.tenant().find_app("Natoma")["appRoles"]


def test_an_opaque_token_is_a_note_and_the_run_goes_on(sandbox):
    sandbox.options.sign_in = "opaque"
    r = sandbox.cli("setup")
    assert r.code == 0, r.err
    assert "note: the access token's claims cannot be read (not a JSON Web Token): the permissions were not " \
           "checked before writing" in r.err


def test_owned_by_without_ownership_exits_2_naming_the_owner_to_add(sandbox):
    sandbox.options.denied_permissions = {"Application.ReadWrite.All"}
    sandbox.options.also_granted = frozenset({"Application.ReadWrite.OwnedBy"})
    r = sandbox.cli("-o", "json", "roles")
    assert r.code == 2 and r.writes == []
    [line] = errors(r)
    assert "missing ownership: owner of the app's application, needed for roles: PATCH /applications/" in line
    assert f"/owners/$ref --body '{{\"@odata.id\": \"https://graph.microsoft.com/v1.0/directoryObjects/" \
           f"{CALLER_OID}\"}}'" in line
    assert "or instead: grant Application.ReadWrite.All" in line


def test_owned_by_with_ownership_passes_the_preflight(sandbox):
    """The caller owns the app: the preflight lets it through (the sandbox enforces only denied permissions, so the
    PATCH's own 403 shows the request went out)."""
    t = sandbox.tenant()
    t.state["owners"] = {t.find_app("Natoma")["id"]: [CALLER_OID]}
    sandbox.save(t)
    sandbox.options.denied_permissions = {"Application.ReadWrite.All"}
    sandbox.options.also_granted = frozenset({"Application.ReadWrite.OwnedBy"})
    r = sandbox.cli("roles")
    assert errors(r) and not any("missing" in line for line in errors(r))
    assert r.code == 1 and any(m == "PATCH" for m, _p, _s in r.requests)


def test_warn_mode_says_what_is_missing_and_writes_anyway(sandbox, monkeypatch):
    monkeypatch.setenv("NATOMA_ENTRA_PREFLIGHT", "warn")
    sandbox.options.denied_permissions = {"Application.ReadWrite.All"}
    r = sandbox.cli("roles")
    assert "warning (NATOMA_ENTRA_PREFLIGHT=warn): missing the Microsoft Graph application permission " \
           "Application.ReadWrite.All" in r.err
    assert r.code == 1 and any(m == "PATCH" for m, _p, _s in r.requests)  # the PATCH went out and got its 403


def test_create_app_checks_the_later_steps_before_the_app_is_made(sandbox):
    assert sandbox.cli("sandbox", "reset", "--empty").code == 0
    sandbox.options.denied_permissions = {"Synchronization.ReadWrite.All"}
    r = sandbox.cli("setup", "--create-app", "--create-groups")
    assert r.code == 2, r.err
    assert r.writes == [] and not sandbox.tenant().state["servicePrincipals"]
    assert any("Synchronization.ReadWrite.All" in line for line in errors(r))


def test_a_dry_run_and_read_only_commands_do_not_stop_on_a_missing_write_permission(sandbox):
    sandbox.options.denied_permissions = {"Application.ReadWrite.All"}
    assert sandbox.cli("--dry-run", "roles").code == 0
    assert sandbox.cli("status").code in (0, 3)


def test_doctor_shows_the_permissions_of_every_command(sandbox):
    assert sandbox.set_up().code == 0
    sandbox.options.denied_permissions = {"AuditLog.Read.All"}
    r = sandbox.cli("-o", "json", "doctor")
    step = next(s for s in r.json()["steps"] if s["step"] == "permissions")
    assert step["info"]["verdict"] == "warn"
    rows = {row["command"]: row for row in step["info"]["data"]["commands"]}
    assert rows["setup"]["ok"] and not rows["logs"]["ok"]
    assert [m["permission"] for m in rows["logs"]["missing"]] == ["AuditLog.Read.All"]
    assert "cannot run logs, probe" in step["info"]["summary"]
    text = sandbox.cli("doctor")
    assert "Permissions per command" in text.out and "AuditLog.Read.All" in text.out


def test_doctor_with_an_opaque_token_says_it_did_not_check(sandbox):
    sandbox.options.sign_in = "opaque"
    r = sandbox.cli("-o", "json", "doctor")
    step = next(s for s in r.json()["steps"] if s["step"] == "permissions")
    assert step["info"]["verdict"] == "ok" and step["info"]["summary"].startswith("not checked")


def test_the_sandbox_accepts_its_own_tokens_only():
    import base64

    from natoma_entra.sandbox.graph import GraphHandler
    from natoma_entra.sandbox.options import SandboxOptions
    from natoma_entra.sandbox.tokens import access_token

    h = GraphHandler()
    token = access_token(SandboxOptions(denied_permissions={"AuditLog.Read.All"}))
    payload = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert "AuditLog.Read.All" not in payload["roles"] and "Synchronization.ReadWrite.All" in payload["roles"]
    status, _h, _b = h.handle("GET", "https://graph.microsoft.com/v1.0/users", {"Authorization": f"Bearer {token}"},
                              None)
    assert status == 200
    forged = dict(payload, iss="https://sts.windows.net/x/")
    other = ".".join((token.split(".")[0], base64.urlsafe_b64encode(json.dumps(forged).encode()).decode(), ""))
    status, _h, _b = h.handle("GET", "https://graph.microsoft.com/v1.0/users", {"Authorization": f"Bearer {other}"},
                              None)
    assert status == 401


def test_sandbox_serve_prints_a_token_with_claims_the_preflight_reads(sandbox, monkeypatch, tmp_path):
    """`sandbox serve` prints a JWT-shaped token; a rehearsal run with it against the server has claims to check,
    where the plain well-known token gives the note."""
    import re
    from types import SimpleNamespace

    from natoma_entra.sandbox import serve as serve_mod
    from natoma_entra.sandbox.state import ACCESS_TOKEN
    from natoma_entra.token_claims import read

    monkeypatch.setattr(serve_mod, "serve", lambda *a, ready=None, **k: ready(
        SimpleNamespace(server_address=("127.0.0.1", 8080))))
    r = sandbox.cli("sandbox", "serve", "--port", "8080")
    token = re.search(r"bearer token: (\S+)\)", r.err).group(1)
    claims, _ = read(token)
    assert claims.sign_in == "application" and "Synchronization.ReadWrite.All" in claims.roles
    assert "claims cannot be read" not in rehearse(sandbox, monkeypatch, tmp_path / "a.json", token)
    assert "claims cannot be read" in rehearse(sandbox, monkeypatch, tmp_path / "b.json", ACCESS_TOKEN)


def rehearse(sandbox, monkeypatch, state, token) -> str:
    """`roles` with --auth access-token against a served sandbox: its stderr."""
    import threading

    from natoma_entra.cli.application import Application
    from natoma_entra.cli.main import run
    from natoma_entra.sandbox.serve import make_server

    srv = make_server(state, port=0)
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    monkeypatch.setenv("NATOMA_ENTRA_ACCESS_TOKEN", token)
    sandbox._capsys.readouterr()
    try:
        run(["--auth", "access-token", "--graph-endpoint", srv.url + "/v1.0", "--app", "Natoma", "roles"],
            application=Application())
        code = 0
    except SystemExit as e:
        code = e.code
    finally:
        srv.shutdown()
        srv.server_close()
    err = sandbox._capsys.readouterr().err
    assert code in (0, None), err
    return err


def test_provision_on_demand_is_checked_too(sandbox):
    assert sandbox.set_up().code == 0
    before = sandbox.path.read_bytes()
    sandbox.options.denied_permissions = {"Synchronization.ReadWrite.All"}
    r = sandbox.cli("provision", "AdeleV@contoso.onmicrosoft.com")
    assert r.code == 2 and r.writes == [] and sandbox.path.read_bytes() == before
    [line] = errors(r)
    assert "Synchronization.ReadWrite.All, needed for provision: POST /servicePrincipals/" in line
    assert "/provisionOnDemand" in line
