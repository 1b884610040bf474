"""`natoma-entra provision USER` against the sandbox: the verdicts, the role Natoma received, --verify, 429s."""
from __future__ import annotations

import asyncio

import pytest

from natoma_entra.sandbox import faults
from natoma_entra.sandbox.options import SimulatedClock

ADELE = "AdeleV@contoso.onmicrosoft.com"
LEE = "LeeG@contoso.onmicrosoft.com"
DIEGO = "DiegoS@contoso.onmicrosoft.com"
MEGAN = "MeganB@contoso.onmicrosoft.com"
POD = "/provisionOnDemand"


def natoma_user(sandbox, upn):
    from natoma_entra.sandbox.natoma import standin_for

    return standin_for(sandbox.tenant()).user(upn)


def pod_requests(result):
    return [r for r in result.requests if r[0] == "POST" and r[1].endswith(POD)]


@pytest.fixture
def ready(sandbox):
    """The guide's steps 1-4 done (setup), then Natoma emptied, so provisioning on demand creates the user."""
    r = sandbox.set_up()
    assert r.code == 0, r.err
    t = sandbox.tenant()
    t.state["natoma"] = None
    sandbox.save(t)
    assert natoma_user(sandbox, ADELE) is None
    return sandbox


def test_adele_is_provisioned_with_admin_and_verify_agrees(ready):
    r = ready.cli("provision", ADELE, "--verify", "-o", "json")
    assert r.code == 0, r.out + r.err
    doc = r.json()
    assert doc["ok"] is True and doc["command"] == "provision"
    [step] = doc["steps"]
    assert step["step"] == "provision" and step["status"] == "changed"
    info = step["info"]
    assert info["user"] == ADELE
    assert (info["result"], info["outcome"], info["errorCode"]) == ("Success", "provisioned", None)
    assert info["role"] == "admin"
    assert info["ruleId"]
    assert info["natoma"]["checked"] is True and info["natoma"]["found"] is True
    assert info["natoma"]["roles"] == ["admin"] and info["natoma"]["matches"] is True
    assert any(m["displayName"] == "roles" and m["newValue"] == "admin" for m in info["modifiedProperties"])
    assert [c["action"] for c in step["changes"]] == ["create"]
    # what Natoma actually holds (the stand-in, end to end)
    held = natoma_user(ready, ADELE)
    assert [role["value"] for role in held["roles"]] == ["admin"]
    assert len(pod_requests(r)) == 1


def test_text_output_shows_what_was_sent_and_the_role(ready):
    r = ready.cli("provision", "Adele Vance")  # by display name
    assert r.code == 0, r.err
    assert "Modified properties" in r.out and "Provisioning steps" in r.out
    assert f"{ADELE}: provisioned" in r.out
    assert "role: admin" in r.out
    assert "EntryExportAdd" in r.out


def test_by_object_id(ready):
    uid = next(u["id"] for u in ready.tenant().state["users"].values() if u["userPrincipalName"] == ADELE)
    r = ready.cli("provision", uid, "-o", "json")
    assert r.code == 0 and r.json()["steps"][0]["info"]["user"] == ADELE


def test_second_provision_is_already_in_sync(ready):
    assert ready.cli("provision", ADELE).code == 0
    r = ready.cli("provision", ADELE, "--verify", "-o", "json")
    assert r.code == 0, r.out
    step = r.json()["steps"][0]
    assert step["status"] == "unchanged"
    info = step["info"]
    assert (info["result"], info["outcome"], info["errorCode"]) == ("Skipped", "in_sync", "RedundantExport")
    assert info["role"] == "admin"
    assert info["natoma"]["roles"] == ["admin"] and info["natoma"]["matches"] is True
    t = ready.cli("provision", ADELE)
    assert t.code == 0 and "already in sync" in t.out


