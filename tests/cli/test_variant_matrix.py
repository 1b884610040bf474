"""Every open Graph behaviour the sandbox plays (sandbox/options.py VARIANTS), one at a time and all together: the
CLI's everyday commands must work as on a healthy tenant (issue 10; docs/graph-assumptions.md).

Per variant, one run of: setup, setup again (no write), status --exit-code, provision a user, logs, doctor. The runs
are made once per variant and shared by the tests that check each command. The tenant's clock is virtual and the
CLI's waits advance it, so slow replication and throttling cost no real time but the CLI still has to wait them out;
the sandbox records any request sent again before the Retry-After it was given (issue 23), and none may be.
"""
from __future__ import annotations

import contextlib
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from natoma_entra.sandbox import options as V
from natoma_entra.sandbox.options import SECRETS_MASKED, SECRETS_UNREADABLE, VARIANTS

ADELE = "AdeleV@contoso.onmicrosoft.com"
READ_ONLY_POST = re.compile(r"/validateCredentials")
REAL_POLL_DELAYS = (0.2, 0.5, 1, 2, 3, 5, 5, 8, 10, 15, 20)
SECRET_ENV = ("NATOMA_SCIM_TOKEN", "NATOMA_ENTRA_ACCESS_TOKEN", "AZURE_CLIENT_SECRET", "NATOMA_ENTRA_APP",
              "NATOMA_ENTRA_TENANT", "NATOMA_ENTRA_AUTH", "NATOMA_ENTRA_CLOUD", "NATOMA_ENTRA_GRAPH_ENDPOINT",
              "NATOMA_SCIM_URL", "NATOMA_ENTRA_SANDBOX_STATE", "NATOMA_ENTRA_SANDBOX_VARIANTS")

COMMANDS = {
    "setup": ("setup", "-o", "json"),
    "setup-again": ("setup", "-o", "json"),
    "status": ("status", "--exit-code", "-o", "json"),
    "provision": ("provision", ADELE, "-o", "json"),
    "logs": ("logs", "-o", "json"),
    "doctor": ("doctor", "-o", "json"),
}
CASES = ["none", *sorted(VARIANTS), "all"]  # "none": the default sandbox, proof the checks themselves hold


@dataclass
class Run:
    code: int
    out: str
    err: str
    requests: list
    job_templates: list  # templateId of each job the tenant holds after the command
    early: list  # requests sent again before the Retry-After they were given (the sandbox's ledger)
    state: Path  # the sandbox's state file (the tenant after the last command of the case)

    @property
    def writes(self) -> list:
        return [r for r in self.requests if r[0] != "GET" and not READ_ONLY_POST.search(r[1])]

    def doc(self) -> dict:
        return json.loads(self.out)

    def why(self) -> str:
        try:
            doc = self.doc()
        except ValueError:
            return f"exit {self.code}: {self.err.strip()[-600:]}"
        failed = [f"{s['step']}: {s.get('error') or s.get('message') or s.get('status')}"
                  for s in doc.get("steps", []) if s.get("status") == "failed"]
        return f"exit {self.code}: {doc.get('error') or ''} {failed} warnings={doc.get('warnings')}"


def _drifted_admin_role(tenant) -> None:
    """An enabled Natoma role renamed by hand: setup must disable it in one PATCH and change it in the next, which is
    what `role-disable-lag` plays against (without it, that variant would have nothing to delay)."""
    from natoma_entra.natoma_roles import role_id

    app, sp = tenant.find_app("Natoma"), tenant.find_sp("Natoma")
    role = {"allowedMemberTypes": ["User"], "description": "renamed by hand", "displayName": "Admin (old name)",
            "id": role_id(app["appId"], "admin"), "isEnabled": True, "origin": "Application", "value": "admin"}
    app["appRoles"].append(dict(role))
    sp["appRoles"].append(dict(role))


SEEDS = {V.ROLE_DISABLE_LAG: _drifted_admin_role}  # variant -> what the tenant needs for the variant to play


