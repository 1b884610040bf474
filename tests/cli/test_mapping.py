"""`natoma-entra mapping` against the sandbox: job creation, re-run without PUT, replace, missing attribute,
multi-role both ways, lossless round trip, dry run."""
from __future__ import annotations

import copy

import pytest

from natoma_entra.graph.client import GraphClient
from natoma_entra.natoma_roles import MULTI_ROLE_TARGET, SINGLE_ROLE_TARGET
from natoma_entra.sandbox.schema_template import USER_RULE_ID
from natoma_entra.steps.mapping import attribute_definition, role_mapping

SINGLE = role_mapping("SingleAppRoleAssignment", SINGLE_ROLE_TARGET)
MULTI = role_mapping("AssertiveAppRoleAssignmentsComplex", MULTI_ROLE_TARGET)


# -- helpers over the sandbox's state ---------------------------------------------------------------------------------

def the_job(tenant) -> dict | None:
    jobs = list(tenant.state["jobs"].get(tenant.find_sp("Natoma")["id"], {}).values())
    assert len(jobs) <= 1
    return jobs[0] if jobs else None


def the_schema(tenant) -> dict:
    return tenant.state["schemas"][the_job(tenant)["id"]]


def user_mappings(schema: dict) -> list[dict]:
    rule = next(r for r in schema["synchronizationRules"]
                if any(m["sourceObjectName"] == "User" for m in r["objectMappings"]))
    return next(m for m in rule["objectMappings"] if m["sourceObjectName"] == "User")["attributeMappings"]


def target_attrs(schema: dict) -> list[dict]:
    rule = schema["synchronizationRules"][0]
    d = next(d for d in schema["directories"] if d["name"] == rule["targetDirectoryName"])
    return next(o for o in d["objects"] if o["name"] == "User")["attributes"]


def role_mappings(schema: dict) -> dict[str, dict]:
    return {m["targetAttributeName"]: m for m in user_mappings(schema)
            if m["targetAttributeName"] in (SINGLE_ROLE_TARGET, MULTI_ROLE_TARGET)}


def edit_schema(sandbox, change) -> None:
    t = sandbox.tenant()
    change(the_schema(t))
    sandbox.save(t)


def puts(r) -> list:
    return [w for w in r.writes if w[0] == "PUT"]


@pytest.fixture
def with_job(sandbox):
    """A sandbox whose app has its job and the single-role mapping (one `mapping` run)."""
    r = sandbox.cli("mapping")
    assert r.code == 0, r.err
    return sandbox


@pytest.fixture
def wire(monkeypatch):
    """Schema bodies as they crossed the wire: GET answers and PUT bodies of .../schema."""
    seen = {"get": [], "put": []}
    get, put = GraphClient.get, GraphClient.put

    async def spy_get(self, path, params=None, **kw):
        body = await get(self, path, params, **kw)
        if path.endswith("/schema"):
            seen["get"].append(copy.deepcopy(body))
        return body

    async def spy_put(self, path, body, **kw):
        if path.endswith("/schema"):
            seen["put"].append(copy.deepcopy(body))
        return await put(self, path, body, **kw)

    monkeypatch.setattr(GraphClient, "get", spy_get)
    monkeypatch.setattr(GraphClient, "put", spy_put)
    return seen


# -- the tests --------------------------------------------------------------------------------------------------------

def test_fresh_app_gets_a_job_and_the_single_role_mapping(sandbox):
    assert the_job(sandbox.tenant()) is None
    r = sandbox.cli("mapping", "--output", "json")
    assert r.code == 0, r.err
    # create the job, record it on the app registration (natoma_entra/marks.py), then one PUT of the schema
    assert [w[0] for w in r.writes] == ["POST", "PATCH", "PUT"]
    assert f"natoma-entra:job:{the_job(sandbox.tenant())['id']}" in sandbox.tenant().find_app("Natoma")["tags"]
    doc = r.json()
    step = doc["steps"][0]
    assert step["status"] == "changed" and doc["ok"] is True
    assert [c["action"] for c in step["changes"]] == ["create", "create"]
    assert step["changes"][0]["detail"]["templateId"] == "scim"
    job = the_job(sandbox.tenant())
    assert job["templateId"] == "scim"
    assert step["info"] == {"jobId": job["id"], "ruleId": USER_RULE_ID, "mode": "single-role"}
    assert role_mappings(the_schema(sandbox.tenant())) == {SINGLE_ROLE_TARGET: SINGLE}


def test_second_run_reads_and_writes_nothing(with_job):
    r = with_job.cli("mapping")
    assert r.code == 0, r.err
    assert r.writes == []
    assert "mapping: unchanged" in r.out
    assert sum(1 for q in r.requests if q[1].endswith("/schema")) == 1  # one GET of the schema


