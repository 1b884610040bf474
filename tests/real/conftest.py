"""Real mode under test: the CLI run as a real tenant run goes, against `natoma-entra sandbox serve` on loopback.

Every run here is `--auth access-token --graph-endpoint http://127.0.0.1:PORT/v1.0`: the root chooses RealBackend,
Graph is reached through azure-identity's credential and the msgraph-sdk adapter over real HTTP, Natoma's SCIM
endpoint (the served stand-in) over the network. The config comes from a file (`--config`), the SCIM token from the
environment, a file or standard input. Nothing passes `--sandbox`, so nothing here can pass because the sandbox
filled in an input (its app, groups, SCIM URL or token).

One served tenant per test process (session scope): a test starts from a state set up once and copied in (the
initial tenant, the tenant after a clean setup, a bare tenant). The only test knob is the one the seam offers: the
backend a test hands in has instant replication waits (`RealBackend(waits=...)`); the code path is the real one.
(SSL_CERT_FILE names a small trust store: see `trust_store`.)
"""
from __future__ import annotations

import io
import json
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

from natoma_entra.sandbox.state import ACCESS_TOKEN, NATOMA_TOKEN, Tenant
from natoma_entra.sandbox.tokens import access_token

# the groups of the served tenant, as a config file names them
GROUPS = {"admin": ["Natoma Admins"], "AppAdmin": ["Natoma App Admins"], "member": ["Natoma Members"]}
# the POST Graph documents as changing nothing (the connection test)
_READ_POST = ("/validateCredentials",)


@dataclass
class Run:
    code: int
    out: str
    err: str
    requests: list[tuple[str, str, int]]  # (method, path, status) the served Graph saw during the run

    def json(self) -> Any:
        return json.loads(self.out)

    @property
    def writes(self) -> list[tuple[str, str, int]]:
        return [r for r in self.requests if r[0] != "GET" and not r[1].split("?")[0].endswith(_READ_POST)]

    def steps(self) -> dict[str, str]:
        """step -> status, from the run's JSON report."""
        return {s["step"]: s["status"] for s in self.json()["steps"]}


