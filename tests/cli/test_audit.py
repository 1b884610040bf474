"""`natoma-entra audit` against the sandbox, with Natoma's stand-in seeded with drift: every verdict, on state."""
from __future__ import annotations

import json

import pytest

ADELE = "AdeleV@contoso.onmicrosoft.com"
ALEX = "AlexW@contoso.onmicrosoft.com"
MEGAN = "MeganB@contoso.onmicrosoft.com"
LEE = "LeeG@contoso.onmicrosoft.com"
DIEGO = "DiegoS@contoso.onmicrosoft.com"
PRADEEP = "PradeepG@contoso.onmicrosoft.com"
ORPHAN = "former.employee@contoso.onmicrosoft.com"
GONE = "disabled.long.ago@contoso.onmicrosoft.com"


def seed(sandbox, **drift):
    from natoma_entra.sandbox.natoma import seed_drift

    t = sandbox.tenant()
    seed_drift(t, **drift)
    sandbox.save(t)


def verdicts(result) -> dict[str, dict]:
    [step] = result.json()["steps"]
    return {u["user"]: u for u in step["info"]["users"]}


@pytest.fixture
def provisioned(sandbox):
    """setup done: the first cycle put Adele (admin), Alex (AppAdmin) and Megan (member) in Natoma; Lee failed."""
    r = sandbox.set_up()
    assert r.code == 0, r.err
    return sandbox


def test_every_verdict_against_a_drifted_natoma(provisioned):
    seed(provisioned, wrong_role={MEGAN: "admin"}, missing=[ALEX], orphans={ORPHAN: True, GONE: False})
    r = provisioned.cli("audit", "-o", "json")
    assert r.code == 0, r.err  # differences alone do not fail the run without --exit-code
    assert r.writes == []  # read-only: no Graph write (and SCIM reads are not Graph requests)
    doc = r.json()
    [step] = doc["steps"]
    assert step["info"]["state"] == "drifted"
    v = verdicts(r)
    assert v[ADELE]["verdict"] == "ok" and v[ADELE]["expected"] == ["admin"] and v[ADELE]["natoma"] == ["admin"]
    assert v[MEGAN]["verdict"] == "wrong_role"
    assert (v[MEGAN]["expected"], v[MEGAN]["natoma"]) == (["member"], ["admin"])
    assert v[ALEX]["verdict"] == "missing" and v[ALEX]["expected"] == ["AppAdmin"] and v[ALEX]["natoma"] is None
    assert v[LEE]["verdict"] == "will_fail" and v[LEE]["expected"] == ["admin", "member"]
    assert v[ORPHAN]["verdict"] == "out_of_scope_active" and v[ORPHAN]["expected"] is None
    assert v[GONE]["verdict"] == "out_of_scope_inactive" and v[GONE]["active"] is False
    assert step["info"]["counts"] == {"ok": 1, "missing": 1, "wrong_role": 1, "out_of_scope_active": 1,
                                      "out_of_scope_inactive": 1, "will_fail": 1}
    assert step["info"]["differences"] == 4  # an inactive out-of-scope user is what Entra leaves: not a difference
    # nothing in Natoma changed either
    from natoma_entra.sandbox.natoma import standin_for

    held = standin_for(provisioned.tenant())
    assert [r["value"] for r in held.user(MEGAN)["roles"]] == ["admin"] and held.user(ALEX) is None


def test_exit_code_3_when_anything_differs_and_0_when_natoma_matches(provisioned):
    r = provisioned.cli("audit", "--exit-code")
    assert r.code == 3, r.out + r.err  # Lee will fail (two role groups)
    assert "will fail" in r.out
    t = provisioned.tenant()
    members = next(g["id"] for g in t.state["groups"].values() if g["displayName"] == "Natoma Members")
    lee = next(u["id"] for u in t.state["users"].values() if u["userPrincipalName"] == LEE)
    t.state["members"][members].remove(lee)
    provisioned.save(t)
    seed(provisioned, wrong_role={LEE: "admin"})  # Natoma now holds what Entra sends
    r = provisioned.cli("audit", "--exit-code")
    assert r.code == 0, r.out + r.err
    assert "Natoma matches Entra" in r.out
    assert r.writes == []


