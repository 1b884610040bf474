"""The sandbox state file: writers serialise on a lock and never overwrite another run's save; readers never wait;
the file is replaced whole, mode 0600."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading

import pytest

from natoma_entra.errors import UsageError
from natoma_entra.sandbox.state import StateConflict, Tenant, state_lock

# A writer run in another process: under the lock, read a counter, give the other process a chance to interleave,
# write counter + 1. Without the lock both would read the same value and one increment would be lost.
WRITER = r"""
import sys, time
from natoma_entra.sandbox.state import Tenant
path, rounds = sys.argv[1], int(sys.argv[2])
for _ in range(rounds):
    with Tenant.locked(path) as t:
        n = t.state["natoma"].get("counter", 0)
        time.sleep(0.002)
        t.state["natoma"]["counter"] = n + 1
        t.save(path)
"""


def test_two_writer_processes_at_once_lose_no_update(tmp_path):
    path = tmp_path / "sandbox.json"
    Tenant.initial().save(path)
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), "15"]) for _ in range(2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    assert Tenant.load(path).state["natoma"]["counter"] == 30


def test_writer_threads_at_once_lose_no_update(tmp_path):
    path = tmp_path / "sandbox.json"
    Tenant.initial().save(path)
    errors = []

    def writer():
        try:
            for _ in range(20):
                with Tenant.locked(path) as t:
                    t.state["natoma"]["counter"] = t.state["natoma"].get("counter", 0) + 1
                    t.save(path)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=writer) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert Tenant.load(path).state["natoma"]["counter"] == 60


def test_a_save_that_would_overwrite_another_runs_change_is_refused(tmp_path):
    path = tmp_path / "sandbox.json"
    Tenant.initial().save(path)
    slow, fast = Tenant.load(path), Tenant.load(path)  # two runs that loaded the same state
    fast.state["natoma"]["by"] = "fast"
    fast.save(path)
    slow.state["natoma"]["by"] = "slow"
    with pytest.raises(StateConflict) as e:
        slow.save(path)
    assert str(path) in str(e.value) and "run the command again" in str(e.value)
    assert Tenant.load(path).state["natoma"]["by"] == "fast"  # the other run's change stands


def test_a_run_that_found_no_file_does_not_overwrite_one_created_meanwhile(tmp_path):
    path = tmp_path / "sandbox.json"
    late = Tenant.open(path)  # no file yet
    Tenant.open(path).save(path)  # another run creates it first
    late.state["natoma"]["by"] = "late"
    with pytest.raises(StateConflict):
        late.save(path)


def test_a_reader_does_not_wait_for_a_writer(tmp_path):
    path = tmp_path / "sandbox.json"
    Tenant.initial().save(path)
    held, done = threading.Event(), threading.Event()

    def writer():
        with Tenant.locked(path):
            held.set()
            done.wait(timeout=60)

    t = threading.Thread(target=writer)
    t.start()
    try:
        assert held.wait(timeout=60)
        tenant = Tenant.load(path)  # returns while the writer holds the lock
        assert tenant.find_sp("Natoma")
        assert not done.is_set()  # the writer is still inside its locked block
    finally:
        done.set()
        t.join()


def test_the_lock_is_reentrant_within_a_thread(tmp_path):
    path = tmp_path / "sandbox.json"
    with state_lock(path):
        with Tenant.locked(path) as t:
            t.state["natoma"]["x"] = 1
            t.save(path)  # takes the same lock again: must not deadlock
    assert Tenant.load(path).state["natoma"]["x"] == 1


def test_the_file_is_replaced_whole_with_mode_0600_and_no_temp_left(tmp_path):
    path = tmp_path / "sandbox.json"
    t = Tenant.initial()
    t.save(path)
    os.chmod(path, 0o644)  # even a file made looser by hand gets 0600 back on the next save
    t = Tenant.load(path)
    t.state["natoma"]["x"] = 1
    t.save(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sandbox.json", "sandbox.json.lock"]


def test_an_unchanged_tenant_is_not_written(tmp_path):
    path = tmp_path / "sandbox.json"
    Tenant.initial().save(path)
    before = path.read_bytes()
    Tenant.load(path).save(path)
    assert path.read_bytes() == before


@pytest.mark.parametrize("content,words", [
    (b"", "empty"), (b"{", "not valid JSON"), (b"[1]", "not a sandbox tenant"),
    (b'{"users": "x"}', "'users'"), (b'{"generation": "7"}', "generation"),
])
def test_a_damaged_state_file_names_the_fix(tmp_path, content, words):
    path = tmp_path / "sandbox.json"
    path.write_bytes(content)
    with pytest.raises(UsageError) as e:
        Tenant.open(path)
    assert words in str(e.value) and "natoma-entra sandbox reset" in e.value.fix


def test_tilde_is_the_home_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    t = Tenant.open("~/state/sandbox.json")
    t.save("~/state/sandbox.json")
    assert (tmp_path / "state" / "sandbox.json").is_file()
