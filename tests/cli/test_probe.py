"""`natoma-entra probe`: the sandbox under each variant is probed and recognised as that variant (the default sandbox
as the default); what only a write can show is said so; nothing is written; the judging is pure."""
import pytest

from natoma_entra import probe
from natoma_entra.graph.errors import GraphError
from natoma_entra.graph.readonly import is_read
from natoma_entra.sandbox.options import VARIANTS
from natoma_entra.token_claims import Claims

WRITE_ONLY = {probe.SECRETS_REPLACE, probe.SLOW_REPLICATION, probe.POD_STATUS_INFO, probe.THROTTLED_WRITES,
              probe.RETRY_AFTER_DATE, probe.ROLE_DISABLE_LAG, probe.GROUP_UPSERT_CONFLICT, probe.SECRETS_CLEAR_REFUSED}


def findings(r) -> dict[str, dict]:
    assert r.code == 0, r.err
    return {s["step"]: s["info"] for s in r.json()["steps"]}


def run_probe(sandbox, *variants):
    assert sandbox.set_up().code == 0
    before = sandbox.path.read_bytes()
    args = [a for v in variants for a in ("--sandbox-variant", v)]
    r = sandbox.cli(*args, "-o", "json", "probe")
    assert r.writes == [] and all(is_read(m, p) for m, p, _s in r.requests)  # reads only (and the two tests)
    assert sandbox.path.read_bytes() == before
    return r


def test_the_default_sandbox_is_recognised_as_the_default(sandbox):
    found = findings(run_probe(sandbox))
    for key, f in found.items():
        if not f["variants"]:
            continue
        if set(f["variants"]) & WRITE_ONLY:
            assert not f["settled"] and f["answer"].startswith(probe.NOT_WITHOUT_A_WRITE), key
        else:
            assert f["settled"] and f["variant"] == probe.DEFAULT, (key, f["answer"])
    assert found["log-filters"]["answer"] == "jobId eq: accepted; servicePrincipal/id eq: accepted"
    assert found["schema-fields"]["answer"] == "only the fields the v1.0 reference documents"


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_each_variant_is_recognised_or_said_to_need_a_write(sandbox, variant):
    found = findings(run_probe(sandbox, variant))
    mine = [f for f in found.values() if variant in f["variants"]]
    assert mine, f"no behaviour of the probe covers {variant}"
    for f in mine:
        if variant in WRITE_ONLY:
            assert not f["settled"] and f["answer"].startswith(probe.NOT_WITHOUT_A_WRITE), f
        else:
            assert f["settled"] and f["variant"] == variant, f
    for key, f in found.items():  # the other behaviours still read as the default
        if f not in mine and f["variants"] and not set(f["variants"]) & WRITE_ONLY:
            assert f["variant"] == probe.DEFAULT, (key, f["answer"])


def test_the_variant_names_are_the_sandboxs():
    spelled = {probe.TEMPLATES_UNLISTED, probe.LEGACY_TEMPLATE_ONLY, probe.COLLECTION_TEST_REFUSED,
               probe.VALIDATE_SYNCFABRIC_BODY, probe.SECRETS_REPLACE, probe.SECRETS_MASKED, probe.SLOW_REPLICATION,
               probe.POD_STATUS_INFO, probe.THROTTLED_WRITES, probe.RETRY_AFTER_DATE, probe.ROLE_DISABLE_LAG,
               probe.EMPTY_PAGES, probe.FORWARD_COMPATIBLE, probe.SECRETS_UNREADABLE, probe.GROUP_UPSERT_CONFLICT,
               probe.SECRETS_CLEAR_REFUSED}
    assert spelled == set(VARIANTS)


def test_a_fresh_tenant_without_job_or_credentials(sandbox):
    sandbox.cli("sandbox", "reset")
    r = sandbox.cli("-o", "json", "probe")
    found = findings(r)
    assert r.writes == []
    assert found["collection-test"]["variant"] == probe.DEFAULT  # the test needs no job
    assert found["secrets-readback"]["answer"].startswith("not settled: no credentials are saved yet")
    assert found["log-filters"]["answer"] == "not settled: no provisioning job yet (its id is the filter)"
    assert found["schema-fields"]["request"].endswith("/synchronization/templates/scim/schema")  # the template's


def test_fields_the_cli_does_not_know_are_listed(sandbox):
    assert sandbox.set_up().code == 0
    t = sandbox.tenant()
    schema = next(iter(t.state["schemas"].values()))
    schema["newTopLevel"] = 1
    schema["synchronizationRules"][0]["objectMappings"][0]["attributeMappings"][0]["source"]["shiny"] = True
    sandbox.save(t)
    found = findings(sandbox.cli("-o", "json", "probe"))
    assert found["schema-fields"]["evidence"]["unknown"] == [
        "newTopLevel", "synchronizationRules[].objectMappings[].attributeMappings[].source.shiny"]


