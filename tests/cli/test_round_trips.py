"""Round trips, counted on the sandbox's timestamped request log under injected latency (never timed): a no-op setup
or status waits for 3 round trips (the floor: find the app; then roles, assignments, job and secrets together; then
the schema and the saved-credentials test together), reads each resource once, and doctor and audit read every
assigned group's members with the one walker, concurrently."""
from __future__ import annotations

import collections

import pytest

from natoma_entra.sandbox import faults
from natoma_entra.sandbox.transport import chain_path, longest_chain

LATENCY = 0.06  # enough for requests in flight together to overlap even on a busy machine (the count does not
# depend on the machine: at 0.03 s a loaded 2-core machine sometimes sent the second of two requests after the first
# was answered)


def test_longest_chain_counts_requests_waited_for_one_after_the_other():
    assert longest_chain([]) == 0
    together = [(0.0, 1.0), (0.1, 1.1), (0.2, 1.0)]
    assert longest_chain(together) == 1
    # a, then b and c together, then d after both: 3; e overlaps everything after a
    spans = [(0.0, 1.0), (1.1, 2.0), (1.2, 2.1), (2.2, 3.0), (1.05, 3.5)]
    assert longest_chain(spans) == 3
    assert chain_path(spans)[0] == 0 and chain_path(spans)[-1] == 3


def _no_repeats(requests):
    seen = collections.Counter((m, p) for m, p, _ in requests if m == "GET")
    return [k for k, n in seen.items() if n > 1]


@pytest.mark.parametrize("command", [["setup"], ["status"], ["--dry-run", "setup"]])
def test_a_no_op_run_is_three_round_trips_and_reads_each_resource_once(sandbox, command):
    assert sandbox.set_up().code == 0
    sandbox.options.faults.append(faults.latency(LATENCY))
    r = sandbox.cli(*command)
    assert r.code == 0, r.err
    assert r.writes == []
    assert r.round_trips == 3, [p for _, p, _ in r.requests]
    assert _no_repeats(r.requests) == []
    assert len(r.requests) <= 10
    # $select on the lookups: only the fields the steps use
    lookup = next(p for m, p, _ in r.requests if m == "GET" and p.startswith("/v1.0/servicePrincipals?"))
    assert "$select=id,appId,displayName,appRoles" in lookup and "tags" not in lookup
    listing = next(p for m, p, _ in r.requests if m == "GET" and "/appRoleAssignedTo?" in p)
    assert "$select=id,appRoleId,principalId,principalType,principalDisplayName,resourceId" in listing


def test_doctor_reads_members_concurrently_and_each_resource_once(sandbox):
    assert sandbox.set_up().code == 0
    sandbox.options.faults.append(faults.latency(LATENCY))
    r = sandbox.cli("--output", "json", "doctor")
    # the sandbox's set-up tenant has a user in two role groups: doctor reports it (exit 1), the reads are complete
    assert {s["step"]: s["info"]["verdict"] for s in r.json()["steps"]}["multiple-grants"] == "fail"
    assert r.writes == [] and _no_repeats(r.requests) == []
    members = [p for m, p, _ in r.requests if m == "GET" and "/members" in p]
    assert len(members) >= 2  # the configured role groups
    # app; then assignments, job, secrets, groups; then members, schema, connection test together
    assert r.round_trips <= 4, [p for _, p, _ in r.requests]


def test_a_fresh_setup_is_at_most_fifteen_round_trips(sandbox, monkeypatch):
    """Issue 13: a fresh setup waits for at most 12 round trips one after the other (the sandbox copies roles to the
    service principal at once here, so no replication wait is added), and issue 22 adds 3: the new job is recorded on
    the app registration (natoma_entra/marks.py: its tags read, written, read back)."""
    from natoma_entra.sandbox.state import NATOMA_TOKEN

    monkeypatch.setenv("NATOMA_SCIM_TOKEN", NATOMA_TOKEN)
    sandbox.options.faults.append(faults.latency(LATENCY))
    r = sandbox.cli("setup")
    assert r.code == 0, r.err
    assert r.round_trips <= 15, [p for _, p, _ in r.requests]
    # each resource read once, but the job list (start reads the job back to confirm it runs) and the app's tags
    # (read back after they are written: another writer may have replaced them)
    assert [k for k in _no_repeats(r.requests) if not k[1].endswith("/synchronization/jobs")
            and "$select=id,tags" not in k[1]] == []
