"""Issue 26: a run that stops before writing (a rejected SCIM token on a fresh tenant) reports nothing as done: the
skipped steps carry no changes, no line says "created", and no count in the summary claims a change."""
from __future__ import annotations

import re

import pytest


@pytest.fixture
def rejected(sandbox, monkeypatch):
    """`NATOMA_SCIM_TOKEN=wrong natoma-entra --sandbox setup` on a reset sandbox: the connection test fails."""
    monkeypatch.setenv("NATOMA_SCIM_TOKEN", "wrong")
    return sandbox


def test_the_text_says_nothing_was_made_and_counts_no_change(rejected):
    before = rejected.path.read_bytes()
    r = rejected.cli("setup")
    assert r.code == 1 and r.writes == [] and rejected.path.read_bytes() == before
    assert "created:" not in r.out and "saved:" not in r.out  # nothing claims to be done
    for step in ("roles", "assign", "mapping", "start"):
        block = r.out[r.out.index(f"{step}: skipped"):].split("\n", 2)
        assert block[1].strip() == "why: credentials cannot be done: nothing written", r.out
    # the summary table: no step counts a change (the failed step's plan was not carried out either)
    table = r.out[r.out.index("Summary"):]
    rows = {m.group(1): (m.group(2), m.group(3)) for m in
            re.finditer(r"^[^\w\n]*(roles|assign|mapping|credentials|start)[^\w\n]+(\w+)[^\w\n-]+(\S+)", table, re.M)}
    assert rows == {"roles": ("skipped", "-"), "assign": ("skipped", "-"), "mapping": ("skipped", "-"),
                    "credentials": ("failed", "-"), "start": ("skipped", "-")}, r.out


def test_the_json_has_no_change_on_a_skipped_step(rejected):
    r = rejected.cli("setup", "--output", "json")
    assert r.code == 1 and r.writes == []
    steps = {s["step"]: s for s in r.json()["steps"]}
    assert steps["credentials"]["status"] == "failed"
    for name in ("roles", "assign", "mapping", "start"):
        assert steps[name]["status"] == "skipped" and steps[name]["changes"] == [], steps[name]
        assert steps[name]["info"]["why"] == "credentials cannot be done: nothing written"
    # status agrees: nothing was made
    status = rejected.cli("status", "--output", "json")
    assert {s["info"]["state"] for s in status.json()["steps"]} == {"missing"}