class Served:
    """`natoma-entra sandbox serve` in a thread: Graph under /v1.0, Natoma's SCIM stand-in under /scim/v2."""

    def __init__(self, path: Path) -> None:
        from natoma_entra.sandbox.serve import make_server

        self.path = path
        self.server = make_server(path, port=0)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()
        self.graph_url = self.server.url + "/v1.0"
        self.scim_url = self.server.url + "/scim/v2"
        self.snapshots: dict[str, bytes] = {}

    def load(self, state: bytes) -> None:
        """Put a saved state in place, as `sandbox reset` would (the server takes it before its next request), and
        forget the provisionOnDemand calls Graph counted for its rate limit (a fresh tenant has none)."""
        with self.server.lock, self.server.file_lock():
            self.path.write_bytes(state)
            self.server.tenant.reload(self.path)
            self.server.graph.pod_calls.clear()

    def state_bytes(self) -> bytes:
        return self.path.read_bytes()

    @property
    def tenant(self) -> Tenant:
        return self.server.tenant

    def natoma(self) -> dict[str, list[str]]:
        """What Natoma's stand-in holds: userName -> role values."""
        from natoma_entra.sandbox.natoma import standin_for

        return {u["userName"]: [r.get("value") for r in u.get("roles") or []]
                for u in standin_for(self.tenant).users()}

    def drop_from_natoma(self, upn: str) -> None:
        """Delete a user in Natoma (a SCIM DELETE on the served stand-in, as Natoma's admin would)."""
        import httpx

        auth = {"Authorization": f"Bearer {NATOMA_TOKEN}"}
        with httpx.Client(base_url=self.scim_url, headers=auth) as c:
            found = c.get("/Users", params={"filter": f'userName eq "{upn}"'}).json()["Resources"]
            assert len(found) == 1, found
            assert c.delete(f"/Users/{found[0]['id']}").status_code == 204
        assert upn not in self.natoma()

    def unassign(self, group: str) -> None:
        """Remove a group's assignment on the app over Graph (drift made by hand in the portal)."""
        import httpx

        sp = self.sp()
        gid = next(g for g, o in self.tenant.state["groups"].items() if o["displayName"] == group)
        aid = next(a["id"] for a in self.tenant.state["appRoleAssignments"].values()
                   if a["resourceId"] == sp["id"] and a["principalId"] == gid)
        with httpx.Client(base_url=self.graph_url, headers={"Authorization": f"Bearer {ACCESS_TOKEN}"}) as c:
            assert c.delete(f"/servicePrincipals/{sp['id']}/appRoleAssignedTo/{aid}").status_code == 204

    def sp(self) -> dict[str, Any]:
        return self.tenant.find_sp("Natoma")

    def job(self) -> dict[str, Any] | None:
        jobs = list((self.tenant.state.get("jobs") or {}).get(self.sp()["id"], {}).values())
        return jobs[0] if jobs else None

    def secrets(self) -> dict[str, str]:
        return {s["key"]: s["value"] for s in self.tenant.state.get("secrets", {}).get(self.sp()["id"], [])}

    def role_values(self) -> list[str]:
        return sorted(r["value"] for r in self.tenant.find_app("Natoma").get("appRoles") or []
                      if r.get("value") in ("admin", "AppAdmin", "member") and r.get("isEnabled"))

    def assigned(self) -> set[tuple[str, str | None]]:
        """(group display name, role value: None for an assignment without a Natoma role) of the app's assignments."""
        sp = self.sp()
        roles = {r["id"]: r.get("value") for r in sp.get("appRoles") or []}
        groups = self.tenant.state["groups"]
        return {(groups[a["principalId"]]["displayName"], roles.get(a["appRoleId"]))
                for a in self.tenant.state["appRoleAssignments"].values()
                if a["resourceId"] == sp["id"] and a["principalId"] in groups}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    s = Served(tmp_path_factory.mktemp("served") / "served.json")
    yield s
    s.close()


@pytest.fixture(scope="session")
def trust_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-certificate CA file for SSL_CERT_FILE. Nothing here uses TLS (loopback http), yet a run loads the trust
    store for its clients (natoma_entra/tls.py: once per process and setting): the machine's bundle costs about
    50 ms, this file nothing. The code path is the same; only the file read differs."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "natoma-entra tests (no TLS on loopback)")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    path = tmp_path_factory.mktemp("trust") / "ca.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


