"""-o markdown (issue 24): plans, status, doctor and audit as a pull-request comment or a job summary reads them: a
heading, a table per step with changes marked + / ~ / -, long lists folded into <details>, the exit code in words."""
from __future__ import annotations

import json

from natoma_entra.render.markdown import FOLD, to_markdown
from natoma_entra.results import Change, Report, StepResult


def test_a_dry_run_in_markdown_is_a_table_per_step_with_the_diff_folded(sandbox):
    r = sandbox.cli("--output", "markdown", "--dry-run", "setup")
    assert r.code == 0, r.err
    out = r.out
    assert out.startswith("### natoma-entra setup: plan\n")
    assert "| step | result | changes |\n|---|---|---|\n| roles | planned | 3 |\n| assign | planned | 3 |" in out
    assert "#### roles: planned" in out and "| + | create: role Admin (admin) |  |" in out
    assert "| ~ | update: provisioning job: start |" in out
    diff = out.split("<details><summary>the change as a diff</summary>", 1)[1].split("</details>", 1)[0]
    assert "```diff\n+ synchronizationRules[0].objectMappings[0].attributeMappings[22] =" in diff
    assert out.rstrip().endswith("Dry run: nothing was written (10 changes planned).")


def test_plan_out_with_markdown_saves_the_plan_and_shows_it_as_show_does(sandbox, tmp_path):
    plan = tmp_path / "plan.json"
    r = sandbox.cli("--output", "markdown", "roles", "--plan-out", str(plan))
    assert r.code == 0, r.err
    assert json.loads(plan.read_text())["command"] == "roles"
    shown = sandbox.cli("--output", "markdown", "show", str(plan))
    assert shown.code == 0 and shown.requests == []  # shown from the file: no tenant read
    assert shown.out == r.out


def test_status_in_markdown_names_the_state_of_each_step_and_the_exit_code(sandbox):
    r = sandbox.cli("--output", "markdown", "--exit-code", "status")
    assert r.code == 3
    assert r.out.startswith("### natoma-entra status: not in place\n")
    assert "| step | state | what differs / details |" in r.out and "| roles | missing | + role Admin (admin)" in r.out
    assert "**Exit 3** (changes pending)" in r.out
    assert sandbox.set_up().code == 0
    r = sandbox.cli("--output", "markdown", "status")
    assert r.code == 0 and r.out.startswith("### natoma-entra status: in place\n")
    assert "interval: every 40 minutes" in r.out


def test_doctor_in_markdown_is_a_table_of_checks_with_their_details_folded(sandbox):
    assert sandbox.set_up().code == 0
    r = sandbox.cli("--output", "markdown", "doctor")
    assert r.code == 1  # the sandbox has a user in two role groups
    assert r.out.startswith("### natoma-entra doctor: ")
    assert "| check | verdict | summary | fix |" in r.out and "| multiple-grants | fail |" in r.out
    assert "<details><summary>multiple-grants: 1 detail</summary>\n\n- Lee Gu (LeeG@contoso.onmicrosoft.com)" in r.out


def test_audit_in_markdown_counts_the_verdicts_and_lists_the_users_that_differ(sandbox):
    assert sandbox.set_up().code == 0
    r = sandbox.cli("--output", "markdown", "audit")
    assert r.code in (0, 3), r.err
    assert "| verdict | users |" in r.out
    assert r.out.startswith("### natoma-entra audit: ")


def test_a_long_list_of_changes_is_folded_after_the_first_rows():
    changes = [Change(action="delete", target=f"group {i} -> Member") for i in range(FOLD + 4)]
    report = Report(command="assign", dry_run=True, steps=[StepResult(step="assign", status="planned", changes=changes)])
    out = to_markdown(report)
    shown, folded = out.split("<details><summary>4 more changes</summary>", 1)
    assert shown.count("| - | delete: group ") == FOLD
    body = folded.split("</details>", 1)[0]
    assert body.count("| - | delete: group ") == 4 and "| - | delete: group 13 -&gt; Member |" in body
    assert "| assign | planned | 14 |" in shown
