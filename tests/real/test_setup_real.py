"""`setup` and its five steps run as against a real tenant: config from a file, the SCIM token from the environment,
a file or standard input, scim.url configured or given by flag; what is missing is asked for, never filled in."""
from __future__ import annotations

import pytest

from natoma_entra.sandbox.state import NATOMA_TOKEN

from .conftest import Real

ROLES = ["AppAdmin", "admin", "member"]
ASSIGNED = {("Natoma Admins", "admin"), ("Natoma App Admins", "AppAdmin"), ("Natoma Members", "member")}
IN_NATOMA = {"AdeleV@contoso.onmicrosoft.com": ["admin"], "AlexW@contoso.onmicrosoft.com": ["AppAdmin"],
             "MeganB@contoso.onmicrosoft.com": ["member"]}


def assert_set_up(real: Real) -> None:
    """What a clean setup leaves: the three roles, the three groups assigned, the job with the role mapping running,
    the credentials saved, and the users in Natoma with their roles (Lee, in two role groups, fails)."""
    s = real.served
    assert s.role_values() == ROLES
    assert s.assigned() == ASSIGNED
    job = s.job()
    assert job is not None and (job.get("schedule") or {}).get("state") == "Active"
    schema = s.tenant.state["schemas"][job["id"]]
    assert 'SingleAppRoleAssignment([appRoleAssignments])' in str(schema)
    secrets = s.secrets()
    assert secrets["BaseAddress"] == s.scim_url and secrets["SecretToken"] == NATOMA_TOKEN
    assert secrets["SyncAll"] == "false"
    assert s.natoma() == IN_NATOMA


def test_setup_from_a_config_file_with_the_token_from_the_environment(real: Real) -> None:
    cfg = real.config()
    real.token_env()
    r = real.cli("--config", cfg, "--output", "json", "setup")
    assert r.code == 0, r.err
    assert r.steps() == dict.fromkeys(["roles", "assign", "mapping", "credentials", "start"], "changed")
    assert_set_up(real)
    before = real.served.state_bytes()
    again = real.cli("--config", cfg, "--output", "json", "setup")
    assert again.code == 0, again.err
    assert set(again.steps().values()) == {"unchanged"} and again.writes == []
    assert real.served.state_bytes() == before


@pytest.mark.parametrize("source", ["file", "stdin"])
def test_setup_with_the_token_from_a_file_or_stdin_and_the_url_by_flag(real: Real, source: str) -> None:
    """No NATOMA_SCIM_TOKEN and no scim.url in the file: the token comes only from where it is pointed at."""
    cfg = real.config(scim_url=False)
    how = ["--scim-token-file", real.token_file()] if source == "file" else ["--scim-token-stdin"]
    r = real.cli("--config", cfg, "setup", "--scim-url", real.served.scim_url, *how,
                 stdin=NATOMA_TOKEN + "\n" if source == "stdin" else None)
    assert r.code == 0, r.err
    assert f"testing the connection to {real.served.scim_url}" in r.err
    assert_set_up(real)


def test_setup_with_no_scim_token_anywhere_is_exit_2_and_writes_nothing(real: Real) -> None:
    """A real run has no token to fall back on (under --sandbox the stand-in's own would be used)."""
    cfg = real.config()
    before = real.served.state_bytes()
    r = real.cli("--config", cfg, "setup")
    assert r.code == 2
    [line] = r.err.strip().splitlines()[-1:]
    assert line.startswith("error: no SCIM token given")
    assert "NATOMA_SCIM_TOKEN" in line and "--scim-token-file" in line and "--scim-token-stdin" in line
    assert r.writes == [] and real.served.state_bytes() == before


def test_setup_with_no_scim_url_anywhere_is_exit_2_and_writes_nothing(real: Real) -> None:
    cfg = real.config(scim_url=False)
    real.token_env()
    before = real.served.state_bytes()
    r = real.cli("--config", cfg, "setup")
    assert r.code == 2
    assert r.err.strip().splitlines()[-1].startswith("error: no SCIM tenant URL given") and "--scim-url" in r.err
    assert r.writes == [] and real.served.state_bytes() == before


def test_the_five_steps_one_by_one_then_status_in_place(real: Real) -> None:
    """Each step alone, from a config file that names the SCIM token's file (scim.token_file)."""
    s = real.served
    cfg = real.config(scim_token_file=real.token_file())

    r = real.cli("--config", cfg, "--output", "json", "roles")
    assert r.code == 0 and r.steps() == {"roles": "changed"}, r.err
    assert s.role_values() == ROLES and s.assigned() == set()

    r = real.cli("--config", cfg, "--output", "json", "assign")
    assert r.code == 0 and r.steps() == {"assign": "changed"}, r.err
    assert s.assigned() == ASSIGNED and s.job() is None

    r = real.cli("--config", cfg, "--output", "json", "mapping")
    assert r.code == 0 and r.steps() == {"mapping": "changed"}, r.err
    job = s.job()
    assert job is not None
    assert "SingleAppRoleAssignment([appRoleAssignments])" in str(s.tenant.state["schemas"][job["id"]])
    assert s.secrets().get("BaseAddress") is None

    r = real.cli("--config", cfg, "--output", "json", "credentials")
    assert r.code == 0 and r.steps() == {"credentials": "changed"}, r.err
    assert s.secrets()["BaseAddress"] == s.scim_url and s.secrets()["SecretToken"] == NATOMA_TOKEN
    assert s.natoma() == {}  # saved, not started: nobody provisioned yet

    r = real.cli("--config", cfg, "--output", "json", "start")
    assert r.code == 0 and r.steps() == {"start": "changed"}, r.err
    assert_set_up(real)

    # status tests the saved credentials: everything setup would do is in place
    st = real.cli("--config", cfg, "--output", "json", "--exit-code", "status")
    assert st.code == 0, st.out + st.err
    assert {step["info"]["state"] for step in st.json()["steps"]} == {"in place"}
    assert st.writes == []
