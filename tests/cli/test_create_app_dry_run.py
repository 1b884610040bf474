"""Issue 26: `setup --create-app --dry-run` on a bare tenant plans every step against the app to be; without
--create-groups it still plans, names every missing group and exits 2, as the real run does (before writing)."""
from __future__ import annotations

import pytest

ROLE_GROUPS = ("Natoma Admins", "Natoma App Admins", "Natoma Members")


@pytest.fixture
def bare(sandbox):
    assert sandbox.cli("sandbox", "reset", "--empty").code == 0
    return sandbox


def test_with_create_groups_every_step_is_planned_in_text_and_json(bare):
    before = bare.path.read_bytes()
    r = bare.cli("--dry-run", "setup", "--create-app", "--create-groups", "--output", "json")
    assert r.code == 0 and r.writes == [] and bare.path.read_bytes() == before, r.err
    steps = {s["step"]: s for s in r.json()["steps"]}
    assert {k: s["status"] for k, s in steps.items()} == {
        "app": "planned", "roles": "planned", "assign": "planned", "mapping": "planned", "credentials": "planned",
        "start": "planned"}
    targets = {k: [c["target"] for c in s["changes"]] for k, s in steps.items()}
    assert targets["app"] == ["app Natoma"]
    assert targets["roles"] == ["role Admin (admin)", "role AppAdmin (AppAdmin)", "role Member (member)"]
    for group, role in zip(ROLE_GROUPS, ("Admin", "AppAdmin", "Member")):
        assert f"group {group} (security group)" in targets["assign"] and f"{group} -> {role}" in targets["assign"]
    assert targets["mapping"][0] == "provisioning job (template scim)"
    assert "SCIM token" in targets["credentials"][0]
    assert targets["start"] == ["provisioning job: start"]

    text = bare.cli("--dry-run", "setup", "--create-app", "--create-groups")
    assert text.code == 0
    for line in ("+ would create: app Natoma", "+ would create: role Member (member)",
                 "+ would create: group Natoma Members (security group)", "+ would create: Natoma Members -> Member",
                 "+ would create: provisioning job (template scim)", "+ would save: the Tenant URL",
                 "~ would update: provisioning job: start"):
        assert line in text.out, text.out
    assert "skipped" not in text.out and text.out.rstrip().endswith("dry run: nothing was written")


def test_without_create_groups_the_dry_run_plans_and_names_every_missing_group_then_exits_2(bare):
    before = bare.path.read_bytes()
    r = bare.cli("--dry-run", "setup", "--create-app", "--output", "json")
    assert r.code == 2 and r.writes == [] and bare.path.read_bytes() == before
    doc = r.json()
    assert doc["exit_code"] == 2 and doc["ok"] is False
    steps = {s["step"]: s for s in doc["steps"]}
    assert {k: s["status"] for k, s in steps.items()} == {
        "app": "planned", "roles": "planned", "assign": "failed", "mapping": "planned", "credentials": "planned",
        "start": "planned"}
    assert steps["assign"]["error"] == "no group named 'Natoma Admins', 'Natoma App Admins' or 'Natoma Members'"
    assert "--create-groups" in steps["assign"]["fix"]
    # one line on stderr: the missing groups and the fix
    assert r.err.count("\n") == 1 and "no group named 'Natoma Admins'" in r.err and "--create-groups" in r.err

    text = bare.cli("--dry-run", "setup", "--create-app")
    assert text.code == 2
    assert "+ would create: app Natoma" in text.out and "+ would create: role Admin (admin)" in text.out
    assert "error: no group named 'Natoma Admins', 'Natoma App Admins' or 'Natoma Members'" in text.out
    assert text.out.rstrip().endswith("dry run: nothing was written; assign cannot be done as given (see its error "
                                      "and fix above)")

    # the real run stops before its first write, naming them all too
    real = bare.cli("setup", "--create-app")
    assert real.code == 2 and real.writes == [] and not bare.tenant().state["servicePrincipals"]
    assert real.err.count("\n") == 1
    assert "no group named 'Natoma Admins', 'Natoma App Admins' or 'Natoma Members'" in real.err


def test_one_missing_group_of_an_existing_app_is_planned_around_with_its_similar_names(sandbox):
    r = sandbox.cli("--dry-run", "setup", "--group", "admin=Natoma Admns", "--group", "member=Natoma Members")
    assert r.code == 2 and r.writes == []
    assert "assign: failed" in r.out and "roles: planned" in r.out and "credentials: planned" in r.out
    assert "error: no group named 'Natoma Admns'; groups with similar names: " in r.out and "'Natoma Admins'" in r.out