def test_existing_job_is_reused_not_recreated(with_job):
    job_id = the_job(with_job.tenant())["id"]
    edit_schema(with_job, lambda s: user_mappings(s).remove(SINGLE))
    r = with_job.cli("mapping")
    assert r.code == 0, r.err
    assert [w[0] for w in r.writes] == ["PUT"]
    assert the_job(with_job.tenant())["id"] == job_id


def replicating(sandbox, seconds: float = 4.0):
    """The sandbox's new objects replicate for `seconds` of its simulated clock, and the run waits as a real one."""
    from natoma_entra.sandbox.clock import VirtualClock
    from natoma_entra.waits import Waits

    sandbox.options.clock = VirtualClock()
    sandbox.options.replication_seconds = seconds
    sandbox.waits = Waits(poll=(0.2, 0.5, 1, 2, 3, 5, 5, 8, 10, 15, 20))


def test_job_not_readable_right_after_creation_is_waited_for(sandbox, monkeypatch):
    """The POST's answer holds only the id: the job is read back, and it answers 404 while it replicates; its schema
    PUT answers 409 a while longer (graph/retry.py waits both out)."""
    post = GraphClient.post

    async def bodiless_post(self, path, body=None, **kw):  # an answer with the id only: the job is read back
        answer = await post(self, path, body, **kw)
        return {"id": answer["id"]} if path.endswith("/synchronization/jobs") else answer

    monkeypatch.setattr(GraphClient, "post", bodiless_post)
    replicating(sandbox)
    r = sandbox.cli("mapping")
    assert r.code == 0, r.err
    job_reads = [q[2] for q in r.requests if q[0] == "GET" and "/synchronization/jobs/" in q[1]
                 and not q[1].split("?")[0].endswith("/schema")]
    assert job_reads[0] == 404 and job_reads[-1] == 200
    puts_ = [q[2] for q in r.requests if q[0] == "PUT" and q[1].split("?")[0].endswith("/schema")]
    assert puts_[0] == 409 and puts_[-1] == 204
    assert role_mappings(the_schema(sandbox.tenant())) == {SINGLE_ROLE_TARGET: SINGLE}


def test_a_created_job_in_the_answer_is_not_read_again_and_its_schema_read_waits(sandbox):
    replicating(sandbox)
    r = sandbox.cli("mapping")
    assert r.code == 0, r.err
    job_schema = [q for q in r.requests if "/synchronization/jobs/" in q[1] and q[1].split("?")[0].endswith("/schema")]
    assert [q[2] for q in job_schema if q[0] == "GET"][0] == 404  # its schema waited for
    assert [q[2] for q in job_schema if q[0] == "PUT"][-1] == 204
    assert not [q for q in r.requests if q[0] == "GET" and "/synchronization/jobs/" in q[1]
                and not q[1].split("?")[0].endswith("/schema")]  # the job itself: not read again
    assert role_mappings(the_schema(sandbox.tenant())) == {SINGLE_ROLE_TARGET: SINGLE}


def test_a_different_expression_is_replaced_and_reported(with_job):
    old_source = {"expression": "[department]", "name": "department", "parameters": [], "type": "Attribute"}

    def other(schema):
        user_mappings(schema)[-1]["source"] = old_source

    edit_schema(with_job, other)
    r = with_job.cli("mapping", "--output", "json")
    assert r.code == 0, r.err
    (change,) = r.json()["steps"][0]["changes"]
    assert change["action"] == "update"
    assert change["detail"]["oldExpression"] == "[department]"
    assert change["detail"]["old"]["source"] == old_source
    assert role_mappings(the_schema(with_job.tenant())) == {SINGLE_ROLE_TARGET: SINGLE}
    text = with_job.cli("mapping")  # and nothing more to do
    assert text.writes == []


def test_replacement_is_shown_in_text(with_job):
    edit_schema(with_job, lambda s: user_mappings(s)[-1].update(
        source={"expression": "[jobTitle]", "name": "jobTitle", "parameters": [], "type": "Attribute"}))
    r = with_job.cli("mapping")
    assert r.code == 0, r.err
    assert "replaces [jobTitle]" in r.out


