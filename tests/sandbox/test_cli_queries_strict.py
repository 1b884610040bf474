"""Every query the CLI sends passes the strict sandbox (sandbox/strict.py): no $select of a property the type lacks,
no advanced query without ConsistencyLevel, only documented provisioning-log filters."""
from __future__ import annotations

ADELE = "AdeleV@contoso.onmicrosoft.com"

RUNS = [
    ("setup",), ("setup",), ("status",), ("status", "--exit-code"), ("roles",), ("assign",), ("mapping",),
    ("credentials",), ("start",), ("provision", ADELE, "--verify"), ("provision", "Adele Vance"),
    ("logs",), ("logs", "--errors", "--user", ADELE, "--since", "1h"), ("logs", "--user", "Lee Gu"),
    ("doctor",), ("doctor", "--user", ADELE),
]


def test_every_query_the_cli_sends_passes_the_strict_sandbox(sandbox, monkeypatch):
    from natoma_entra.sandbox.state import NATOMA_TOKEN

    monkeypatch.setenv("NATOMA_SCIM_TOKEN", NATOMA_TOKEN)
    seen, refused = 0, []
    for args in RUNS:
        r = sandbox.cli(*args)
        assert r.code in (0, 1), (args, r.code, r.err)  # a step may fail on the sandbox's own problems, never usage
        queries = [q for q in r.requests if "?" in q[1]]
        seen += len(queries)
        refused += [(args, q) for q in r.requests if q[2] == 400 and q[0] == "GET"]
    assert seen > 20  # the run did query: $filter, $select, $orderby, $top
    assert refused == []


def test_the_strict_checks_are_on(sandbox):
    """The same sandbox refuses what Graph refuses (so the test above can fail)."""
    import httpx

    from natoma_entra.sandbox.graph import GraphHandler
    from natoma_entra.sandbox.state import ACCESS_TOKEN
    from natoma_entra.sandbox.transport import SandboxSyncTransport

    with httpx.Client(transport=SandboxSyncTransport(GraphHandler(sandbox.tenant())),
                      base_url="https://graph.microsoft.com/v1.0",
                      headers={"Authorization": f"Bearer {ACCESS_TOKEN}"}) as g:
        assert g.get("/users", params={"$select": "id,nickname"}).status_code == 400
        assert g.get("/users", params={"$filter": "accountEnabled ne false"}).status_code == 400
        assert g.get("/auditLogs/provisioning", params={"$filter": "activityDateTime ge 2024-01-01"}).status_code == 400