def test_lee_in_two_role_groups_fails_with_multiple_grants(ready):
    r = ready.cli("provision", LEE, "-o", "json")
    assert r.code == 1
    doc = r.json()
    assert doc["ok"] is False
    step = doc["steps"][0]
    assert step["status"] == "failed"
    assert (step["info"]["result"], step["info"]["errorCode"]) == ("Failure", "MultipleGrantsNotSupported")
    assert "MultipleGrantsNotSupported" in step["error"]
    assert "one Natoma role group" in step["fix"] and "mapping --multi-role" in step["fix"]
    assert natoma_user(ready, LEE) is None
    text = ready.cli("provision", LEE)
    assert text.code == 1
    assert "MultipleGrantsNotSupported" in text.out and "--multi-role" in text.out


def test_diego_in_no_group_is_not_assigned(ready):
    r = ready.cli("provision", DIEGO, "--verify", "-o", "json")
    assert r.code == 1
    step = r.json()["steps"][0]
    assert step["status"] == "failed"
    assert (step["info"]["result"], step["info"]["outcome"]) == ("Skipped", "not_assigned")
    assert step["info"]["errorCode"] == "NotEffectivelyEntitled"
    assert "not assigned" in step["error"]
    assert "assign" in step["fix"]
    assert step["info"]["natoma"]["found"] is False
    assert natoma_user(ready, DIEGO) is None


def test_pradeep_only_in_a_nested_group_is_not_in_scope(ready):
    r = ready.cli("provision", "PradeepG@contoso.onmicrosoft.com", "-o", "json")
    assert r.code == 1
    assert r.json()["steps"][0]["info"]["outcome"] == "not_assigned"
    assert "nested" in r.json()["steps"][0]["fix"]


@pytest.mark.parametrize("ref", ["nobody@contoso.onmicrosoft.com", "No Such Person",
                                 "00000000-0000-0000-0000-00000000abcd"])
def test_unknown_user_is_bad_input(ready, ref):
    r = ready.cli("provision", ref)
    assert r.code == 2
    assert "no user" in r.err
    assert not pod_requests(r)


def test_no_job_says_run_setup(sandbox):
    r = sandbox.cli("provision", ADELE)
    assert r.code == 1
    assert "natoma-entra setup" in r.out
    assert not r.writes


def test_dry_run_sends_nothing(ready):
    r = ready.cli("provision", ADELE, "--dry-run", "-o", "json")
    assert r.code == 0
    assert r.json()["steps"][0]["status"] == "planned"
    assert not r.writes
    assert natoma_user(ready, ADELE) is None


# -- throttling: provisionOnDemand allows 5 requests per 10 seconds ---------------------------------------------------

def test_a_throttled_request_is_retried_after_retry_after(ready):
    from natoma_entra.sandbox.clock import VirtualClock
    from natoma_entra.sandbox.faults import throttle

    ready.options.clock = clock = VirtualClock()
    ready.options.faults.append(throttle(3, method="POST", path=POD, count=2))
    r = ready.cli("provision", ADELE, "-o", "json")
    assert r.code == 0, r.out + r.err
    assert [s for _, _, s in pod_requests(r)] == [429, 429, 200]
    assert clock.slept.count(3.0) == 2  # after Retry-After each time, never earlier
    assert "provisionOnDemand with 429; waiting 3 s" in r.err  # a wait over 2 s is said
    assert r.json()["steps"][0]["info"]["role"] == "admin"


def test_throttling_that_does_not_stop_is_bounded_and_clear(ready):
    from natoma_entra.sandbox.faults import throttle
    from natoma_entra.steps.provision import MAX_ATTEMPTS

    ready.options.faults.append(throttle(0, method="POST", path=POD, count=None))
    r = ready.cli("provision", ADELE)
    assert r.code == 1
    assert len(pod_requests(r)) == MAX_ATTEMPTS  # no hidden middleware retries on top
    assert "429" in r.out and "5 requests per 10 seconds" in r.out


def test_a_long_retry_after_is_not_waited_for(ready):
    from natoma_entra.sandbox.faults import throttle

    ready.options.faults.append(throttle(600, method="POST", path=POD, count=None))
    r = ready.cli("provision", ADELE)
    assert r.code == 1
    assert len(pod_requests(r)) == 1
    assert "Retry-After 600" in r.out