def test_missing_target_attribute_is_defined_in_the_same_put(sandbox):
    sandbox.cli("--dry-run", "mapping")  # nothing written
    assert the_job(sandbox.tenant()) is None
    # make the job, then take the attribute away and the mapping with it (the sandbox refuses a dangling target)
    assert sandbox.cli("mapping").code == 0

    def strip(schema):
        user_mappings(schema).remove(SINGLE)
        target_attrs(schema)[:] = [a for a in target_attrs(schema) if a["name"] != SINGLE_ROLE_TARGET]

    edit_schema(sandbox, strip)
    r = sandbox.cli("mapping")
    assert r.code == 0, r.err
    assert len(puts(r)) == 1
    assert "created: attribute roles[primary eq \"True\"].value on customappsso User" in r.out
    schema = the_schema(sandbox.tenant())
    assert target_attrs(schema)[-1] == attribute_definition(SINGLE_ROLE_TARGET, multivalued=False)
    assert role_mappings(schema) == {SINGLE_ROLE_TARGET: SINGLE}


def test_multi_role_switch_and_back(with_job):
    r = with_job.cli("mapping", "--multi-role")
    assert r.code == 0, r.err
    assert len(puts(r)) == 1
    schema = the_schema(with_job.tenant())
    assert role_mappings(schema) == {MULTI_ROLE_TARGET: MULTI}
    roles_def = [a for a in target_attrs(schema) if a["name"] == "roles"]
    assert roles_def == [attribute_definition("roles", multivalued=True)]
    assert "deleted: user mapping SingleAppRoleAssignment([appRoleAssignments])" in r.out

    again = with_job.cli("mapping", "--multi-role")
    assert again.code == 0 and again.writes == []

    back = with_job.cli("mapping", "--single-role", "--output", "json")
    assert back.code == 0, back.err
    assert [c["action"] for c in back.json()["steps"][0]["changes"]] == ["delete", "create"]
    schema = the_schema(with_job.tenant())
    assert role_mappings(schema) == {SINGLE_ROLE_TARGET: SINGLE}
    assert with_job.cli("mapping").writes == []


def test_round_trip_is_lossless_with_unknown_fields(with_job, wire):
    def decorate(schema):
        schema["someFutureProperty"] = {"nested": [1, "mixed", None, {"a": None}], "when": "2024-01-02T03:04:05Z"}
        schema["directories"][0]["unknownDirectoryField"] = None
        target_attrs(schema)[0]["apiExpressions"] = [{"key": "ReferenceValue", "value": "[value]"}]
        user_mappings(schema)[3]["unknownMappingField"] = {"x": None}
        user_mappings(schema).remove(SINGLE)
        schema["synchronizationRules"][0]["objectMappings"][0]["metadata"].append({"key": "NewKey", "value": None})

    edit_schema(with_job, decorate)
    r = with_job.cli("mapping")
    assert r.code == 0, r.err
    (got,), (sent,) = wire["get"], wire["put"]
    assert any(k.startswith("@odata.") for k in got)  # the sandbox annotates like Graph does
    expected = {k: v for k, v in got.items() if not k.startswith("@odata.")}
    user_mappings(expected).append(SINGLE)
    assert sent == expected
    stored = the_schema(with_job.tenant())
    assert stored["someFutureProperty"] == {"nested": [1, "mixed", None, {"a": None}], "when": "2024-01-02T03:04:05Z"}
    assert user_mappings(stored)[3]["unknownMappingField"] == {"x": None}


def test_dry_run_on_a_fresh_app_plans_against_the_template(sandbox):
    r = sandbox.cli("--dry-run", "mapping")
    assert r.code == 0, r.err
    assert r.writes == []
    assert the_job(sandbox.tenant()) is None
    assert "would create: provisioning job (template scim)" in r.out
    assert "planned against the 'scim' template's default schema" in r.out
    assert "+ synchronizationRules[0].objectMappings[0].attributeMappings[22] =" in r.out
    assert '"expression": "SingleAppRoleAssignment([appRoleAssignments])"' in r.out
    assert any(q[1].endswith("/templates/scim/schema") for q in r.requests)
    pending = sandbox.cli("--dry-run", "--exit-code", "mapping")
    assert pending.code == 3


def test_dry_run_with_a_job_shows_the_json_diff_and_writes_nothing(with_job):
    before = the_schema(with_job.tenant())
    r = with_job.cli("mapping", "--multi-role", "--dry-run", "--output", "json")
    assert r.code == 0 and r.writes == []
    step = r.json()["steps"][0]
    assert step["status"] == "planned"
    diffs = [line for c in step["changes"] for line in c["detail"]["diff"]]
    assert any(line.startswith("- synchronizationRules[0].objectMappings[0].attributeMappings[") for line in diffs)
    assert any('"name": "roles"' in line for line in diffs)
    assert the_schema(with_job.tenant()) == before


def test_help_has_an_example(sandbox):
    r = sandbox.cli("mapping", "--help")
    assert r.code == 0
    assert "Example: natoma-entra" in r.out and "--multi-role" in r.out
