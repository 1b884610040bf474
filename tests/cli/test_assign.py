"""`natoma-entra assign` against the sandbox."""
from natoma_entra.sandbox.state import USER_ROLE_ID, group_id, user_id


def assignments(tenant):
    sp = tenant.find_sp("Natoma")
    roles = {r["id"]: r.get("value") or r.get("displayName") for r in sp["appRoles"]}
    return {(a["principalDisplayName"], roles.get(a["appRoleId"], a["appRoleId"]))
            for a in tenant.state["appRoleAssignments"].values() if a["resourceId"] == sp["id"]}




def role_id(tenant, value):
    return next(r["id"] for r in tenant.find_sp("Natoma")["appRoles"] if r.get("value") == value)


def test_fresh_tenant_assigns_each_group_with_its_role(sandbox):
    sandbox.cli("roles")
    r = sandbox.cli("assign")
    assert r.code == 0, r.err
    assert assignments(sandbox.tenant()) == {("Natoma Admins", "admin"), ("Natoma App Admins", "AppAdmin"),
                                             ("Natoma Members", "member")}


def test_rerun_makes_no_write(sandbox):
    sandbox.cli("roles")
    sandbox.cli("assign")
    r = sandbox.cli("assign", "--output", "json")
    assert r.code == 0 and r.writes == []
    assert r.json()["steps"][0]["status"] == "unchanged"


def test_dry_run_writes_nothing(sandbox):
    sandbox.cli("roles")
    r = sandbox.cli("assign", "--dry-run")
    assert r.code == 0 and r.writes == []
    assert assignments(sandbox.tenant()) == set()
    assert "would create: Natoma Admins -> Admin" in r.out


def test_group_flags_by_name_and_object_id(sandbox):
    sandbox.cli("roles")
    r = sandbox.cli("assign", "--group", "admin=Natoma Admins", "--group", f"member={group_id('Natoma Members')}")
    assert r.code == 0, r.err
    assert assignments(sandbox.tenant()) == {("Natoma Admins", "admin"), ("Natoma Members", "member")}


def test_unknown_group_is_a_usage_error_listing_candidates_and_writes_nothing(sandbox):
    sandbox.cli("roles")
    r = sandbox.cli("assign", "--group", "admin=Natoma Admin")
    assert r.code == 2
    assert "no group named 'Natoma Admin'" in r.err and "'Natoma Admins'" in r.err
    assert r.writes == []


def test_unknown_role_in_group_flag(sandbox):
    r = sandbox.cli("assign", "--group", "Admin=Natoma Admins")
    assert r.code == 2 and "unknown role 'Admin'" in r.err


def test_non_security_group_is_refused_with_the_reason(sandbox):
    sandbox.cli("roles")
    r = sandbox.cli("assign", "--group", "member=All Company")
    assert r.code == 2 and "Microsoft 365 group" in r.err and r.writes == []


def test_missing_roles_fail_and_say_run_roles(sandbox):
    r = sandbox.cli("assign")
    assert r.code == 1
    assert "natoma-entra roles" in r.out
    assert r.writes == []


def test_dry_run_before_roles_plans_with_the_deterministic_ids(sandbox):
    r = sandbox.cli("--dry-run", "assign")
    assert r.code == 0 and "would create: Natoma Admins -> Admin" in r.out


def test_group_with_another_role_is_a_conflict_warning_then_replace_removes_it(sandbox, add_assignment):
    sandbox.cli("roles")
    t = sandbox.tenant()
    add_assignment(t, group_id("Natoma Admins"), "Group", USER_ROLE_ID)
    sandbox.save(t)
    r = sandbox.cli("assign", "--output", "json")
    assert r.code == 0
    assert any("Natoma Admins" in w and "MultipleGrantsNotSupported" in w for w in r.json()["warnings"])
    assert ("Natoma Admins", "User") in assignments(sandbox.tenant())
    strict = sandbox.cli("--strict", "assign")
    assert strict.code == 1
    r = sandbox.cli("assign", "--replace", "--yes")
    assert r.code == 0
    held = assignments(sandbox.tenant())
    assert ("Natoma Admins", "User") not in held and ("Natoma Admins", "admin") in held


