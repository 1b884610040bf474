"""Each setup step's plan(current, desired, facts), table-driven: pure, no Graph, no sandbox."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from natoma_entra.config import Config
from natoma_entra.steps import assignments, credentials, mapping, roles, start
from natoma_entra.steps.base import DRIFTED, IN_PLACE, MISSING, Desired, Facts, Options
from natoma_entra.steps.roles import desired_role, role_id

APP_ID = "11111111-1111-1111-1111-111111111111"
SP = "sp-1"
ADMINS, MEMBERS, OTHERS = "g-admins", "g-members", "g-others"


def app(roles_=(), sp_roles=None):
    """An App as graph.lookups returns it: the application holds the roles, the service principal shows them."""
    return SimpleNamespace(app_id=APP_ID, sp_id=SP, planned=False, application={"id": "app-1", "appRoles": list(roles_)},
                           service_principal={"id": SP, "appId": APP_ID,
                                              "appRoles": list(roles_ if sp_roles is None else sp_roles)})


def desired(**opts):
    return Desired(Config(app="Natoma", scim={"url": "https://acme.natoma.app/scim/v2"}), Options(**opts))


NATOMA = [desired_role(APP_ID, d, v) for d, v in (("Admin", "admin"), ("AppAdmin", "AppAdmin"), ("Member", "member"))]
FOREIGN = {"id": "f-1", "value": "Reader", "displayName": "Reader", "isEnabled": True, "allowedMemberTypes": ["User"],
           "description": "someone else's", "origin": "Application"}


# -- roles --------------------------------------------------------------------------------------------------------------

def roles_plan(current_roles, sp_roles=None, **opts):
    a = app(current_roles, sp_roles)
    return roles.plan(roles.Current(app=a, roles=current_roles, sp_roles=a.service_principal["appRoles"]),
                      desired(**opts), Facts())


def test_roles_fresh_app_one_patch_creating_three_and_keeping_foreign_roles():
    p = roles_plan([FOREIGN])
    assert [c.action for c in p.changes] == ["create"] * 3
    (op,) = p.operations
    body = op.body["appRoles"]
    assert op.method == "PATCH" and op.path == "/applications/app-1"
    assert {k: v for k, v in FOREIGN.items() if k != "origin"} in body  # kept as read, minus read-only origin
    assert p.facts.role_ids == {"admin": role_id(APP_ID, "admin"), "AppAdmin": role_id(APP_ID, "AppAdmin"),
                                      "member": role_id(APP_ID, "member")}


def test_roles_in_place_plan_nothing():
    p = roles_plan(NATOMA)
    assert p.operations == [] and not p.pending and p.status_state() == IN_PLACE


def test_an_enabled_role_that_drifted_is_disabled_in_one_patch_then_changed_in_the_next():
    drifted = [dict(NATOMA[0], displayName="Administrator"), *NATOMA[1:]]
    p = roles_plan(drifted)
    first, second = p.operations
    assert [r["isEnabled"] for r in first.body["appRoles"] if r["value"] == "admin"] == [False]
    assert [r["displayName"] for r in second.body["appRoles"] if r["value"] == "admin"] == ["Admin"]
    assert p.status_state() == DRIFTED


def test_a_disabled_role_is_enabled_in_one_patch():
    p = roles_plan([dict(NATOMA[0], isEnabled=False), *NATOMA[1:]])
    (op,) = p.operations
    assert all(r["isEnabled"] for r in op.body["appRoles"])


def test_a_wider_member_type_is_kept():
    wide = [dict(NATOMA[0], allowedMemberTypes=["User", "Application"]), *NATOMA[1:]]
    p = roles_plan(wide)
    assert p.operations == []  # User is there: nothing to change, Application kept


def test_prune_disables_then_removes_foreign_roles_but_never_the_template_roles():
    template = {"id": "18d14569-c3bd-439b-9a66-3a2aee01d14f", "displayName": "User", "value": None,
                "isEnabled": True, "allowedMemberTypes": ["User"], "description": "User"}
    p = roles_plan([*NATOMA, FOREIGN, template], prune=True)
    first, second = p.operations
    assert [r["isEnabled"] for r in first.body["appRoles"] if r["id"] == "f-1"] == [False]
    ids = {r["id"] for r in second.body["appRoles"]}
    assert "f-1" not in ids and template["id"] in ids


def test_prune_leaves_a_disabled_foreign_role_alone():
    """docs/roles.md: --prune removes enabled roles outside the three; a disabled one grants nothing (issue 22)."""
    disabled = dict(FOREIGN, id="f-2", value="Retired", displayName="Retired", isEnabled=False)
    p = roles_plan([*NATOMA, disabled], prune=True)
    assert p.operations == [] and not p.pending
    p = roles_plan([*NATOMA, disabled, FOREIGN], prune=True)
    assert {r["id"] for r in p.operations[-1].body["appRoles"]} >= {"f-2"}
    assert "f-1" not in {r["id"] for r in p.operations[-1].body["appRoles"]}


def test_roles_on_the_app_but_not_yet_on_the_service_principal_wait_without_writing():
    p = roles_plan(NATOMA, sp_roles=[])
    assert [op.kind for op in p.operations] == ["wait-for-service-principal"] and not p.pending


# -- assignments --------------------------------------------------------------------------------------------------------

def group(gid, name):
    return {"id": gid, "displayName": name, "securityEnabled": True}


def grant(gid, role_value, kind="Group", name=None):
    return {"id": f"a-{gid}-{role_value}", "principalId": gid, "principalType": kind, "principalDisplayName": name or gid,
            "appRoleId": role_id(APP_ID, role_value) if role_value != "default" else assignments.DEFAULT_ACCESS}


WANTED = [("admin", group(ADMINS, "Natoma Admins")), ("member", group(MEMBERS, "Natoma Members"))]


@pytest.mark.parametrize("held, opts, ops, state, warned", [
    ([], {}, ["create-assignment", "create-assignment"], MISSING, ""),
    ([grant(ADMINS, "admin"), grant(MEMBERS, "member")], {}, [], IN_PLACE, ""),
    # a configured group that also holds another role: a conflict warning; --replace removes the other role
    ([grant(ADMINS, "admin"), grant(MEMBERS, "member"), grant(ADMINS, "default")], {}, [], IN_PLACE, "two grants"),
    ([grant(ADMINS, "admin"), grant(MEMBERS, "member"), grant(ADMINS, "default")], {"replace": True},
     ["delete-assignment"], DRIFTED, ""),
    # privilege drift: our role granted by hand to a principal not configured; --prune removes a group's grant,
    # never a user's own (docs/assign.md): that goes only when --prune-user names the user
    ([grant(ADMINS, "admin"), grant(MEMBERS, "member"), grant("u-1", "admin", "User", "Eve")], {}, [], DRIFTED,
     "not configured"),
    ([grant(ADMINS, "admin"), grant(MEMBERS, "member"), grant("u-1", "admin", "User", "Eve")], {"prune": True},
     [], DRIFTED, "--prune-user"),
    ([grant(ADMINS, "admin"), grant(MEMBERS, "member"), grant("g-9", "admin", "Group", "Ops")], {"prune": True},
     ["delete-assignment"], DRIFTED, ""),
    ([grant(ADMINS, "admin"), grant(MEMBERS, "member"), grant("u-1", "admin", "User", "Eve")],
     {"prune_users": ("eve",)}, ["delete-assignment"], DRIFTED, ""),
])
def test_assignment_plans(held, opts, ops, state, warned):
    a = app(NATOMA)
    p = assignments.plan(assignments.Current(app=a, wanted=WANTED, assignments=held), desired(**opts), Facts())
    assert [op.kind for op in p.operations] == ops
    assert p.status_state() == state
    assert (warned in " ".join(p.warnings)) if warned else not p.warnings


def test_assignments_use_the_role_ids_the_roles_plan_provides_and_need_the_roles_only_alone():
    bare = app([])  # no role on the service principal yet
    cur = assignments.Current(app=bare, wanted=WANTED, assignments=[])
    alone = assignments.plan(cur, desired(), Facts())
    assert alone.needs and not alone.needs_input and "natoma-entra roles" in alone.needs_fix
    after_roles = assignments.plan(cur, desired(), Facts(role_ids={"admin": "r-a", "member": "r-m"}))
    assert after_roles.needs is None
    assert [op.body["appRoleId"] for op in after_roles.operations] == ["r-a", "r-m"]


# -- credentials --------------------------------------------------------------------------------------------------------

URL = "https://acme.natoma.app/scim/v2"
SAVED = {"BaseAddress": URL, "SecretToken": "*", "SyncAll": "false"}


def cred_plan(facts=Facts(), **cur):
    base = dict(url=URL, scope="assigned", stored={}, secrets_readable=True, job={"id": "scim.1"})
    return credentials.plan(credentials.Current(**{**base, **cur}), desired(), facts)


@pytest.mark.parametrize("cur, kinds, state, needs, blocked", [
    (dict(stored=SAVED, saved_test="passed"), [], "verified", False, False),
    (dict(stored={**SAVED, "BaseAddress": "*", "SyncAll": "*"}, saved_test="passed"), [], "verified", False, False),
    (dict(stored={}, token_given=False), ["put-secrets"], "planned", True, False),
    (dict(stored={}, token_given=True, new_test="passed"), ["put-secrets"], "planned", False, False),
    (dict(stored={}, token_given=True, new_test="401 Unauthorized"), [], "rejected", False, True),
    (dict(stored=SAVED, saved_test="401 Unauthorized", token_given=True, new_test="passed"), ["put-secrets"],
     "planned", False, False),
    (dict(stored={}, job=None, token_given=True, new_test="inconclusive", new_test_error="400 no job"),
     ["create-job", "test-at-job-level", "put-secrets"], "planned", False, False),
])
def test_credentials_decision(cur, kinds, state, needs, blocked):
    p = cred_plan(**cur)
    assert [op.kind for op in p.operations] == kinds
    assert p.info["state"] == state
    assert bool(p.needs) is needs and p.blocked is blocked
    if kinds:
        put = p.operations[-1].body["value"]
        assert [it["value"] for it in put if it["key"] == "SecretToken"] == [""]  # the token never goes in a plan


def test_credentials_masked_values_are_said_as_unconfirmed():
    p = cred_plan(stored={**SAVED, "BaseAddress": "*"}, saved_test="passed")
    assert "masked" in p.info["unconfirmed"]


@pytest.mark.parametrize("cur, kinds, state", [
    (dict(saved_test="passed"), [], "verified"),  # what cannot be read back is confirmed by the connection test
    (dict(saved_test="401 Unauthorized", token_given=True, new_test="passed"), ["put-secrets"], "planned"),
    (dict(job=None, token_given=True, new_test="passed"), ["create-job", "put-secrets"], "planned"),
])
def test_credentials_that_cannot_be_read_back(cur, kinds, state):
    """GET .../secrets answered 400/404/405 (docs/graph-assumptions.md): the connection test decides, and what it
    cannot tell (the saved URL and scope) is said as unconfirmed, never as drift."""
    p = cred_plan(**{"secrets_readable": False, **cur})
    assert [op.kind for op in p.operations] == kinds and p.info["state"] == state
    if state == "verified":
        assert "cannot be read back" in p.info["unconfirmed"] and not p.pending
    else:
        assert any("cannot be read back" in w for w in p.warnings)
    assert credentials.reasons_to_save(credentials.Current(url=URL, scope="assigned", stored={},
                                                           secrets_readable=False, job={"id": "j"}), rotate=True)


def test_credentials_after_an_earlier_step_plans_the_job_create_no_second_job():
    p = cred_plan(Facts(job_planned=True), stored={}, job=None, token_given=True, new_test="passed")
    assert [op.kind for op in p.operations] == ["put-secrets"]


# -- start --------------------------------------------------------------------------------------------------------------

def job(code, schedule, **status):
    return {"id": "scim.1", "status": {"code": code, **status}, "schedule": {"state": schedule, "interval": "PT40M"}}


@pytest.mark.parametrize("the_job, facts, saved, opts, kinds, state, blocked", [
    (job("Active", "Active"), Facts(), True, {}, [], IN_PLACE, False),
    (job("Paused", "Paused", lastExecution={"state": "Succeeded"}), Facts(), True, {}, ["start"], DRIFTED, False),
    (job("NotConfigured", "Disabled"), Facts(), True, {}, ["start"], MISSING, False),
    (job("Quarantine", "Active", quarantine={"reason": "EncounteredQuarantineException"}), Facts(), True, {},
     ["start"], DRIFTED, False),
    (job("Active", "Active"), Facts(), True, {"restart": True}, ["restart"], DRIFTED, False),
    (job("NotConfigured", "Disabled"), Facts(), False, {}, [], "failed", True),  # no credentials saved
    (job("NotConfigured", "Disabled"), Facts(credentials_planned=True), False, {}, ["start"], MISSING, False),
    (None, Facts(job_planned=True, credentials_planned=True), False, {}, ["start"], MISSING, False),
    (None, Facts(), False, {}, [], "failed", True),  # no job and none planned
])
def test_start_decision(the_job, facts, saved, opts, kinds, state, blocked):
    p = start.plan(start.Current(app=app(NATOMA), job=the_job, credentials_saved=saved), desired(**opts), facts)
    assert [op.kind for op in p.operations] == kinds
    assert p.status_state() == state and p.blocked is blocked


def test_restart_body_carries_the_reset_scope():
    p = start.plan(start.Current(app=app(NATOMA), job=job("Active", "Active"), credentials_saved=True),
                   desired(restart=True, reset_scope="watermark"), Facts())
    assert p.operations[0].body == {"criteria": {"resetScope": "Watermark"}}


# -- mapping ------------------------------------------------------------------------------------------------------------

def test_mapping_without_a_job_plans_the_job_and_the_schema_from_the_template():
    from natoma_entra.sandbox.schema_template import default_schema

    cur = mapping.Current(app=app(NATOMA), job=None, schema=default_schema(), template_id="scim", fallbacks=["x"])
    p = mapping.plan(cur, desired(), Facts())
    assert [op.kind for op in p.operations] == ["create-job", "put-schema"]
    assert (p.facts.job_planned, p.facts.template_id) == (True, "scim")


def test_mapping_in_place_writes_nothing_and_an_unreadable_template_is_planned_after_the_job():
    from natoma_entra.sandbox.schema_template import default_schema

    schema = default_schema()
    done = mapping.schema_change(schema).new_schema
    cur = mapping.Current(app=app(NATOMA), job={"id": "scim.1"}, schema=done, template_id="scim")
    assert mapping.plan(cur, desired(), Facts()).operations == []
    blind = mapping.Current(app=app(NATOMA), job=None, schema=None, template_id="scim", schema_unreadable="404")
    p = mapping.plan(blind, desired(), Facts())
    assert [op.kind for op in p.operations] == ["create-job", "put-schema"] and "once the job is created" in p.info["note"]


def test_roles_are_never_written_to_the_service_principal_when_the_application_cannot_be_read():
    a = app([])
    a.application = None  # OwnedBy on an app the caller does not own, or no Application.Read.All
    p = roles.plan(roles.Current(app=a, roles=[], sp_roles=[]), desired(), Facts())
    assert p.blocked and p.operations == []
    assert "Application.ReadWrite.All" in p.fix and "owner" in p.fix