# -- --verify -----------------------------------------------------------------------------------------------------------

def test_verify_reports_a_mismatch(ready, monkeypatch):
    from natoma_entra import natoma_scim

    monkeypatch.setattr(natoma_scim, "read_user_roles", lambda url, token, upn, factory=None, **kw: {
        "id": "x", "userName": upn, "active": True, "roles": ["member"], "primary": "member"})
    r = ready.cli("provision", ADELE, "--verify", "-o", "json")
    assert r.code == 1
    step = r.json()["steps"][0]
    assert step["info"]["role"] == "admin"
    assert step["info"]["natoma"]["matches"] is False
    assert "member" in step["error"] and "admin" in step["error"]


def test_verify_never_prints_the_scim_token(ready):
    from natoma_entra.sandbox.defaults import SANDBOX_SCIM_TOKEN

    r = ready.cli("provision", ADELE, "--verify", "--verbose")
    assert r.code == 0, r.err
    assert "natoma:" in r.out and "matches Entra" in r.out
    assert SANDBOX_SCIM_TOKEN not in r.out + r.err
    assert "https://natoma.sandbox.test/scim/v2/Users" in r.err  # the SCIM request is in the trace, the token is not


def test_verify_with_a_wrong_token_fails_without_showing_it(ready, monkeypatch):
    secret = "wrong-token-Zq81xT"
    monkeypatch.setenv("NATOMA_SCIM_TOKEN", secret)
    r = ready.cli("provision", ADELE, "--verify", "--verbose", "-o", "json")
    assert r.code == 1
    assert secret not in r.out + r.err
    step = r.json()["steps"][0]
    assert step["info"]["natoma"]["checked"] is False
    assert "refused the SCIM token" in step["error"]


def test_scim_options_need_verify(ready):
    r = ready.cli("provision", ADELE, "--scim-url", "https://acme.natoma.app/scim/v2")
    assert r.code == 2 and "--verify" in r.err


def test_a_user_removed_from_their_group_is_disabled_not_provisioned(ready):
    assert ready.cli("provision", ADELE).code == 0
    t = ready.tenant()
    adele = next(u["id"] for u in t.state["users"].values() if u["userPrincipalName"] == ADELE)
    admins = next(g["id"] for g in t.state["groups"].values() if g["displayName"] == "Natoma Admins")
    t.state["members"][admins].remove(adele)
    ready.save(t)
    r = ready.cli("provision", ADELE, "--verify", "-o", "json")
    assert r.code == 1
    step = r.json()["steps"][0]
    assert step["info"]["outcome"] == "disabled" and step["info"]["result"] == "Success"
    assert "not assigned" in step["error"] and "assign" in step["fix"]
    assert step["info"]["natoma"]["active"] is False
    assert natoma_user(ready, ADELE)["active"] is False


def test_verify_without_a_token_fails_before_provisioning(ready, monkeypatch):
    from natoma_entra.cli import token

    monkeypatch.setattr(token, "token_source", lambda config, **kw: (lambda: token.read_token(
        env_name=config.scim.token_env, env={}, stdin=None)))
    r = ready.cli("provision", ADELE, "--verify")
    assert r.code == 2 and "no SCIM token" in r.err
    assert not pod_requests(r)


# -- several users: paced to 5 per 10 seconds, a summary table ---------------------------------------------------------

def add_members(sandbox, group: str, n: int) -> list[str]:
    from natoma_entra.sandbox.state import group_id, user_id

    t = sandbox.tenant()
    upns = []
    for i in range(n):
        uid = user_id(f"Extra {i}")
        upn = f"extra{i}@contoso.onmicrosoft.com"
        t.state["users"][uid] = {"id": uid, "displayName": f"Extra {i}", "userPrincipalName": upn,
                                 "mailNickname": f"extra{i}", "accountEnabled": True}
        t.state["members"][group_id(group)].append(uid)
        upns.append(upn)
    sandbox.save(t)
    return upns


