"""`sandbox show`: the tenant's users (UPN, groups, the role Entra will send, what Natoma holds) and groups (members,
role), in text and JSON, so a newcomer finds a UPN to pass to `provision`."""


def by_upn(snap) -> dict:
    return {u["userPrincipalName"].split("@")[0]: u for u in snap["users"]}


def test_show_lists_users_and_groups_with_the_role_entra_will_send(sandbox):
    fresh = sandbox.cli("sandbox", "show", "--output", "json").json()
    assert by_upn(fresh)["AdeleV"]["entraWillSend"] == "-" and by_upn(fresh)["AdeleV"]["natoma"] is None
    assert sandbox.set_up().code == 0
    snap = sandbox.cli("sandbox", "show", "--output", "json").json()
    users = by_upn(snap)
    assert users["AdeleV"]["groups"] == ["All Company", "Natoma Admins"]
    assert users["AdeleV"]["entraWillSend"] == "admin" and users["AdeleV"]["natoma"] == {"active": True,
                                                                                       "roles": ["admin"]}
    assert users["LeeG"]["entraWillSend"] == "will fail: MultipleGrantsNotSupported (admin, member)"
    assert users["LeeG"]["natoma"] is None  # what Natoma received: nothing for Lee Gu
    assert users["PradeepG"]["entraWillSend"].startswith("skipped: only in a nested group (Natoma Contractors")
    assert users["DiegoS"]["entraWillSend"] == "-"
    groups = {g["displayName"]: g for g in snap["groups"]}
    assert groups["Natoma Members"]["roles"] == ["member"]
    assert "Natoma Contractors (group)" in groups["Natoma Members"]["members"]
    assert groups["All Company"]["roles"] == [] and snap["mapping"] == "single-role"
    text = sandbox.cli("sandbox", "show")
    assert "Users in Entra" in text.out and "Groups in Entra" in text.out
    lee = next(line for line in text.out.splitlines() if "LeeG@contoso.onmicrosoft.com" in line)
    assert "MultipleGrantsNotSupported" in lee


def test_under_multi_role_a_user_in_two_groups_gets_both(sandbox):
    assert sandbox.set_up().code == 0
    assert sandbox.cli("mapping", "--multi-role").code == 0
    snap = sandbox.cli("sandbox", "show", "--output", "json").json()
    assert snap["mapping"] == "multi-role" and by_upn(snap)["LeeG"]["entraWillSend"] == "admin, member"