def test_json_is_one_document_with_counts_and_every_user(provisioned):
    r = provisioned.cli("audit", "-o", "json", "--exit-code")
    assert r.code == 3
    doc = json.loads(r.out)  # the whole of stdout is one document
    info = doc["steps"][0]["info"]
    assert doc["command"] == "audit" and info["mode"] == "single-role"
    assert info["inScope"] == 4 and info["inNatoma"] == 3  # Adele, Alex, Megan, Lee; Pradeep is nested
    assert {u["user"] for u in info["users"]} == {ADELE, ALEX, MEGAN, LEE}


def test_multi_role_expects_the_set(provisioned):
    assert provisioned.cli("mapping", "--multi-role").code == 0
    seed(provisioned, wrong_role={LEE: "admin"})
    v = verdicts(provisioned.cli("audit", "-o", "json"))
    assert v[LEE]["verdict"] == "wrong_role"
    assert (v[LEE]["expected"], v[LEE]["natoma"]) == (["admin", "member"], ["admin"])
    from natoma_entra.sandbox.natoma import standin_for

    t = provisioned.tenant()
    standin_for(t).put_user(LEE, ["member", "admin"])
    from natoma_entra.sandbox.natoma import save_standin

    save_standin(t, standin_for(t))
    provisioned.save(t)
    v = verdicts(provisioned.cli("audit", "-o", "json"))
    assert v[LEE]["verdict"] == "ok"


def test_nested_group_members_are_out_of_scope_and_direct_assignments_are_in(provisioned, add_assignment):
    from natoma_entra.sandbox.state import user_id

    t = provisioned.tenant()
    member_role = next(r["id"] for r in t.find_sp()["appRoles"] if r.get("value") == "member")
    add_assignment(t, user_id("Diego Siciliani"), "User", member_role)
    provisioned.save(t)
    seed(provisioned, orphans={PRADEEP: True})  # Pradeep is only in a group nested in Natoma Members
    r = provisioned.cli("audit", "-o", "json")
    v = verdicts(r)
    assert v[PRADEEP]["verdict"] == "out_of_scope_active"
    assert v[DIEGO]["verdict"] == "missing" and v[DIEGO]["expected"] == ["member"]
    info = r.json()["steps"][0]["info"]
    assert info["nestedGroupsSkipped"] == 1 and info["directUsers"] == 1
    assert any("nested" in w for w in r.json()["warnings"])


def test_text_table_never_cuts_a_value(provisioned):
    long_name = "a.very.long.user.principal.name.for.someone.from.the.finance.department@contoso.onmicrosoft.com"
    seed(provisioned, orphans={long_name: True})
    r = provisioned.cli("audit")
    assert r.code == 0, r.err
    assert long_name in r.out
    assert "out of scope (active)" in r.out and "will fail" in r.out
    assert ADELE not in r.out  # only differences by default ...
    assert ADELE in provisioned.cli("audit", "--all").out  # ... every user with --all


def test_a_wrong_token_fails_without_showing_it(provisioned, monkeypatch):
    secret = "wrong-token-Pq71Zx"
    monkeypatch.setenv("NATOMA_SCIM_TOKEN", secret)
    r = provisioned.cli("audit", "--verbose", "-o", "json")
    assert r.code == 1
    assert secret not in r.out + r.err
    assert "refused the SCIM token" in r.json()["steps"][0]["error"]


def test_no_job_says_run_setup(sandbox):
    r = sandbox.cli("audit")
    assert r.code == 1 and "natoma-entra setup" in r.out
    assert r.writes == []


def test_a_real_scim_url_under_sandbox_is_bad_input(provisioned):
    r = provisioned.cli("audit", "--scim-url", "https://acme.natoma.app/scim/v2")
    assert r.code == 2 and "--sandbox" in r.err