def test_a_group_is_provisioned_paced_to_the_limit_without_a_429(ready):
    from natoma_entra.sandbox.options import SimulatedClock

    extra = add_members(ready, "Natoma Members", 10)
    ready.options.clock = clock = SimulatedClock()  # the sandbox and the pacing share simulated time
    r = ready.cli("provision", "--members-of", "Natoma Members", "-o", "json")
    sent = pod_requests(r)
    assert len(sent) == 12 and all(status == 200 for _, _, status in sent)  # Megan, Lee, 10 extra; never throttled
    assert clock.t >= 20  # 12 requests at 5 per 10 s: two waits
    doc = r.json()
    by_user = {s["info"]["user"]: s for s in doc["steps"]}
    assert set(by_user) == {MEGAN, LEE, *extra}
    assert by_user[LEE]["info"]["errorCode"] == "MultipleGrantsNotSupported"
    assert r.code == 1  # Lee failed
    assert any("nested group" in w for w in doc["warnings"])  # Natoma Contractors' members are left out
    for upn in [MEGAN, *extra]:
        assert [x["value"] for x in natoma_user(ready, upn)["roles"]] == ["member"]


def test_without_a_terminal_progress_is_a_line_at_most_every_10_seconds(ready):
    from natoma_entra.sandbox.options import SimulatedClock

    add_members(ready, "Natoma Members", 10)
    ready.options.clock = SimulatedClock()
    r = ready.cli("provision", "--members-of", "Natoma Members")
    lines = [line for line in r.err.splitlines() if line.startswith("provisioning:")]
    assert len(lines) == 3, r.err  # at 0 s, 10 s and 20 s of (simulated) pacing
    # the summary table: one row per user, values whole
    assert "12 users: 11 provisioned, 0 already in sync, 1 failed" in r.out
    assert LEE in r.out and "MultipleGrantsNotSupported" in r.out and "extra9@contoso.onmicrosoft.com" in r.out


def test_at_a_terminal_the_bar_stays_on_screen_full_with_count_elapsed_and_eta(ready):
    """The bar used to live in the spinner's text (and as `[###...]` was read as markup): it vanished with the
    spinner, one user short of full. Now rich.progress, left on screen at 12/12."""
    import io
    import re

    from rich.console import Console

    from natoma_entra.cli.application import Application
    from natoma_entra.cli.main import run
    from natoma_entra.sandbox.options import SimulatedClock

    add_members(ready, "Natoma Members", 10)
    ready.options.clock = SimulatedClock()
    screen = io.StringIO()
    err = Console(file=screen, force_terminal=True, width=160, color_system=None, markup=False, emoji=False)
    application = Application(backend=ready.backend(), _err=err)
    with pytest.raises(SystemExit) as e:
        run(["--sandbox", "--sandbox-state", str(ready.path), "provision", "--members-of", "Natoma Members"],
            application=application)
    assert e.value.code == 1  # Lee fails (two role groups)
    final = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "\n", screen.getvalue()).splitlines()
    bars = [line for line in final if "12/12" in line]
    assert bars, screen.getvalue()[-2000:]
    last = bars[-1]
    assert last.startswith("provisioning") and "done (5 per 10 s)" in last and "ETA" in last
    assert re.search(r"0:00:[1-5]\d", last)  # 12 users at 5 per 10 s: 20 s or more of (simulated) pacing
    assert "[#" not in screen.getvalue()  # the old markup-like bar is gone


def test_several_users_by_name_with_verify(ready):
    from natoma_entra.sandbox.options import SimulatedClock

    ready.options.clock = SimulatedClock()
    r = ready.cli("provision", ADELE, "Megan Bowen", DIEGO, "--verify", "-o", "json")
    assert r.code == 1  # Diego is not assigned
    steps = {s["info"]["user"]: s for s in r.json()["steps"]}
    assert steps[ADELE]["info"]["natoma"]["matches"] is True and steps[ADELE]["info"]["natoma"]["roles"] == ["admin"]
    assert steps[MEGAN]["info"]["natoma"]["roles"] == ["member"]
    assert steps[DIEGO]["info"]["outcome"] == "not_assigned"