def _run_all(case: str, workdir: Path, commands: dict[str, tuple] = COMMANDS, env: dict[str, str] | None = None
             ) -> dict[str, Run]:
    from natoma_entra.cli.application import Application
    from natoma_entra.cli.main import run
    from natoma_entra.sandbox.clock import VirtualClock
    from natoma_entra.sandbox.options import SandboxOptions
    from natoma_entra.sandbox.state import Tenant
    from natoma_entra.sandbox.backend import SandboxBackend
    from natoma_entra.waits import Waits

    variants = frozenset(VARIANTS) if case == "all" else frozenset() if case == "none" else frozenset({case})
    state = workdir / "sandbox.json"
    tenant = Tenant.initial()
    for variant in sorted(variants & set(SEEDS)):
        SEEDS[variant](tenant)
    tenant.save(state)
    clock = VirtualClock()
    results: dict[str, Run] = {}
    with pytest.MonkeyPatch.context() as mp:
        for name in SECRET_ENV:
            mp.delenv(name, raising=False)
        for name, value in (env or {}).items():
            mp.setenv(name, value)
        mp.chdir(workdir)
        for key, args in commands.items():
            # Graph's replication waits as a real run makes them, on the tenant's clock (nothing really sleeps)
            backend = SandboxBackend(options=SandboxOptions(variants=variants, clock=clock),
                                     waits=Waits(poll=REAL_POLL_DELAYS))
            application = Application(backend=backend)
            out, err = io.StringIO(), io.StringIO()
            code = 0
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    run(["--sandbox", "--sandbox-state", str(state), *args], application=application)
                except SystemExit as e:
                    code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            requests = [r for _t, transport in backend.opened for r in transport.log]
            early = [e for _t, transport in backend.opened for e in transport.handler.early]
            jobs = [j.get("templateId") for per_sp in Tenant.load(state).state["jobs"].values() for j in per_sp.values()]
            results[key] = Run(code, out.getvalue(), err.getvalue(), requests, jobs, early, state)
    return results


@pytest.fixture(scope="module")
def matrix(tmp_path_factory):
    cache: dict[str, dict[str, Run]] = {}

    def get(case: str) -> dict[str, Run]:
        if case not in cache:
            cache[case] = _run_all(case, tmp_path_factory.mktemp(case))
        return cache[case]

    return get


XFAIL: dict[tuple[str, str], str] = {}  # (variant, command) -> what the CLI still lacks; empty: it survives all


def _cases(command: str) -> list:
    out = []
    for case in CASES:
        reason = XFAIL.get((case, command))
        marks = [pytest.mark.xfail(strict=True, reason=f"issue 10: {reason}")] if reason else []
        out.append(pytest.param(case, marks=marks, id=case))
    return out


@pytest.mark.parametrize("case", _cases("setup"))
def test_setup(matrix, case):
    r = matrix(case)["setup"]
    assert r.code == 0, r.why()
    assert r.doc()["ok"] is True
    # Microsoft documents POST jobs {"templateId": "scim"} for non-gallery apps, whatever the template list says
    assert r.job_templates == ["scim"], r.job_templates


@pytest.mark.parametrize("case", _cases("setup-again"))
def test_setup_again_writes_nothing(matrix, case):
    r = matrix(case)["setup-again"]
    assert r.code == 0, r.why()
    assert r.writes == [], r.writes


@pytest.mark.parametrize("case", _cases("status"))
def test_status_shows_no_drift(matrix, case):
    r = matrix(case)["status"]
    assert r.code == 0, r.why()


@pytest.mark.parametrize("case", _cases("provision"))
def test_provision_a_user(matrix, case):
    r = matrix(case)["provision"]
    assert r.code == 0, r.why()
    info = r.doc()["steps"][0]["info"]
    assert info["outcome"] in ("provisioned", "in_sync"), info
    assert info["role"] == "admin"


@pytest.mark.parametrize("case", _cases("logs"))
def test_logs(matrix, case):
    r = matrix(case)["logs"]
    assert r.code == 0, r.why()
    assert r.doc()["steps"][0]["info"]["records"], "setup's cycle and the on-demand run are logged"


def verdicts(r: Run) -> dict:
    return {s["step"]: s["info"].get("verdict") for s in r.doc()["steps"]}


@pytest.mark.parametrize("case", _cases("doctor"))
def test_doctor_finds_only_what_the_default_sandbox_has(matrix, case):
    """The sandbox tenant has deliberate problems (Lee in two role groups, Pradeep only in a nested group): doctor
    must report exactly those, whatever Graph behaviour is played."""
    baseline = matrix("none")["doctor"]
    r = matrix(case)["doctor"]
    assert r.code == baseline.code, r.why()
    expected = verdicts(baseline)
    if case in (SECRETS_MASKED, SECRETS_UNREADABLE, "all"):
        # masked or unreadable values cannot be confirmed: saying so (warn) is right, failing is not
        got = verdicts(r)
        assert got.pop("credentials") in ("ok", "warn"), r.why()
        expected.pop("credentials")
        assert got == expected, r.why()
    else:
        assert verdicts(r) == expected, r.why()
    assert r.writes == []


WRONG_TOKEN_CASES = ["none", "validate-syncfabric-body", "collection-test-refused"]


