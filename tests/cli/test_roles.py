"""`natoma-entra roles` against the sandbox: create, re-run without writes, foreign and drifted roles, lag, prune."""


from natoma_entra.natoma_roles import NATOMA_ROLES
from natoma_entra.sandbox.state import MSIAM_ACCESS_ROLE_ID, USER_ROLE_ID


def app_roles(tenant):
    app = tenant.find_app("Natoma")
    return {r["value"]: r for r in app["appRoles"] if r.get("value")}, app


def sp_roles(tenant):
    return {r["value"]: r for r in tenant.find_sp("Natoma")["appRoles"] if r.get("value")}


def test_fresh_tenant_gets_three_enabled_roles_for_users_and_groups(sandbox):
    r = sandbox.cli("roles")
    assert r.code == 0, r.err
    roles, app = app_roles(sandbox.tenant())
    for display, value in NATOMA_ROLES:
        assert roles[value]["displayName"] == display
        assert roles[value]["isEnabled"] is True
        assert roles[value]["allowedMemberTypes"] == ["User"]
    # the template's default roles are still there, untouched
    ids = {r["id"] for r in app["appRoles"]}
    assert {MSIAM_ACCESS_ROLE_ID, USER_ROLE_ID} <= ids
    assert set(sp_roles(sandbox.tenant())) >= {"admin", "AppAdmin", "member"}
    assert "created: role Admin (admin)" in r.out


def test_second_run_writes_nothing_and_says_so(sandbox):
    sandbox.cli("roles")
    r = sandbox.cli("roles", "--output", "json")
    assert r.code == 0
    assert r.writes == []
    doc = r.json()
    assert doc["steps"][0]["status"] == "unchanged" and doc["ok"] is True


def test_dry_run_writes_nothing(sandbox):
    before = sandbox.tenant().find_app("Natoma")["appRoles"]
    r = sandbox.cli("--dry-run", "roles")
    assert r.code == 0 and r.writes == []
    assert "would create: role Admin (admin)" in r.out
    assert sandbox.tenant().find_app("Natoma")["appRoles"] == before


def test_global_options_after_the_command_work(sandbox):
    r = sandbox.cli("roles", "--dry-run", "--output", "json")
    assert r.code == 0 and r.writes == [] and r.json()["dry_run"] is True


def test_foreign_roles_are_kept_exactly(sandbox):
    t = sandbox.tenant()
    app = t.find_app("Natoma")
    foreign = {"allowedMemberTypes": ["Application"], "description": "reader", "displayName": "Reader",
               "id": "11111111-2222-3333-4444-555555555555", "isEnabled": True, "value": "Reader.All", "origin": "Application"}
    app["appRoles"].append(foreign)
    sandbox.save(t)
    assert sandbox.cli("roles").code == 0
    kept = [r for r in sandbox.tenant().find_app("Natoma")["appRoles"] if r["id"] == foreign["id"]]
    assert kept == [foreign]


def test_drifted_enabled_role_is_disabled_then_changed(sandbox):
    sandbox.cli("roles")
    t = sandbox.tenant()
    roles, app = app_roles(t)
    roles["member"]["displayName"] = "Members (old)"
    sandbox.save(t)
    r = sandbox.cli("roles")
    assert r.code == 0, r.err
    patches = [w for w in r.writes if w[0] == "PATCH"]
    assert len(patches) == 2  # disable first, then change (CannotDeleteOrUpdateEnabledEntitlement otherwise)
    roles, _ = app_roles(sandbox.tenant())
    assert roles["member"]["displayName"] == "Member" and roles["member"]["isEnabled"] is True
    assert "updated: role Member (member) (displayName 'Members (old)' -> 'Member')" in r.out


