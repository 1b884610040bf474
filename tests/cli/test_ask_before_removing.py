"""One rule for every run that removes or replaces something that exists (issue 22 item 2): `teardown`, `--prune`,
`--replace`, `--rotate`. The plan is shown and a question asked at a terminal; without one (or under --output json)
the run needs --yes and writes nothing; a run that removes nothing asks nothing."""
from __future__ import annotations

import pytest

from natoma_entra.sandbox.state import NATOMA_TOKEN
from natoma_entra.steps.roles import role_id


def _foreign_role(sandbox):
    t = sandbox.tenant()
    t.find_app("Natoma")["appRoles"].append({"allowedMemberTypes": ["User"], "description": "x", "displayName": "Old",
                                             "id": "12121212-2222-3333-4444-555555555555", "isEnabled": True,
                                             "value": "old"})
    sandbox.save(t)


def _foreign_grant(sandbox, add_assignment):
    t = sandbox.tenant()
    sp = t.find_sp("Natoma")
    contractors = next(g["id"] for g in t.state["groups"].values() if g["displayName"] == "Natoma Contractors")
    add_assignment(t, contractors, "Group", role_id(sp["appId"], "member"))
    sandbox.save(t)


# (command line, how the tenant is made to need it, what the plan shows)
CASES = {
    "roles --prune": (("roles", "--prune"), _foreign_role, "role Old (old)"),
    "assign --prune": (("assign", "--prune"), _foreign_grant, "Natoma Contractors"),
    "setup --replace": (("setup", "--replace"), None, "default access"),
    "credentials --rotate": (("credentials", "--rotate"), None, "the SCIM token"),
}


@pytest.fixture
def ready(sandbox, monkeypatch, add_assignment):
    monkeypatch.setenv("NATOMA_SCIM_TOKEN", NATOMA_TOKEN)
    assert sandbox.set_up().code == 0

    def prepare(case: str):
        args, make, shown = CASES[case]
        if make is _foreign_grant:
            make(sandbox, add_assignment)
        elif make is not None:
            make(sandbox)
        if case == "setup --replace":  # a configured group that also holds default access on the app
            t = sandbox.tenant()
            add_assignment(t, next(g["id"] for g in t.state["groups"].values() if g["displayName"] == "Natoma Admins"),
                           "Group", "00000000-0000-0000-0000-000000000000")
            sandbox.save(t)
        return args, shown

    return prepare


@pytest.mark.parametrize("case", sorted(CASES))
def test_without_a_terminal_it_needs_yes_and_writes_nothing(sandbox, ready, case):
    args, _shown = ready(case)
    before = sandbox.path.read_bytes()
    r = sandbox.cli(*args)
    assert r.code == 2 and "--yes" in r.err and r.writes == [], (r.out, r.err)
    assert sandbox.path.read_bytes() == before
    r = sandbox.cli(*args, "--yes")
    assert r.code == 0, r.err
    assert [w for w in r.writes if w[0] in ("DELETE", "PATCH", "PUT")]


@pytest.mark.parametrize("case", sorted(CASES))
def test_at_a_terminal_the_plan_is_shown_then_asked(sandbox, ready, monkeypatch, case):
    import natoma_entra.cli.confirm as confirm

    args, shown = ready(case)
    monkeypatch.setattr(confirm, "isatty", lambda stream: True)
    no = sandbox.cli(*args, stdin="n\n")
    assert no.code == 1 and no.writes == [] and "nothing was written" in no.err
    assert shown in no.out and "Go ahead with what is listed above?" in no.err
    yes = sandbox.cli(*args, stdin="y\n")
    assert yes.code == 0, yes.err
    assert yes.writes


def test_the_end_of_the_input_at_the_question_is_a_no(sandbox, ready, monkeypatch):
    """Ctrl-D (or a terminal closed) at the question: "not confirmed", exit 1, nothing written. (Ctrl-C there:
    tests/real/test_ctrl_c_at_a_terminal.py.)"""
    import natoma_entra.cli.confirm as confirm

    args, _shown = ready("assign --prune")
    monkeypatch.setattr(confirm, "isatty", lambda stream: True)
    before = sandbox.path.read_bytes()
    r = sandbox.cli(*args, stdin="")
    assert r.code == 1 and r.writes == [], (r.out, r.err)
    assert r.err.strip().splitlines()[-1] == "error: assign: not confirmed; nothing was written"
    assert sandbox.path.read_bytes() == before


def test_json_output_needs_yes_when_it_would_remove(sandbox, ready):
    args, _ = ready("assign --prune")
    r = sandbox.cli(*args, "-o", "json")
    assert r.code == 2 and r.writes == [] and r.json()["ok"] is False and "--yes" in r.json()["fix"]


def test_a_run_that_removes_nothing_asks_nothing(sandbox, ready):
    assert sandbox.set_up().code == 0
    r = sandbox.cli("assign", "--prune")  # nothing foreign to prune: no question, no --yes needed
    assert r.code == 0, r.err
    r = sandbox.cli("roles", "--prune")
    assert r.code == 0, r.err
