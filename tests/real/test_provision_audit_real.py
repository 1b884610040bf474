"""`provision` (one user, `--group`, `--verify`) and `audit` run as against a real tenant, on the tenant a clean setup
left, with a user deleted in Natoma: Natoma is read over HTTP at scim.url when configured, else at the URL the job
saved; the SCIM token comes from the environment, a file or standard input, and is never filled in."""
from __future__ import annotations

from natoma_entra.sandbox.state import NATOMA_TOKEN

from .conftest import Real

MEGAN = "MeganB@contoso.onmicrosoft.com"
LEE = "LeeG@contoso.onmicrosoft.com"


def test_provision_verify_with_scim_url_configured_and_the_token_from_a_file(real: Real) -> None:
    real.set_up()
    real.served.drop_from_natoma(MEGAN)
    cfg = real.config()
    r = real.cli("--config", cfg, "--output", "json", "provision", MEGAN, "--verify",
                 "--scim-token-file", real.token_file())
    assert r.code == 0, r.err
    [step] = r.json()["steps"]
    assert step["status"] == "changed" and step["info"]["role"] == "member"
    natoma = step["info"]["natoma"]
    assert natoma["url"] == real.served.scim_url and natoma["roles"] == ["member"] and natoma["matches"] is True
    assert real.served.natoma()[MEGAN] == ["member"]


def test_provision_group_verify_without_scim_url_reads_the_saved_url_token_from_stdin(real: Real) -> None:
    """scim.url not configured: --verify reads Natoma at the URL the job saved (issue 20's crash was here)."""
    real.set_up()
    real.served.drop_from_natoma(MEGAN)
    cfg = real.config(scim_url=False)
    r = real.cli("--config", cfg, "--output", "json", "provision", "--group", "Natoma Members", "--verify",
                 "--scim-token-stdin", stdin=NATOMA_TOKEN + "\n")
    assert r.code == 1  # Lee is in two role groups: his provisioning fails, as the guide describes
    by_user = {s["info"]["user"]: s for s in r.json()["steps"]}
    assert set(by_user) == {MEGAN, LEE}  # direct members only: Pradeep (nested) is left out
    megan = by_user[MEGAN]["info"]
    assert megan["natoma"]["url"] == real.served.scim_url and megan["natoma"]["roles"] == ["member"]
    assert by_user[LEE]["status"] == "failed" and by_user[LEE]["info"]["errorCode"] == "MultipleGrantsNotSupported"
    assert real.served.natoma()[MEGAN] == ["member"] and LEE not in real.served.natoma()
    assert "error: provision:" in r.err and "MultipleGrantsNotSupported" in r.err


def test_provision_without_verify_needs_no_scim_token(real: Real) -> None:
    real.set_up()
    real.served.drop_from_natoma(MEGAN)
    r = real.cli("--config", real.config(scim_url=False), "provision", MEGAN)
    assert r.code == 0, r.err
    assert "role: member" in r.out
    assert real.served.natoma()[MEGAN] == ["member"]


def test_provision_verify_without_a_token_is_exit_2_before_anything_is_sent(real: Real) -> None:
    real.set_up()
    real.served.drop_from_natoma(MEGAN)
    r = real.cli("--config", real.config(), "provision", MEGAN, "--verify")
    assert r.code == 2
    [line] = r.err.strip().splitlines()
    assert line.startswith("error: no SCIM token given") and "NATOMA_SCIM_TOKEN" in line
    assert "credentials" not in line.split(" Fix: ")[0]  # it is needed to read Natoma's users, not to save anything
    assert r.writes == [] and MEGAN not in real.served.natoma()


def test_audit_with_scim_url_configured_finds_the_user_missing_in_natoma(real: Real) -> None:
    """The token from the variable the config file names (scim.token_env), as a CI secret store gives it."""
    real.set_up()
    real.served.drop_from_natoma(MEGAN)
    real.token_env(name="CI_NATOMA_SCIM_TOKEN")
    cfg = real.config(scim_token_env="CI_NATOMA_SCIM_TOKEN")
    r = real.cli("--config", cfg, "--output", "json", "--exit-code", "audit")
    assert r.code == 3, r.err  # --exit-code: a difference found
    [step] = r.json()["steps"]
    info = step["info"]
    assert info["scimUrl"] == real.served.scim_url
    assert info["counts"]["ok"] == 2 and info["counts"]["missing"] == 1 and info["counts"]["will_fail"] == 1
    verdicts = {u["user"]: u["verdict"] for u in info["users"]}
    assert verdicts[MEGAN] == "missing" and verdicts[LEE] == "will_fail"
    assert r.writes == []


def test_audit_without_scim_url_reads_the_saved_url_token_from_a_file(real: Real) -> None:
    real.set_up()
    r = real.cli("--config", real.config(scim_url=False), "audit", "--all", "--scim-token-file", real.token_file())
    assert r.code == 0, r.err
    assert f"Natoma: {real.served.scim_url}" in r.out
    assert "ok: 3, missing in Natoma: 0, wrong role: 0" in r.out
    assert MEGAN in r.out and "AdeleV@contoso.onmicrosoft.com" in r.out  # --all lists every user