def test_disabled_role_is_enabled_in_one_patch(sandbox):
    sandbox.cli("roles")
    t = sandbox.tenant()
    roles, _ = app_roles(t)
    rid = roles["AppAdmin"]["id"]
    roles["AppAdmin"]["isEnabled"] = False
    sandbox.save(t)
    r = sandbox.cli("roles")
    assert [w[0] for w in r.writes] == ["PATCH"]
    roles, _ = app_roles(sandbox.tenant())
    assert roles["AppAdmin"]["isEnabled"] is True and roles["AppAdmin"]["id"] == rid


def test_wrong_case_value_is_not_taken_for_ours_and_warns(sandbox):
    t = sandbox.tenant()
    t.find_app("Natoma")["appRoles"].append({"allowedMemberTypes": ["User"], "description": "x", "displayName": "Admin",
                                             "id": "99999999-2222-3333-4444-555555555555", "isEnabled": True,
                                             "value": "Admin"})
    sandbox.save(t)
    r = sandbox.cli("roles", "--output", "json")
    doc = r.json()
    assert any("'Admin'" in w and "'admin'" in w for w in doc["warnings"])
    roles, _ = app_roles(sandbox.tenant())
    assert "admin" in roles and "Admin" in roles


def test_prune_disables_then_removes_foreign_enabled_roles_but_never_template_roles(sandbox):
    t = sandbox.tenant()
    t.find_app("Natoma")["appRoles"].append({"allowedMemberTypes": ["User"], "description": "x", "displayName": "Old",
                                             "id": "12121212-2222-3333-4444-555555555555", "isEnabled": True,
                                             "value": "old"})
    sandbox.save(t)
    r = sandbox.cli("roles", "--prune", "--yes")
    assert r.code == 0, r.err
    app = sandbox.tenant().find_app("Natoma")
    values = {r.get("value") for r in app["appRoles"]}
    assert "old" not in values and {"admin", "AppAdmin", "member"} <= values
    assert {MSIAM_ACCESS_ROLE_ID, USER_ROLE_ID} <= {r["id"] for r in app["appRoles"]}


def test_without_prune_foreign_roles_stay(sandbox):
    t = sandbox.tenant()
    t.find_app("Natoma")["appRoles"].append({"allowedMemberTypes": ["User"], "description": "x", "displayName": "Old",
                                             "id": "12121212-2222-3333-4444-555555555555", "isEnabled": True,
                                             "value": "old"})
    sandbox.save(t)
    sandbox.cli("roles")
    assert "old" in {r.get("value") for r in sandbox.tenant().find_app("Natoma")["appRoles"]}


def test_waits_for_the_service_principal_to_show_the_roles(sandbox, monkeypatch):
    from natoma_entra.sandbox.clock import VirtualClock
    from natoma_entra.waits import Waits

    clock = VirtualClock()  # the CLI's waits advance the tenant's clock instead of sleeping
    sandbox.waits = Waits()  # the real replication waits, on that clock
    sandbox.options.clock = clock
    sandbox.options.sp_role_lag = 3  # seconds
    r = sandbox.cli("roles", "--output", "json")
    assert r.code == 0
    sp_reads = [q for q in r.requests if q[0] == "GET" and "/servicePrincipals/" in q[1] and "appRoles" in q[1]]
    assert len(sp_reads) >= 3
    assert sum(clock.slept) >= 3  # it waited the copy out
    assert r.json()["warnings"] == []


def test_role_ids_are_deterministic(sandbox, tmp_path):
    from natoma_entra.sandbox.state import Tenant

    sandbox.cli("roles")
    first = {v: r["id"] for v, r in app_roles(sandbox.tenant())[0].items()}
    Tenant.initial().save(sandbox.path)
    sandbox.cli("roles")
    assert {v: r["id"] for v, r in app_roles(sandbox.tenant())[0].items()} == first


def test_missing_permission_fails_with_the_permission_named_and_changes_nothing(sandbox, monkeypatch):
    sandbox.options.denied_permissions = {"Application.ReadWrite.All"}
    sandbox.options.sign_in = "opaque"  # no claims to read: the PATCH's 403 names it (the preflight: test_preflight)
    before = sandbox.tenant().find_app("Natoma")["appRoles"]
    r = sandbox.cli("roles")
    assert r.code == 1
    assert "Application.ReadWrite" in r.out + r.err
    assert sandbox.tenant().find_app("Natoma")["appRoles"] == before


