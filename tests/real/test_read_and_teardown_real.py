"""The read-only commands (status, doctor, logs, export), `config init` followed by status, `teardown` and `app
create`, run as against a real tenant: config from a file or the environment, never a sandbox default."""
from __future__ import annotations

import shlex

from natoma_entra.config import load

from .conftest import GROUPS, Real

LEE = "LeeG@contoso.onmicrosoft.com"
GROUP_FLAGS = [a for role, names in GROUPS.items() for a in ("--group", f"{role}={names[0]}")]


def test_status_sees_drift_and_needs_a_scim_url(real: Real) -> None:
    real.set_up()
    real.served.unassign("Natoma Members")
    before = real.served.state_bytes()
    r = real.cli("--config", real.config(), "--output", "json", "--exit-code", "status")
    assert r.code == 3, r.err  # changes pending
    states = {s["step"]: s["info"]["state"] for s in r.json()["steps"]}
    assert states == {"roles": "in place", "assign": "missing", "mapping": "in place", "credentials": "in place",
                      "start": "in place"}
    assert r.writes == [] and real.served.state_bytes() == before
    # without scim.url the credentials row has nothing to compare with: exit 2 naming the flag, nothing written
    r = real.cli("--config", real.config(scim_url=False), "status")
    assert r.code == 2 and r.writes == []
    assert r.err.strip().splitlines()[-1].startswith("error: no SCIM tenant URL given") and "--scim-url" in r.err


def test_doctor_without_scim_url_or_token_judges_the_tenant(real: Real) -> None:
    """doctor tests the saved credentials (no token needed) and finds the guide's cases."""
    real.set_up()
    r = real.cli("--config", real.config(scim_url=False), "--output", "json", "doctor")
    assert r.code == 1  # Lee Gu in two role groups fails the run
    verdicts = {s["step"]: s["info"]["verdict"] for s in r.json()["steps"]}
    assert verdicts["multiple-grants"] == "fail" and verdicts["nested-only"] == "warn"
    assert verdicts["roles"] == "ok" and verdicts["groups-assigned"] == "ok"
    assert [v for k, v in verdicts.items() if k.startswith("credentials")] == ["ok"]
    assert "Lee Gu (LeeG@contoso.onmicrosoft.com)" in r.out
    assert r.writes == []


def test_logs_of_the_cycle_setup_started(real: Real) -> None:
    real.set_up()
    r = real.cli("--config", real.config(), "--output", "json", "logs", "--errors", "--user", LEE, "--since", "1h")
    assert r.code == 0, r.err
    records = r.json()["steps"][0]["info"]["records"]
    assert records and all(rec["provisioningStatusInfo"]["status"] == "failure" for rec in records)
    assert {rec["provisioningStatusInfo"]["errorInformation"]["errorCode"] for rec in records} == {
        "MultipleGrantsNotSupported"}


def test_export_then_status_with_the_exported_file(real: Real, monkeypatch) -> None:
    """Sign-in from the environment (as a pipeline gives it); the exported file reproduces the tenant."""
    real.set_up()
    monkeypatch.setenv("NATOMA_ENTRA_AUTH", "access-token")
    monkeypatch.setenv("NATOMA_ENTRA_GRAPH_ENDPOINT", real.served.graph_url)
    path = real.tmp / "exported.toml"
    r = real.cli("--app", "Natoma", "export", "--write", path)
    assert r.code == 0, r.err
    config = load(path, {}, env={})
    assert config.app == "Natoma" and config.groups == GROUPS
    assert config.scim.url == real.served.scim_url and config.scim.scope == "assigned"
    r = real.cli("--config", path, "--output", "json", "--exit-code", "status")
    assert r.code == 0, r.out + r.err
    assert {s["info"]["state"] for s in r.json()["steps"]} == {"in place"}


def test_config_init_then_the_status_it_prints(real: Real) -> None:
    """`config init` with the global sign-in options, then the check it prints, run as printed."""
    real.set_up()
    path = real.tmp / "init.toml"
    r = real.cli("--auth", "access-token", "--graph-endpoint", real.served.graph_url, "--app", "Natoma",
                 "--config", path, "config", "init", *GROUP_FLAGS, "--scim-url", real.served.scim_url)
    assert r.code == 0, r.err
    printed = r.out.split("check it with: ", 1)[1].strip()
    argv = shlex.split(printed)
    assert argv[0] == "natoma-entra"
    r = real.cli(*argv[1:], "--output", "json")
    assert r.code == 0, r.out + r.err
    assert {s["info"]["state"] for s in r.json()["steps"]} == {"in place"}
    assert r.requests  # it asked the served Graph, the endpoint config init was given


def test_teardown_undoes_setup_and_asks_first(real: Real) -> None:
    real.set_up()
    s = real.served
    cfg = real.config()
    before = s.state_bytes()
    r = real.cli("--config", cfg, "teardown")  # no terminal to ask at: refused, nothing written
    assert r.code == 2 and "--yes" in r.err and s.state_bytes() == before
    r = real.cli("--config", cfg, "--output", "json", "teardown", "--yes")
    assert r.code == 0, r.err
    assert s.job() is None and s.assigned() == set() and s.role_values() == []
    assert s.natoma()  # Natoma keeps its users: teardown is about Entra's side
    again = real.cli("--config", cfg, "--output", "json", "teardown", "--yes")
    assert again.code == 0 and again.writes == []


def test_app_create_on_a_bare_tenant_then_setup_then_teardown_of_all_of_it(real: Real) -> None:
    real.bare()
    s = real.served
    assert not s.tenant.state["applications"] or all(
        a["displayName"] != "Natoma" for a in s.tenant.state["applications"].values())
    r = real.cli("--auth", "access-token", "--graph-endpoint", s.graph_url, "--output", "json", "app", "create",
                 "Natoma")
    assert r.code == 0 and r.steps() == {"app": "changed"}, r.err
    assert s.sp()["displayName"] == "Natoma" and s.tenant.find_app("Natoma")
    real.token_env()
    cfg = real.config()
    r = real.cli("--config", cfg, "--output", "json", "setup", "--create-groups")
    assert r.code == 0, r.err
    names = {g["displayName"] for g in s.tenant.state["groups"].values()}
    assert {"Natoma Admins", "Natoma App Admins", "Natoma Members"} <= names
    assert s.assigned() == {("Natoma Admins", "admin"), ("Natoma App Admins", "AppAdmin"),
                            ("Natoma Members", "member")}
    r = real.cli("--config", cfg, "--output", "json", "teardown", "--yes", "--delete-app", "--delete-groups")
    assert r.code == 0, r.err
    names = {g["displayName"] for g in s.tenant.state["groups"].values()}
    assert not names & {"Natoma Admins", "Natoma App Admins", "Natoma Members"}
    assert all(a["displayName"] != "Natoma" for a in s.tenant.state["applications"].values())
