"""natoma_entra/permissions.py: every request a command sends is in that command's row; 403 hints come from it and
match the reference pages the rows name."""
import re

import httpx
import pytest

from natoma_entra import permissions
from natoma_entra.graph.errors import from_response

DENIED = b'{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges"}}'


def _graph_path(url_path: str) -> str:
    return re.sub(r"^(https?://[^/]+)?/v1\.0", "", url_path.split("?", 1)[0])


@pytest.mark.parametrize("command,args", [
    ("setup", ()), ("status", ()), ("doctor", ()), ("logs", ()),
    ("provision", ("AdeleV@contoso.onmicrosoft.com",)), ("roles", ()), ("assign", ("--replace",)),
    ("mapping", ()), ("credentials", ()), ("start", ("--restart",)),
])
def test_every_request_a_command_sends_is_in_its_row(sandbox, command, args):
    if command != "setup":
        assert sandbox.cli("setup").code == 0  # the later steps then read and test what setup made
    r = sandbox.cli(command, *args)
    assert r.code in (0, 1, 3), r.err
    assert r.requests, "the command sent nothing to Graph"
    allowed = {permissions.BY_KEY[k] for k in permissions.COMMANDS[command]}
    for method, path, _status in r.requests:
        req = permissions.request_for(method, _graph_path(path))
        assert req is not None, f"{method} {path}: no row in permissions.REQUESTS"
        assert req in allowed, f"{command} sends {method} {path} ({req.key}), not in COMMANDS[{command!r}]"


def test_the_reference_pages_facts():
    grant = permissions.request_for("POST", "/servicePrincipals/x/appRoleAssignedTo")
    # "Grant an appRoleAssignment for a service principal": both permissions, Directory.Read.All the alternative
    assert grant.application == "AppRoleAssignment.ReadWrite.All and Application.Read.All"
    assert "AppRoleAssignment.ReadWrite.All and Directory.Read.All" in grant.alternatives
    # "List provisioningObjectSummary": both AuditLog.Read.All and Directory.Read.All, for either sign-in
    logs = permissions.request_for("GET", "/auditLogs/provisioning")
    assert logs.application == logs.delegated == "AuditLog.Read.All and Directory.Read.All"
    assert "Reports Reader" in logs.roles
    # OwnedBy covers only apps the caller owns: never the permission a hint asks for first
    for r in permissions.REQUESTS:
        assert not r.application.startswith("Application.ReadWrite.OwnedBy"), r.key
        assert all("OwnedBy" not in a or "owns" in a for a in r.alternatives), r.key


@pytest.mark.parametrize("req", permissions.REQUESTS, ids=lambda r: r.key)
def test_403_hint_names_the_rows_permissions(req):
    method = req.method.split("|")[0]
    path = {"grant-assignment": "/servicePrincipals/s/appRoleAssignedTo",
            "upsert-group": "/groups(uniqueName='natoma-entra-x')"}.get(req.key) or _example_path(req.path)
    assert permissions.request_for(method, path) == req
    app = from_response(403, DENIED, httpx.Headers(), method, path)
    assert app.fix.startswith(f"grant the Microsoft Graph application permission {req.hint} ")
    dele = from_response(403, DENIED, httpx.Headers(), method, path, delegated=True)
    assert req.delegated in dele.fix
    assert all(role in dele.fix for role in req.roles)


def _example_path(pattern: str) -> str:
    p = pattern.lstrip("^").rstrip("$").replace("[^/]+", "x").replace(".*", "jobs/j/schema")
    p = re.sub(r"\(([^|)]*)[^)]*\)", r"\1", p)
    return p if p.startswith("/") else "/servicePrincipals/s" + p


def test_command_summary_drops_read_when_readwrite_is_needed():
    setup = permissions.for_command("setup")
    assert "Synchronization.ReadWrite.All" in setup["application"]
    assert "Synchronization.Read.All" not in setup["application"]
    assert "AppRoleAssignment.ReadWrite.All" in setup["application"] and "Application.ReadWrite.All" in setup["application"]
    # logs reads the job (its id is the documented log filter), the user, and the logs
    assert permissions.for_command("logs")["application"] == ["Application.Read.All", "Synchronization.Read.All",
                                                             "User.Read.All", "AuditLog.Read.All", "Directory.Read.All"]