def test_a_wider_role_for_users_and_applications_is_not_narrowed(sandbox):
    sandbox.cli("roles")
    t = sandbox.tenant()
    role = next(r for r in t.find_app("Natoma")["appRoles"] if r.get("value") == "admin")
    role["allowedMemberTypes"] = ["User", "Application"]
    sandbox.save(t)
    r = sandbox.cli("roles")
    assert r.code == 0 and r.writes == []


def test_template_roles_are_never_pruned_whatever_their_id(sandbox):
    t = sandbox.tenant()
    for r in t.find_app("Natoma")["appRoles"]:
        if r["displayName"] == "msiam_access":
            r["id"] = "abababab-2222-3333-4444-555555555555"  # another tenant, another id
    sandbox.save(t)
    assert sandbox.cli("roles", "--prune", "--yes").code == 0
    assert "msiam_access" in {r["displayName"] for r in sandbox.tenant().find_app("Natoma")["appRoles"]}


def test_pruning_a_role_still_assigned_warns(sandbox, add_assignment):
    from natoma_entra.sandbox.state import group_id

    t = sandbox.tenant()
    extra = {"allowedMemberTypes": ["User"], "description": "x", "displayName": "Auditor",
             "id": "12121212-2222-3333-4444-555555555555", "isEnabled": True, "value": "auditor"}
    t.find_app("Natoma")["appRoles"].append(extra)
    t.find_sp("Natoma")["appRoles"].append({**extra, "origin": "Application"})
    add_assignment(t, group_id("Natoma Contractors"), "Group", extra["id"])
    sandbox.save(t)
    r = sandbox.cli("--dry-run", "roles", "--prune", "--output", "json")
    assert r.code == 0 and r.writes == []
    assert any("Natoma Contractors" in w and "loses that access" in w for w in r.json()["warnings"])


def test_drifted_description_is_brought_back(sandbox):
    from natoma_entra.steps.roles import description_for

    sandbox.cli("roles")
    t = sandbox.tenant()
    role = next(r for r in t.find_app("Natoma")["appRoles"] if r.get("value") == "AppAdmin")
    role["description"] = "edited in the portal"
    sandbox.save(t)
    r = sandbox.cli("roles")
    assert r.code == 0 and [w[0] for w in r.writes] == ["PATCH", "PATCH"]  # enabled: disable, then change
    role = next(r for r in sandbox.tenant().find_app("Natoma")["appRoles"] if r.get("value") == "AppAdmin")
    assert role["description"] == description_for("AppAdmin", "AppAdmin") and role["isEnabled"] is True


def test_role_ids_are_uuid5_of_app_and_value_and_differ_between_apps():
    import uuid

    from natoma_entra.natoma_roles import ROLE_NAMESPACE, role_id

    app_a, app_b = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"
    assert role_id(app_a, "admin") == str(uuid.uuid5(ROLE_NAMESPACE, f"{app_a}/admin"))
    assert role_id(app_a, "admin") != role_id(app_b, "admin")
    assert role_id(app_a, "admin") != role_id(app_a, "member")
    assert role_id(app_a.upper(), "admin") == role_id(app_a, "admin")


def test_gives_up_waiting_for_the_service_principal_with_a_warning(sandbox, monkeypatch):
    sandbox.options.sp_role_lag = 1000
    r = sandbox.cli("roles", "--output", "json")
    assert r.code == 0  # the roles are written; only the copy to the service principal lags
    doc = r.json()
    assert doc["steps"][0]["status"] == "changed"
    assert any("does not show the new roles yet" in w for w in doc["warnings"])
    # and assign then says clearly what is missing instead of failing obscurely
    a = sandbox.cli("assign")
    assert a.code == 1 and "natoma-entra roles" in a.out
