"""doctor's compact Grants: pages folded as they stream (no member list kept), the same verdicts as the hand-built
states of test_checks.py, and which group gives which role found for the users that need it."""
from __future__ import annotations

from natoma_entra.doctor.checks import DEFAULT_ACCESS, DoctorState, Grants, check_multiple, check_user, grants_of


def user(n):
    return {"@odata.type": "#microsoft.graph.user", "id": f"u{n}", "displayName": f"User {n}",
            "userPrincipalName": f"user{n}@contoso.test"}


ROLES = [{"id": "r-admin", "value": "admin", "isEnabled": True}, {"id": "r-member", "value": "member", "isEnabled": True}]
GROUPS = {"gA": "Admins", "gM": "Members", "gX": "Also admins"}


def assignments():
    return [{"principalId": "gA", "principalType": "Group", "appRoleId": "r-admin", "principalDisplayName": "Admins"},
            {"principalId": "u9", "principalType": "User", "appRoleId": "r-member", "principalDisplayName": "Nine"},
            {"principalId": "gM", "principalType": "Group", "appRoleId": "r-member", "principalDisplayName": "Members"},
            {"principalId": "gX", "principalType": "Group", "appRoleId": "r-admin", "principalDisplayName": "Also"},
            {"principalId": "gM", "principalType": "Group", "appRoleId": DEFAULT_ACCESS}]


def folded(pages):
    g = Grants(assignments(), ROLES, lambda gid, fallback=None: GROUPS.get(gid, gid))
    for gid, members in pages:
        g.fold(gid, members)
    return g


def test_pages_fold_into_one_mask_per_user_and_an_int_array_per_group():
    g = folded([("gA", [user(1), user(2)]), ("gM", [user(2), user(3)]), ("gA", [user(4)]),  # gA's second page
                ("gM", [{"@odata.type": "#microsoft.graph.group", "id": "nested"}, user(9)])])
    assert len(g) == 5 and "u9" in g and "nested" not in g
    assert g.member_count == {"gA": 3, "gM": 3}
    assert list(g.group_members[g.group_index["gA"]]) == [g.scope.index[u] for u in ("u1", "u2", "u4")]
    assert sorted(g.scope.keys[g.scope.index["u2"]]) == ["User 2", "user2@contoso.test"]
    several = [list(g.scope.index)[i] for i in g.several()]
    assert several == ["u2"]  # admin via Admins and member via Members; u9 gets member twice: one role


def test_grants_for_lists_each_grant_in_assignment_order_with_its_group():
    g = folded([("gA", [user(2)]), ("gX", [user(2)]), ("gM", [user(2)])])
    i = g.scope.index["u2"]
    got = [(gr.role_id, gr.via) for gr in g.grants_for([i])[i]]
    assert got == [("r-admin", "Admins"), ("r-member", "Members"), ("r-admin", "Also admins"),
                   (DEFAULT_ACCESS, "Members")]
    assert g.label(i) == "User 2 (user2@contoso.test)"
    assert g.label(g.scope.index["u9"]) == "Nine"  # assigned directly, never met in a page


def test_a_folded_state_and_a_hand_built_one_give_the_same_verdicts():
    pages = [("gA", [user(1), user(2)]), ("gM", [user(2), user(3)])]
    common = dict(app={"appId": "a"}, sp_roles=ROLES, assignments=assignments(),
                  groups={k: {"id": k, "displayName": v} for k, v in GROUPS.items()}, user_ref="user2",
                  user=user(2))
    hand = DoctorState(members={gid: m for gid, m in pages}, **common)
    streamed = DoctorState(**common)
    streamed.grants = folded(pages)
    assert streamed.members == {} and grants_of(streamed) is streamed.grants
    for check in (check_multiple, check_user):
        a, b = check(hand), check(streamed)
        assert (a.verdict, a.summary, a.details, a.data) == (b.verdict, b.summary, b.details, b.data)
    multiple = check_multiple(streamed)
    assert multiple.verdict == "fail" and "User 2 (user2@contoso.test)" in multiple.details[0]