@pytest.mark.parametrize("case", WRONG_TOKEN_CASES)
def test_a_wrong_token_is_reported_as_the_scim_endpoints_refusal(case, tmp_path):
    """Whatever body the failed test comes back with, the CLI says the SCIM endpoint refused the token (its 401),
    and saves no credentials."""
    r = _run_all(case, tmp_path, {"setup": ("setup", "-o", "json")}, env={"NATOMA_SCIM_TOKEN": "fake-wrong-token"})["setup"]
    assert r.code == 1, r.why()
    doc = r.doc()
    assert "connection test failed" in doc["error"] and "401" in doc["error"], doc["error"]
    assert "token" in (doc["fix"] or "").lower()
    assert not [q for q in r.requests if q[0] == "PUT" and q[1].endswith("/synchronization/secrets")]
    assert "fake-wrong-token" not in r.out + r.err


def test_replication_waits_are_said_with_their_bound(matrix):
    """Under slow replication the CLI waits for the new job and its schema, and says so on stderr (bounded)."""
    r = matrix("slow-replication")["setup"]
    assert r.code == 0, r.why()
    assert "while it replicates; retrying for at most" in r.err


def test_masked_secrets_are_said_as_unconfirmed_by_status(matrix):
    r = matrix("secrets-masked")["status"]
    assert r.code == 0, r.why()
    cred = next(s for s in r.doc()["steps"] if s["step"] == "credentials")
    assert "masked" in cred["info"]["unconfirmed"]


@pytest.mark.parametrize("case", CASES)
def test_no_request_is_sent_again_before_its_retry_after(matrix, case):
    """Issue 23: whatever Graph answers, the CLI never repeats a request before the Retry-After it was given (the
    sandbox's ledger records every one that comes early, on the tenant's clock)."""
    runs = matrix(case)
    assert {name: r.early for name, r in runs.items() if r.early} == {}


@pytest.mark.parametrize("case", [V.THROTTLED_WRITES, V.RETRY_AFTER_DATE])
def test_every_write_of_setup_is_throttled_once_and_then_applied(matrix, case):
    """The throttling variants fire (each write answered 429 first, then applied once), and the CLI says its waits."""
    r = matrix(case)["setup"]
    writes = [q for q in r.writes if q[1].split("?")[0].rsplit("/", 1)[-1] != "provisionOnDemand"]
    throttled = [q[:2] for q in writes if q[2] == 429]
    applied = [q[:2] for q in writes if q[2] < 400]
    assert throttled and sorted(throttled) == sorted(applied), writes
    assert "with 429; waiting 3 s before retry" in r.err


def test_a_disabled_role_that_still_reads_enabled_is_waited_out(matrix):
    """Issue 23: right after the disable PATCH, the change answers 400 CannotDeleteOrUpdateEnabledEntitlement a while;
    setup waits it out (said), and the drifted role ends as Natoma's."""
    r = matrix(V.ROLE_DISABLE_LAG)["setup"]
    assert r.code == 0, r.why()
    patches = [q[2] for q in r.requests if q[0] == "PATCH" and "/applications/" in q[1]]
    assert patches[0] == 204 and 400 in patches and patches[-1] == 204, patches
    assert "the disabled role still reads enabled" in r.err


def test_empty_pages_are_followed(matrix):
    r = matrix(V.EMPTY_PAGES)["setup"]
    hops = [q for q in r.requests if q[0] == "GET" and "$skiptoken=e" in q[1]]
    assert hops, "the variant served its empty pages"


def test_unknown_fields_survive_the_schema_put(matrix):
    """Under forward-compatible fields every object the schema GET returns carries a property the CLI does not know;
    after setup's PUT the tenant's schema still holds each of them (the CLI only adds objects of its own)."""
    import copy

    from natoma_entra.sandbox import graph_variants, schema_template
    from natoma_entra.sandbox.state import Tenant

    r = matrix(V.FORWARD_COMPATIBLE)["setup"]
    assert r.code == 0, r.why()
    assert any(q[0] == "PUT" and q[1].endswith("/schema") for q in r.requests)
    tenant = Tenant.load(r.state)
    stored = json.dumps(next(iter(tenant.state["schemas"].values())))
    served = json.dumps(graph_variants.forward_compatible(
        copy.deepcopy(schema_template.template(tenant.find_sp("Natoma")["appId"])["schema"]), "/schema", False))
    for key in (f'"{graph_variants.FUTURE_PROPERTY}"', f'"{graph_variants.FUTURE_PROPERTY}@odata.type"'):
        assert stored.count(key) >= served.count(key) > 10, key
    assert graph_variants.TIPS not in stored  # the answer's own annotation is not sent back as part of the schema


def test_unreadable_secrets_are_said_as_unconfirmed_by_status(matrix):
    r = matrix(SECRETS_UNREADABLE)["status"]
    assert r.code == 0, r.why()
    cred = next(s for s in r.doc()["steps"] if s["step"] == "credentials")
    assert "cannot be read back" in cred["info"]["unconfirmed"]
