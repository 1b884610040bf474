"""Issue 26: teardown of an app that is not there is bad input (a typo in --app: exit 2, nothing written) unless
--delete-app asked for it gone; a configured group that no longer exists (named by object id too) has nothing to
undo, so teardown still finishes."""
from __future__ import annotations

from natoma_entra.sandbox.state import group_id


def test_teardown_of_an_app_name_that_does_not_exist_is_bad_input(sandbox):
    assert sandbox.set_up().code == 0
    before = sandbox.path.read_bytes()
    r = sandbox.cli("--app", "Natmoa", "teardown", "--yes")
    assert r.code == 2 and r.writes == [] and sandbox.path.read_bytes() == before
    assert r.err.count("\n") == 1 and "no enterprise app named 'Natmoa'" in r.err
    assert "'Natoma'" in r.err and "--app" in r.err  # the similar name, and the flag to fix
    j = sandbox.cli("--app", "Natmoa", "teardown", "--yes", "--output", "json")
    assert j.code == 2 and j.json()["exit_code"] == 2 and "Natmoa" in j.json()["error"]


def test_with_delete_app_an_app_already_gone_is_what_was_asked(sandbox):
    assert sandbox.cli("sandbox", "reset", "--empty").code == 0
    assert sandbox.cli("setup", "--create-app", "--create-groups").code == 0
    assert sandbox.cli("teardown", "--yes", "--delete-app", "--delete-groups").code == 0
    again = sandbox.cli("teardown", "--yes", "--delete-app", "--delete-groups")
    assert again.code == 0 and again.writes == []  # converged: a second run has nothing left to do
    assert "Nothing on it to undo" in again.out


def _config_by_id(sandbox, ids: dict[str, str]):
    path = sandbox.path.parent / "by-id.toml"
    path.write_text('app = "Natoma"\n\n[groups]\n' + "".join(f'{role} = ["{gid}"]\n' for role, gid in ids.items()))
    return path


def test_a_configured_group_named_by_an_object_id_that_no_longer_exists_does_not_stop_teardown(sandbox):
    ids = {"admin": group_id("Natoma Admins"), "AppAdmin": group_id("Natoma App Admins"),
           "member": group_id("Natoma Members")}
    cfg = _config_by_id(sandbox, ids)
    assert sandbox.cli("--config", str(cfg), "setup").code == 0
    t = sandbox.tenant()  # an admin deletes the App Admins group: Entra removes its assignments with it
    gone = ids["AppAdmin"]
    del t.state["groups"][gone]
    t.state["members"].pop(gone, None)
    t.state["appRoleAssignments"] = {k: a for k, a in t.state["appRoleAssignments"].items()
                                     if a["principalId"] != gone}
    sandbox.save(t)
    r = sandbox.cli("--config", str(cfg), "teardown", "--yes", "--delete-groups", "--output", "json")
    assert r.code == 0, r.err
    steps = {s["step"]: s["status"] for s in r.json()["steps"]}
    assert steps == {"job": "changed", "credentials": "changed", "assign": "changed", "roles": "changed",
                     "groups": "unchanged"}
    t = sandbox.tenant()
    sp = t.find_sp("Natoma")
    assert not [a for a in t.state["appRoleAssignments"].values() if a["resourceId"] == sp["id"]]
    assert not t.state["jobs"].get(sp["id"])
    again = sandbox.cli("--config", str(cfg), "teardown", "--yes", "--delete-groups")
    assert again.code == 0 and again.writes == []