def test_prune_removes_only_unconfigured_grants_of_natoma_roles(sandbox, add_assignment):
    sandbox.cli("roles")
    t = sandbox.tenant()
    add_assignment(t, group_id("Natoma Contractors"), "Group", role_id(t, "member"))  # ours, not configured
    add_assignment(t, user_id("Alex Wilber"), "User", role_id(t, "AppAdmin"))  # a user granted our role by hand
    add_assignment(t, group_id("Natoma Contractors"), "Group", USER_ROLE_ID)  # another role: never pruned
    sandbox.save(t)
    r = sandbox.cli("assign", "--output", "json")
    assert r.code == 0
    # privilege drift is said, and kept without --prune
    assert any("Natoma Contractors" in w and "Alex Wilber" in w and "--prune" in w for w in r.json()["warnings"])
    assert ("Natoma Contractors", "member") in assignments(sandbox.tenant())
    assert ("Alex Wilber", "AppAdmin") in assignments(sandbox.tenant())
    r = sandbox.cli("assign", "--prune", "--yes")
    assert r.code == 0, r.err
    held = assignments(sandbox.tenant())
    # a grant of a Natoma role to a group that is not configured goes; a user's own grant stays (docs/assign.md:
    # "never assignments to users"), and so do other roles
    assert ("Natoma Contractors", "member") not in held and ("Alex Wilber", "AppAdmin") in held
    assert ("Natoma Contractors", "User") in held
    assert "--prune-user" in r.err + r.out  # the kept user grant says how to remove it
    # a user's grant goes only when named; a name that holds no grant is bad input, nothing written
    bad = sandbox.cli("assign", "--prune-user", "Megan Bowen")
    assert bad.code == 2 and "Megan Bowen" in bad.err and bad.writes == []
    asks = sandbox.cli("assign", "--prune-user", "alex wilber")  # it removes a grant: no terminal, no --yes
    assert asks.code == 2 and "--yes" in asks.err and asks.writes == []
    r = sandbox.cli("assign", "--prune-user", "alex wilber", "--yes")
    assert r.code == 0, r.err
    held = assignments(sandbox.tenant())
    assert ("Alex Wilber", "AppAdmin") not in held and ("Natoma Contractors", "User") in held
    assert len(r.writes) == 1


def test_group_configured_for_two_roles_is_refused(sandbox):
    sandbox.cli("roles")
    r = sandbox.cli("assign", "--group", "admin=Natoma Admins", "--group", "member=Natoma Admins")
    assert r.code == 2 and "two roles" in r.err and r.writes == []


def test_already_exists_answer_counts_as_success(sandbox, monkeypatch, add_assignment):
    """A concurrent run created the assignment between our read and our POST."""
    sandbox.cli("roles")
    from natoma_entra.steps import assignments as step

    real = step.read_assignments

    async def stale(session):  # our read happened before the other run's write
        await real(session)
        session.known("assignments", [])
        return []

    t = sandbox.tenant()
    add_assignment(t, group_id("Natoma Admins"), "Group", role_id(t, "admin"))
    sandbox.save(t)
    monkeypatch.setattr(step, "read_assignments", stale)
    r = sandbox.cli("assign")
    assert r.code == 0, r.out + r.err
    assert any(w[0] == "POST" and w[2] == 400 for w in r.writes)  # Graph said "already exists"
    assert ("Natoma Admins", "admin") in assignments(sandbox.tenant())


def test_same_group_by_name_and_by_id_is_assigned_once(sandbox):
    sandbox.cli("roles")
    r = sandbox.cli("assign", "--group", "admin=Natoma Admins", "--group", f"admin={group_id('Natoma Admins')}")
    assert r.code == 0, r.err
    assert [w[0] for w in r.writes] == ["POST"]
    assert assignments(sandbox.tenant()) == {("Natoma Admins", "admin")}


def test_group_with_default_access_is_a_conflict(sandbox, add_assignment):
    from natoma_entra.steps.assignments import DEFAULT_ACCESS

    sandbox.cli("roles")
    t = sandbox.tenant()
    add_assignment(t, group_id("Natoma Members"), "Group", DEFAULT_ACCESS)
    sandbox.save(t)
    r = sandbox.cli("assign", "--output", "json")
    assert any("'Natoma Members' also holds 'default access'" in w for w in r.json()["warnings"])
    sandbox.cli("assign", "--replace", "--yes")
    held = {a["appRoleId"] for a in sandbox.tenant().state["appRoleAssignments"].values()
            if a["principalId"] == group_id("Natoma Members")}
    assert held == {role_id(sandbox.tenant(), "member")}