def test_probe_text_and_trace(sandbox, tmp_path):
    assert sandbox.set_up().code == 0
    path = tmp_path / "probe.jsonl"
    r = sandbox.cli("--trace", str(path), "probe")
    assert r.code == 0, r.err
    assert "15 behaviours: 7 settled, 7 not settled without a write, 1 not settled here" in r.out
    assert "/servicePrincipals/{sp}/synchronization/jobs/{job}/schema" in r.out
    assert "testing the connection to https://natoma.sandbox.test/scim/v2 with a deliberately wrong token" in r.err
    traced = [line for line in path.read_text().splitlines() if '"kind": "graph"' in line]
    assert len(traced) == len(r.requests)
    assert probe.WRONG_TOKEN not in path.read_text() or '"SecretToken", "value": "***"' in path.read_text()


def test_every_request_the_probe_sends_is_in_its_permissions_row(sandbox):
    import re

    from natoma_entra import permissions

    r = run_probe(sandbox)
    allowed = {permissions.BY_KEY[k] for k in permissions.COMMANDS["probe"]}
    for method, path, _s in r.requests:
        req = permissions.request_for(method, re.sub(r"^(https?://[^/]+)?/v1\.0", "", path.split("?")[0]))
        assert req in allowed, (method, path)


# -- the pure judges -------------------------------------------------------------------------------------------------

def answer(body=None, *, status=None, code="", message=""):
    if status is not None and status >= 400:
        return probe.Answer("GET x", error=GraphError(status=status, code=code, message=message))
    return probe.Answer("GET x", status=200, body=body)


def test_templates_answers():
    assert probe.judge_templates(answer([{"id": "scim"}, {"id": "customappsso"}])).variant == probe.DEFAULT
    assert probe.judge_templates(answer([])).variant == probe.TEMPLATES_UNLISTED
    assert probe.judge_templates(answer([{"id": "customappsso"}])).variant == probe.LEGACY_TEMPLATE_ONLY
    other = probe.judge_templates(answer([{"id": "gallery"}]))
    assert other.settled and other.variant is None and "not scim" in other.answer
    denied = probe.judge_templates(answer(status=403, code="Authorization_RequestDenied", message="no"))
    assert not denied.settled and "(403 Authorization_RequestDenied)" in denied.answer


def test_collection_test_answers():
    assert probe.judge_collection_test(None).answer.startswith("not settled: no SCIM URL")
    refused = probe.judge_collection_test(answer(status=400, code="BadRequest", message="not supported"))
    assert refused.variant == probe.COLLECTION_TEST_REFUSED
    endpoint = probe.judge_collection_test(answer(status=400, code="X", message="401 Unauthorized from endpoint"))
    assert endpoint.variant == probe.DEFAULT
    assert not probe.judge_collection_test(answer(status=403, code="Authorization_RequestDenied")).settled


def test_failure_body_answers():
    syncfabric = answer(status=400, code="UnknownError",
                        message='{"Message": "Credential validation failed. Details: 401", "Code": "C"}')
    assert probe.judge_failure_body(None, syncfabric).variant == probe.VALIDATE_SYNCFABRIC_BODY
    other = probe.judge_failure_body(answer(status=422, code="Weird", message="unauthorized"))
    assert other.settled and other.variant is None
    assert not probe.judge_failure_body(answer(status=400, code="BadRequest", message="no job")).settled


@pytest.mark.parametrize("values,variant,settled", [
    ({"BaseAddress": "https://x", "SecretToken": "*", "SyncAll": "false"}, probe.DEFAULT, True),
    ({"BaseAddress": "*", "SecretToken": "*", "SyncAll": "*"}, probe.SECRETS_MASKED, True),
    ({"BaseAddress": "*", "SecretToken": "*", "SyncAll": "false"}, None, True),
    ({}, None, False),
])
def test_secrets_answers(values, variant, settled):
    f = probe.judge_secrets(answer({"value": [{"key": k, "value": v} for k, v in values.items()]}))
    assert (f.variant, f.settled) == (variant, settled)


def test_owned_by_is_settled_only_by_an_owned_by_identity():
    only = Claims(sign_in="application", roles=["Application.ReadWrite.OwnedBy", "Synchronization.ReadWrite.All"])
    assert probe.judge_owned_by(only, "").settled
    wide = Claims(sign_in="application", roles=["Application.ReadWrite.OwnedBy", "Application.Read.All"])
    assert not probe.judge_owned_by(wide, "").settled
    assert probe.judge_owned_by(None, "not a JSON Web Token").answer.endswith("(not a JSON Web Token)")


def test_unknown_fields_walks_every_level():
    schema = {"id": "s", "@odata.context": "x", "directories": [{"name": "d", "objects": [
        {"name": "User", "attributes": [{"name": "a", "extra": 1}]}]}],
        "synchronizationRules": [{"objectMappings": [{"attributeMappings": [
            {"source": {"type": "Function", "parameters": [{"key": "k", "value": {"name": "n", "odd": 2}}]}}]}]}]}
    assert probe.unknown_fields(schema) == [
        "directories[].objects[].attributes[].extra",
        "synchronizationRules[].objectMappings[].attributeMappings[].source.parameters[].value.odd"]