def test_several_users_dry_run_plans_each_and_sends_nothing(ready):
    r = ready.cli("provision", ADELE, LEE, "--dry-run", "-o", "json")
    assert r.code == 0
    steps = r.json()["steps"]
    assert [s["status"] for s in steps] == ["planned", "planned"]
    assert steps[1]["changes"][0]["detail"]["body"]["parameters"][0]["subjects"][0]["objectTypeName"] == "User"
    assert not r.writes


def test_no_user_and_no_group_is_bad_input(ready):
    r = ready.cli("provision")
    assert r.code == 2 and "--members-of GROUP" in r.err


def test_the_old_name_group_still_provisions_the_members_and_says_once_it_is_deprecated(ready):
    """`provision --group` was the members of a group while every other --group is ROLE=GROUP: renamed --members-of,
    the old spelling works with one line on stderr."""
    old = ready.cli("provision", "--group", "Natoma Members", "--dry-run", "-o", "json")
    new = ready.cli("provision", "--members-of", "Natoma Members", "--dry-run", "-o", "json")
    assert old.code == new.code == 0 and not old.writes
    assert [s["info"] for s in old.json()["steps"]] == [s["info"] for s in new.json()["steps"]]
    assert {s["info"]["user"] for s in new.json()["steps"]} == {MEGAN, LEE}
    assert [line for line in old.err.splitlines() if "deprecated" in line] == [
        "warning: provision --group GROUP is deprecated; use --members-of GROUP"]
    assert "deprecated" not in new.err
    both = ready.cli("provision", "--group", "Natoma Members", "--members-of", "Natoma Admins")
    assert both.code == 2 and both.err.count("\n") == 1 and "--members-of" in both.err and not both.writes


def test_the_pacer_keeps_any_10_second_window_to_5_requests():
    import asyncio

    from natoma_entra.sandbox.options import SimulatedClock
    from natoma_entra.pacing import Pacer

    clock = SimulatedClock()
    pacer = Pacer(clock=clock.monotonic, sleep=clock.sleep)

    async def send(n):
        times = []
        for _ in range(n):
            await pacer.wait()
            times.append(clock.t)
            clock.advance(0.5)  # each request takes half a second
        return times

    times = asyncio.run(send(12))
    assert times[:5] == [0, 0.5, 1.0, 1.5, 2.0]
    assert times[5] == 10.0  # the 6th waits until the 1st leaves the window
    assert all(times[i + 5] - times[i] >= 10 for i in range(len(times) - 5))


# -- issue 26: the pacing counts against the run's budget (--timeout) ---------------------------------------------------
# Users that cannot fit it at Graph's rate are said before anything is sent (exit 2, naming the --timeout that would
# do); a run the budget cuts short says which users were not sent and the command that sends only them.

@pytest.mark.parametrize("extra,timeout,need,enough", [(38, "5", 70, 80), (198, "25", 390, 400)])
def test_users_that_cannot_fit_the_budget_are_said_before_anything_is_sent(ready, extra, timeout, need, enough):
    add_members(ready, "Natoma Members", extra)  # with Megan and Lee: extra + 2 users
    ready.options.clock = clock = SimulatedClock()
    r = ready.cli("--timeout", timeout, "provision", "--members-of", "Natoma Members")
    assert r.code == 2 and pod_requests(r) == [] and r.writes == []
    assert clock.t < 1  # no pacing wait, no request past the reads: it did not run for minutes
    assert r.err.count("\n") == 1, r.err
    assert (f"{extra + 2} users to provision on demand need at least {need} s at Graph's rate of 5 per 10 s, and "
            f"{timeout} s are left of the run's {timeout} s (--timeout): nothing was sent") in r.err
    assert f"Fix: pass --timeout {enough}" in r.err
    j = ready.cli("--timeout", timeout, "provision", "--members-of", "Natoma Members", "-o", "json")
    assert j.code == 2 and j.json()["exit_code"] == 2 and f"--timeout {enough}" in j.json()["fix"]


