"""The audit's pure core: scope from streamed memberships, the role Entra sends, and the verdicts."""
from __future__ import annotations

from natoma_entra.audit import core
from natoma_entra.audit.reads import MappingUnknown, job_mapping

ROLES = [{"id": "r-admin", "value": "admin"}, {"id": "r-member", "value": "member"},
         {"id": "r-user", "value": None, "displayName": "User"}]


def scope_of(pairs, assignments):
    roles = core.Roles(ROLES)
    groups, direct = core.group_masks(assignments, roles)
    scope = core.Scope()
    for uid, mask in direct:
        scope.grant(uid, mask)
    core.fold_memberships(scope, pairs, groups)
    return roles, scope


def assignment(pid, kind, role):
    return {"principalId": pid, "principalType": kind, "appRoleId": role}


def test_memberships_fold_into_one_mask_per_user_and_direct_grants_add_up():
    roles, scope = scope_of([("g1", "u1"), ("g2", "u1"), ("g1", "u2"), ("g3", "u3")],
                            [assignment("g1", "Group", "r-admin"), assignment("g2", "Group", "r-admin"),
                             assignment("g3", "Group", "r-user"), assignment("u2", "User", "r-member")])
    assert len(scope) == 3
    sent = {uid: roles.sent(scope.masks[i]) for uid, i in scope.index.items()}
    assert sent == {"u1": ("admin",), "u2": ("admin", "member"), "u3": ()}  # two groups, one role: one grant


def test_single_role_fails_on_two_distinct_roles_multi_role_sends_the_set():
    roles = core.Roles(ROLES)
    both = roles.mask("r-admin") | roles.mask("r-member")
    assert core.expected(both, roles, multi_role=False) == core.Expected(("admin", "member"), fails=True)
    assert core.expected(both, roles, multi_role=True) == core.Expected(("admin", "member"), fails=False)
    # a role without a value carries no role, so it never makes a second grant
    assert core.expected(roles.mask("r-admin") | roles.mask("r-user"), roles, False).fails is False


def test_verdicts_join_natoma_by_username_case_insensitively():
    roles, scope = scope_of([("g1", "u1"), ("g1", "u2"), ("g2", "u3"), ("g1", "u4"), ("g2", "u4")],
                            [assignment("g1", "Group", "r-admin"), assignment("g2", "Group", "r-member")])
    for uid, name in {"u1": "Ann@X", "u2": "Bob@X", "u3": "Cy@X", "u4": "Di@X"}.items():
        scope.name(uid, name)
    natoma = [core.NatomaUser("ann@x", ("admin",), True, "n1"), core.NatomaUser("BOB@X", ("member",), True, "n2"),
              core.NatomaUser("old@x", ("member",), True, "n3"), core.NatomaUser("gone@x", (), False, "n4"),
              core.NatomaUser("di@x", ("admin",), True, "n5")]
    found = {f.user.lower(): f for f in core.compare(scope, roles, natoma, multi_role=False)}
    assert {k: f.verdict for k, f in found.items()} == {
        "ann@x": core.OK, "bob@x": core.WRONG_ROLE, "old@x": core.OUT_OF_SCOPE_ACTIVE,
        "gone@x": core.OUT_OF_SCOPE_INACTIVE, "di@x": core.WILL_FAIL, "cy@x": core.MISSING}
    assert (found["bob@x"].expected, found["bob@x"].actual) == (("admin",), ("member",))
    assert found["cy@x"].entra_id == "u3" and found["cy@x"].actual is None
    counts = core.count(found.values())
    assert sum(counts[v] for v in core.DIFFERS) == 4


def test_a_user_without_a_matching_value_is_reported_by_object_id():
    roles, scope = scope_of([("g1", "u1")], [assignment("g1", "Group", "r-admin")])
    [f] = core.compare(scope, roles, [], multi_role=False)
    assert (f.verdict, f.user) == (core.MISSING, "u1")


def _schema(role_source: dict | None, matching: dict | None = None):
    mappings = [{"source": matching or {"type": "Attribute", "name": "userPrincipalName"},
                 "targetAttributeName": "userName", "matchingPriority": 1}]
    if role_source:
        mappings.append({"source": role_source, "targetAttributeName": "roles"})
    return {"directories": [{"name": "customappsso", "objects": [{"name": "urn:User", "attributes": []}]}],
            "synchronizationRules": [{"id": "r", "targetDirectoryName": "customappsso", "objectMappings": [
                {"sourceObjectName": "User", "targetObjectName": "urn:User", "attributeMappings": mappings}]}]}


def test_the_job_mapping_decides_the_mode_and_the_matching_attribute():
    single = job_mapping(_schema({"type": "Function", "name": "SingleAppRoleAssignment", "parameters": [
        {"key": "source", "value": {"type": "Attribute", "name": "appRoleAssignments"}}]}))
    assert (single.multi_role, single.source) == (False, "userPrincipalName")
    multi = job_mapping(_schema({"expression": "AssertiveAppRoleAssignmentsComplex([appRoleAssignments])"},
                                {"type": "Attribute", "name": "mail"}))
    assert (multi.multi_role, multi.source) == (True, "mail")
    try:
        job_mapping(_schema(None))
    except MappingUnknown as e:
        assert "natoma-entra mapping" in e.fix
    else:
        raise AssertionError("a mapping without a role must be refused")
