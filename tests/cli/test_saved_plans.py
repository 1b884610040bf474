"""Saved plans (issue 24): `--plan-out FILE` is a read-only run that saves the plan; `natoma-entra apply FILE` applies
exactly it, or refuses with exit 4 (nothing written) when the file was altered, is for another tenant or app, was made
in a format this version cannot read, or when anything it was made from changed since."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from natoma_entra.fingerprints import digest
from natoma_entra.sandbox.state import NATOMA_TOKEN

REFUSED = 4


def outcome(tenant) -> dict:
    """What a tenant holds for Natoma: roles, assignments, jobs and their state, schemas, saved credentials."""
    st = tenant.state
    sp = tenant.find_sp("Natoma")
    jobs = st["jobs"].get(sp["id"], {})
    return {"roles": sorted((r.get("value"), r["id"], r["isEnabled"]) for r in tenant.find_app("Natoma")["appRoles"]
                            if r.get("value")),
            "assignments": sorted((a["principalId"], a["appRoleId"]) for a in st["appRoleAssignments"].values()),
            "jobs": {j: (job["schedule"]["state"], job["status"]["code"], st["schemas"].get(j))
                     for j, job in jobs.items()},
            "secrets": sorted((s["key"], s["value"]) for s in st["secrets"].get(sp["id"], []))}


def reseal(path: Path, change) -> None:
    """Change a plan file and give it a checksum that matches again (what a forger, or another tenant, would have)."""
    doc = json.loads(path.read_text())
    change(doc)
    doc.pop("checksum")
    doc["checksum"] = digest(doc)
    path.write_text(json.dumps(doc))


@pytest.fixture
def plan_path(tmp_path) -> Path:
    return tmp_path / "plan.json"


def test_a_saved_setup_plan_applied_ends_as_setup_does_and_cannot_be_applied_twice(sandbox, plan_path):
    reference = outcome(sandbox.reference())
    made = sandbox.cli("setup", "--plan-out", str(plan_path))
    assert made.code == 0, made.err
    assert made.writes == [], "the plan run wrote"  # read-only: its Graph client refuses writes
    assert "plan saved to" in made.err and "would create: role Admin (admin)" in made.out
    doc = json.loads(plan_path.read_text())
    assert doc["command"] == "setup" and doc["needs_token"] is True
    assert [s["step"] for s in doc["steps"]] == ["roles", "assign", "mapping", "credentials", "start"]
    assert {"app", "app-roles", "assignments", "job", "secrets"} <= set(doc["reads"])

    applied = sandbox.cli("apply", str(plan_path))
    assert applied.code == 0, applied.err
    assert "done: the saved plan was applied" in applied.out
    assert outcome(sandbox.tenant()) == reference
    assert sandbox.cli("--exit-code", "status").code == 0

    again = sandbox.cli("apply", str(plan_path))  # the tenant is no longer what the plan was made from
    assert again.code == REFUSED and again.writes == []
    assert "error: apply: the app roles: changed since the plan was made" in again.err


def test_the_operations_applied_are_the_saved_ones(sandbox, plan_path):
    """The saved PATCH bodies go out as saved: a role's display name in the plan is what Graph receives, and a plan
    whose operations are not what planning now gives is refused, naming the step."""
    assert sandbox.cli("roles", "--plan-out", str(plan_path)).code == 0
    doc = json.loads(plan_path.read_text())
    (patch,) = doc["steps"][0]["operations"]
    assert patch["kind"] == "patch-app-roles" and {r["value"] for r in patch["app_roles"]} >= {"admin", "member"}

    def rename(d):
        d["steps"][0]["operations"][0]["app_roles"][-1]["displayName"] = "Someone else's role"

    reseal(plan_path, rename)
    r = sandbox.cli("apply", str(plan_path))
    assert r.code == REFUSED and r.writes == []
    assert "roles: what it would write now differs from the saved plan (saved PATCH /applications/" in r.err


def _change_roles(t):
    role = next(r for r in t.find_app("Natoma")["appRoles"] if r.get("value") == "member")
    role["isEnabled"] = False


def _change_assignments(t):
    del t.state["appRoleAssignments"][next(iter(t.state["appRoleAssignments"]))]


def _change_groups(t):
    """The group "Natoma Members" deleted and made again: same name, another object."""
    old = next(g for g in t.state["groups"].values() if g["displayName"] == "Natoma Members")
    new = dict(old, id="0b6f2a47-0000-4000-8000-00000000b1a5")
    del t.state["groups"][old["id"]]
    t.state["groups"][new["id"]] = new
    t.state["members"][new["id"]] = t.state["members"].pop(old["id"])


def _change_job(t):
    (job,) = t.state["jobs"][t.find_sp("Natoma")["id"]].values()
    job["schedule"]["state"] = "Paused"


def _change_schema(t):
    (job_id,) = t.state["jobs"][t.find_sp("Natoma")["id"]]
    mappings = t.state["schemas"][job_id]["synchronizationRules"][0]["objectMappings"][0]["attributeMappings"]
    mappings.pop(0)


def _change_secrets(t):
    for s in t.state["secrets"][t.find_sp("Natoma")["id"]]:
        if s["key"] == "BaseAddress":
            s["value"] = "https://natoma.sandbox.test/scim/v2/"


def _change_app(t):
    t.find_app("Natoma")["notes"] = "Created by natoma-entra (app create). `natoma-entra teardown --delete-app` may " \
                                    "delete it."


@pytest.mark.parametrize("change,line", [
    (_change_roles, "the app roles"),
    (_change_assignments, "the app's assignments"),
    (_change_groups, "the configured groups"),
    (_change_job, "the provisioning job"),
    (_change_schema, "the provisioning job's schema (its mappings)"),
    (_change_secrets, "the saved credentials (Tenant URL and scope)"),
    (_change_app, "the app"),
], ids=["roles", "assignments", "groups", "job", "schema", "secrets", "app"])
def test_a_plan_is_refused_after_each_kind_of_object_it_was_made_from_changed(sandbox, plan_path, change, line):
    assert sandbox.set_up().code == 0
    assert sandbox.cli("setup", "--plan-out", str(plan_path)).code == 0  # nothing to do: an empty plan
    tenant = sandbox.tenant()
    change(tenant)
    sandbox.save(tenant)
    before = outcome(sandbox.tenant())
    r = sandbox.cli("apply", str(plan_path))
    assert r.code == REFUSED, r.out + r.err
    assert r.writes == [] and outcome(sandbox.tenant()) == before
    assert f"error: apply: {line}: changed since the plan was made" in r.err.splitlines()
    assert "Fix: plan again" in r.err


def test_an_empty_plan_applied_writes_nothing(sandbox, plan_path):
    assert sandbox.set_up().code == 0
    made = sandbox.cli("setup", "--plan-out", str(plan_path))
    assert made.code == 0 and "0 operations; nothing to apply" in made.err
    doc = json.loads(plan_path.read_text())
    assert all(not s["operations"] for s in doc["steps"]) and doc["needs_token"] is False
    before = outcome(sandbox.tenant())
    r = sandbox.cli("apply", str(plan_path))
    assert r.code == 0, r.err
    assert r.requests and r.writes == []
    assert outcome(sandbox.tenant()) == before
    assert "nothing to do: the plan holds no change" in r.out


def test_an_altered_plan_is_refused(sandbox, plan_path):
    assert sandbox.cli("roles", "--plan-out", str(plan_path)).code == 0
    text = plan_path.read_text()
    plan_path.write_text(text.replace('"displayName": "Member"', '"displayName": "Owner"', 1))
    r = sandbox.cli("apply", str(plan_path))
    assert r.code == REFUSED and r.requests == []  # refused before signing in
    assert "error: apply: the plan file was altered after it was written" in r.err


def test_a_plan_for_another_app_is_refused_before_anything_is_read(sandbox, plan_path):
    assert sandbox.cli("roles", "--plan-out", str(plan_path)).code == 0
    r = sandbox.cli("--app", "Natoma Staging", "apply", str(plan_path))
    assert r.code == REFUSED and r.requests == []
    assert "the plan is for the app 'Natoma' (appId " in r.err and "not 'Natoma Staging'" in r.err
    # the same app named by its appId is the plan's app
    app_id = json.loads(plan_path.read_text())["app"]["appId"]
    assert sandbox.cli("--app", app_id, "apply", "--dry-run", str(plan_path)).code == 0


def test_a_plan_for_another_tenant_is_refused(sandbox, plan_path):
    assert sandbox.cli("roles", "--plan-out", str(plan_path)).code == 0
    reseal(plan_path, lambda d: d["tenant"].update(id="72f988bf-86f1-41af-91ab-2d7cd011db47"))
    r = sandbox.cli("apply", str(plan_path))
    assert r.code == REFUSED and r.writes == []
    assert "the plan is for the tenant 72f988bf-86f1-41af-91ab-2d7cd011db47; this run signs in to the tenant " in r.err


def test_a_plan_in_a_format_this_version_cannot_read_is_refused(sandbox, plan_path):
    assert sandbox.cli("roles", "--plan-out", str(plan_path)).code == 0
    reseal(plan_path, lambda d: d.update(format_version=2, made_by="natoma-entra 9.0.0"))
    r = sandbox.cli("apply", str(plan_path))
    assert r.code == REFUSED and r.requests == []
    assert "the plan was made by natoma-entra 9.0.0 in plan format 2; natoma-entra " in r.err
    reseal(plan_path, lambda d: d.update(format_version=1, steps=[{"step": "roles", "operations": [{"kind": "new"}]}]))
    r = sandbox.cli("apply", str(plan_path))
    assert r.code == REFUSED and "cannot read (at steps.0.operations.0" in r.err


def test_a_file_that_is_not_a_plan_is_bad_input(sandbox, tmp_path):
    report = tmp_path / "report.json"
    report.write_text(sandbox.cli("-o", "json", "status").out)
    r = sandbox.cli("apply", str(report))
    assert r.code == 2 and "is not a natoma-entra plan" in r.err and "--plan-out FILE" in r.err


def test_a_plan_file_never_holds_the_scim_token(sandbox, plan_path, tmp_path):
    """Made with a token at hand (the sandbox's own), a plan that saves credentials holds no trace of it: the token's
    place in PutSecrets is empty, and the plan says only that one is needed. Applying it without a token is exit 2,
    nothing written; with one, the saved credentials hold it."""
    assert sandbox.set_up().code == 0
    made = sandbox.cli("credentials", "--rotate", "--plan-out", str(plan_path))
    assert made.code == 0, made.err
    text = plan_path.read_text()
    assert NATOMA_TOKEN not in text and NATOMA_TOKEN[:16] not in text
    doc = json.loads(text)
    (put,) = [op for s in doc["steps"] for op in s["operations"] if op["kind"] == "put-secrets"]
    assert {"key": "SecretToken", "value": ""} in put["items"] and doc["needs_token"] is True

    sandbox.scim_token = None  # the apply run has no token from anywhere
    r = sandbox.cli("apply", str(plan_path))
    assert r.code == 2 and r.writes == [] and "no SCIM token given" in r.err
    sandbox.scim_token = NATOMA_TOKEN
    r = sandbox.cli("apply", "--yes", str(plan_path))  # --rotate replaces the saved token: asked, as credentials asks
    assert r.code == 0, r.err
    sp = sandbox.tenant().find_sp("Natoma")
    assert {"key": "SecretToken", "value": NATOMA_TOKEN} in sandbox.tenant().state["secrets"][sp["id"]]


def test_a_plan_that_creates_the_app_for_setup_is_refused_and_app_create_is_not(sandbox, plan_path, tmp_path):
    """setup --create-app plans the later steps against ids the app does not have yet: refused at --plan-out (exit 2,
    no file). `app create` alone saves and applies."""
    from natoma_entra.sandbox.state import Tenant

    Tenant.initial(empty=True).save(sandbox.path)
    r = sandbox.cli("setup", "--create-app", "--create-groups", "--plan-out", str(plan_path))
    assert r.code == 2 and not plan_path.exists()
    assert "--plan-out cannot save a plan that creates the app" in r.err and "app create NAME" in r.err
    app_plan = tmp_path / "app.json"
    assert sandbox.cli("app", "create", "Natoma", "--plan-out", str(app_plan)).code == 0
    assert json.loads(app_plan.read_text())["app"] == {"displayName": "Natoma", "appId": "(not created yet)"}
    r = sandbox.cli("apply", str(app_plan))
    assert r.code == 0, r.err
    assert sandbox.tenant().find_sp("Natoma")
    assert sandbox.cli("apply", str(app_plan)).code == REFUSED  # the app exists now: not what the plan was made from


def test_a_teardown_plan_asks_first_and_applies_with_yes(sandbox, plan_path):
    assert sandbox.set_up().code == 0
    made = sandbox.cli("teardown", "--plan-out", str(plan_path))  # a dry run: no --yes needed to plan
    assert made.code == 0 and made.writes == []
    r = sandbox.cli("apply", str(plan_path))  # deletes, and no terminal to ask at
    assert r.code == 2 and r.writes == [] and "and asks first: no terminal is attached" in r.err
    r = sandbox.cli("apply", "--yes", str(plan_path))
    assert r.code == 0, r.err
    t = sandbox.tenant()
    assert not t.state["appRoleAssignments"] and not t.state["jobs"].get(t.find_sp("Natoma")["id"])


def test_apply_checks_the_permissions_before_the_first_write(sandbox, plan_path):
    assert sandbox.cli("setup", "--plan-out", str(plan_path)).code == 0
    sandbox.options.denied_permissions = {"AppRoleAssignment.ReadWrite.All"}
    r = sandbox.cli("apply", str(plan_path))
    assert r.code == 2 and r.writes == []
    assert "AppRoleAssignment.ReadWrite.All" in r.err


def test_apply_dry_run_says_the_plan_still_applies_and_writes_nothing(sandbox, plan_path):
    assert sandbox.cli("setup", "--plan-out", str(plan_path)).code == 0
    r = sandbox.cli("--exit-code", "apply", "--dry-run", str(plan_path))
    assert r.code == 3 and r.writes == []  # changes pending
    assert "dry run: the plan still applies; nothing was written" in r.out


def test_plan_out_to_a_directory_that_does_not_exist_is_bad_input(sandbox, tmp_path):
    r = sandbox.cli("roles", "--plan-out", str(tmp_path / "no" / "plan.json"))
    assert r.code == 2 and r.requests == [] and "--plan-out" in r.err


def test_a_refusal_under_json_output_is_one_document_listing_every_reason(sandbox, plan_path):
    assert sandbox.set_up().code == 0
    assert sandbox.cli("setup", "--plan-out", str(plan_path)).code == 0
    tenant = sandbox.tenant()
    _change_roles(tenant)
    _change_job(tenant)
    sandbox.save(tenant)
    r = sandbox.cli("-o", "json", "apply", str(plan_path))
    doc = r.json()
    assert r.code == REFUSED and doc["exit_code"] == REFUSED and doc["ok"] is False
    assert {"the app roles: changed since the plan was made",
            "the provisioning job: changed since the plan was made"} <= set(doc["refused"])


def test_every_kind_of_operation_a_writing_command_plans_can_be_saved():
    """An operation kind added to a step must be added to the plan file's union too (plan_file.AnyOperation), or a
    plan holding it could not be read back: every Operation subclass but provision on demand (`provision` takes no
    --plan-out) is in it, each by its own kind."""
    from typing import get_args

    import natoma_entra.plan_file as plan_file
    import natoma_entra.steps.provision  # noqa: F401 - its operation too
    from natoma_entra.steps.base import Operation

    def subclasses(cls):
        return {c for s in cls.__subclasses__() for c in {s} | subclasses(s)}

    found = {c.model_fields["kind"].default for c in subclasses(Operation)}
    union = get_args(get_args(plan_file.AnyOperation)[0])
    saved = {c.model_fields["kind"].default for c in union}
    assert found - saved == {"provision-on-demand"}
    assert len(saved) == len(union)