def test_the_timeout_it_names_is_enough(ready):
    add_members(ready, "Natoma Members", 38)
    ready.options.clock = clock = SimulatedClock()
    r = ready.cli("--timeout", "80", "provision", "--members-of", "Natoma Members", "-o", "json")
    assert r.code == 1  # Lee Gu's MultipleGrantsNotSupported; everyone else provisioned
    outcomes = [s["info"]["outcome"] for s in r.json()["steps"]]
    assert outcomes.count("provisioned") == 39 and "not_sent" not in outcomes
    assert len(pod_requests(r)) == 40 and 70 <= clock.t < 80


def test_a_run_cut_short_says_who_was_not_sent_and_how_to_send_only_them(ready):
    add_members(ready, "Natoma Members", 13)
    ready.options.clock = clock = SimulatedClock()
    # Graph takes 3 s to answer each provisionOnDemand: 15 users fit the pacing floor (20 s), not the answers (45 s)
    ready.options.faults[:] = [faults.latency(3.0, path=r"/provisionOnDemand$")]
    r = ready.cli("--timeout", "30", "provision", "--members-of", "Natoma Members", "-o", "json")
    assert r.code == 1
    assert clock.t <= 30  # nothing waited past the budget
    steps = r.json()["steps"]
    unsent = [s for s in steps if s["info"]["outcome"] == "not_sent"]
    sent = pod_requests(r)
    assert unsent and len(sent) + len(unsent) == 15  # each user either sent once or said not sent
    names = [s["info"]["user"] for s in unsent]
    assert names == [s["info"]["user"] for s in steps[-len(unsent):]]  # the last ones, in order
    for s in unsent:
        assert s["status"] == "failed" and s["error"].startswith(f"{s['info']['user']} was not sent: the run's time "
                                                                 "budget of 30 s (--timeout) ended")
        assert natoma_user(ready, s["info"]["user"]) is None  # really not sent
    fix = unsent[0]["fix"]
    command = fix.split(": natoma-entra ", 1)[1].split()
    assert command[0] == "--timeout" and command[2] == "provision" and command[3:] == names
    assert "continues where it stopped" not in r.out + r.err  # a rerun of the same command would send everyone

    ready.options.faults[:] = [faults.latency(3.0, path=r"/provisionOnDemand$")]
    again = ready.cli(*command, "-o", "json")  # the command it named: only those users, and it is enough
    assert again.code == 0, again.err
    assert len(pod_requests(again)) == len(names)
    assert {s["info"]["user"]: s["info"]["outcome"] for s in again.json()["steps"]} == dict.fromkeys(names,
                                                                                                   "provisioned")


def test_the_text_of_a_cut_short_run_lists_the_users_not_sent_once(ready):
    add_members(ready, "Natoma Members", 13)
    ready.options.clock = SimulatedClock()
    ready.options.faults[:] = [faults.latency(3.0, path=r"/provisionOnDemand$")]
    r = ready.cli("--timeout", "30", "provision", "--members-of", "Natoma Members")
    assert r.code == 1
    lines = r.out.splitlines()
    unsent_rows = [line for line in lines if "not sent" in line and "@" in line.split()[0]]
    summary = next(line for line in lines if line.startswith("15 users:"))
    assert summary.endswith(f", {len(unsent_rows)} not sent") and " 1 failed or skipped" in summary  # Lee Gu
    said = [line for line in lines if line.startswith(f"{len(unsent_rows)} user(s) not sent:")]
    assert len(said) == 1 and "natoma-entra --timeout" in said[0] and " provision " in said[0]


def test_the_pacer_never_waits_past_the_budget():
    from natoma_entra.pacing import OutOfTime, Pacer

    clock = SimulatedClock()
    budget = 12.0
    pacer = Pacer(clock=clock.monotonic, sleep=clock.sleep, left=lambda: budget - clock.t)

    async def send() -> int:
        sent = 0
        try:
            while True:
                await pacer.wait()
                sent += 1
        except OutOfTime as e:
            assert e.wait == 10.0 and e.left == 2.0  # the 11th's turn at 20 s: after the budget's end at 12 s
            return sent

    assert asyncio.run(send()) == 10 and clock.t == 10.0  # two batches; the third's wait not begun