class Real:
    """Runs the CLI in process the way a person runs it against a real tenant, and reads what it did."""

    def __init__(self, served: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                 monkeypatch: pytest.MonkeyPatch, trust_store: Path) -> None:
        self.served = served
        self.tmp = tmp_path
        self._capsys = capsys
        self._mp = monkeypatch
        # the bearer token `sandbox serve` prints: shaped as Entra's, its claims read by the permission preflight
        monkeypatch.setenv("NATOMA_ENTRA_ACCESS_TOKEN", access_token())
        monkeypatch.setenv("SSL_CERT_FILE", str(trust_store))

    # -- the served tenant's starting points -----------------------------------------------------------------------
    def fresh(self) -> None:
        """The initial tenant: the Natoma app and its groups, nothing set up."""
        self.served.load(self._snapshot("initial", lambda: _tenant_bytes(Tenant.initial(), self.tmp)))

    def bare(self) -> None:
        """A bare tenant (`sandbox reset --empty`): users, no Natoma app, no role groups."""
        self.served.load(self._snapshot("bare", lambda: _tenant_bytes(Tenant.initial(empty=True), self.tmp)))

    def set_up(self) -> None:
        """The tenant after a clean real `setup` (config file with scim.url, token from the environment): run once
        per test process, then copied in."""
        def make() -> bytes:
            self.fresh()
            cfg = self.config(name="setup-once.toml")
            with pytest.MonkeyPatch.context() as mp:
                mp.setenv("NATOMA_SCIM_TOKEN", NATOMA_TOKEN)
                r = self.cli("--config", cfg, "--output", "json", "setup")
            assert r.code == 0, r.err
            return self.served.state_bytes()

        self.served.load(self._snapshot("set-up", make))

    def _snapshot(self, name: str, make: Any) -> bytes:
        if name not in self.served.snapshots:
            self.served.snapshots[name] = make()
        return self.served.snapshots[name]

    # -- inputs as a real run gets them ------------------------------------------------------------------------------
    def config(self, *, scim_url: bool = True, name: str = "natoma-entra.toml", **extra: Any) -> Path:
        """A config file as a person writes one for this tenant: app, sign-in, Graph endpoint, the three groups, and
        (unless scim_url=False) Natoma's SCIM URL. `extra` adds top-level keys or [scim] keys (scim_KEY=...)."""
        top = {"app": "Natoma", "auth": "access-token", "graph_endpoint": self.served.graph_url}
        scim: dict[str, Any] = {"url": self.served.scim_url} if scim_url else {}
        for k, v in extra.items():
            if k.startswith("scim_"):
                scim[k.removeprefix("scim_")] = v
            else:
                top[k] = v
        lines = [f"{k} = {json.dumps(str(v))}" for k, v in top.items()]
        lines += ["", "[groups]"] + [f"{role} = {json.dumps(names)}" for role, names in GROUPS.items()]
        if scim:
            lines += ["", "[scim]"] + [f"{k} = {json.dumps(str(v))}" for k, v in scim.items()]
        path = self.tmp / name
        path.write_text("\n".join(lines) + "\n")
        return path

    def token_env(self, value: str = NATOMA_TOKEN, name: str = "NATOMA_SCIM_TOKEN") -> None:
        self._mp.setenv(name, value)

    def token_file(self, value: str = NATOMA_TOKEN) -> Path:
        path = self.tmp / "scim-token"
        path.write_text(value + "\n")
        path.chmod(0o600)
        return path

    # -- a run ---------------------------------------------------------------------------------------------------------
    def cli(self, *args: Any, stdin: str | None = None) -> Run:
        seen = len(self.served.server.graph.log)
        code, out, err = run_real(self._capsys, self._mp, *args, stdin=stdin)
        return Run(code, out, err, list(self.served.server.graph.log[seen:]))


def run_real(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: Any,
             stdin: str | None = None, tokens_in_output: bool = False) -> tuple[int, str, str]:
    """`natoma-entra ARGS` in process, as the console script runs it: (exit code, stdout, stderr). The tokens in use
    never appear in the output (but in a help text that shows the sandbox's well-known ones: tokens_in_output)."""
    from natoma_entra.backend import RealBackend
    from natoma_entra.cli.application import Application
    from natoma_entra.cli.main import run
    from natoma_entra.waits import Waits

    argv = [str(a) for a in args]
    assert "--sandbox" not in argv, "real-mode tests never use the sandbox backend"
    # the seam's test knob: replication waits made instant; everything else is RealBackend's own
    backend = RealBackend(waits=Waits(poll=(0,) * 10))
    application = Application(backend=backend)
    capsys.readouterr()
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin if stdin is not None else ""))
    code = 0
    try:
        run(argv, application=application)
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    cap = capsys.readouterr()
    assert application.backend is backend  # the root kept the real backend: the run went the real way
    for secret in (NATOMA_TOKEN, ACCESS_TOKEN, access_token()):
        assert tokens_in_output or secret not in cap.out + cap.err, f"{secret} was printed"
    return code, cap.out, cap.err


def _tenant_bytes(tenant: Tenant, tmp: Path) -> bytes:
    path = tmp / "snapshot.json"
    tenant.save(path)
    data = path.read_bytes()
    path.unlink()
    return data


@pytest.fixture
def real(served: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
         trust_store: Path) -> Real:
    """A run against the served tenant, which starts as the initial tenant (call .set_up() or .bare() for others)."""
    r = Real(served, tmp_path, capsys, monkeypatch, trust_store)
    r.fresh()
    return r
