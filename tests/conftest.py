"""Shared fixtures: run the CLI in process against a sandbox tenant kept in a temporary state file."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import re

import pytest

from natoma_entra import redact

READ_ONLY_POST = re.compile(r"/validateCredentials")

# The files that take longest, run first. Each file runs whole on one worker (`--dist loadfile`, pyproject.toml), and
# xdist hands files out in collection order (alphabetical): one long file handed out last keeps the other worker idle
# while it runs. Measured serially (a file's share of the suite); the release checks that build the wheel come first
# so the build overlaps other work. A file missing here only runs in its alphabetical place. Not here on purpose:
# tests/shipping/test_types.py, whose mypy runs in the background (_BackgroundMypy): the later it is read, the more of
# it was done on CPU the workers left idle.
LONGEST_FIRST = (
    "tests/shipping/test_action.py", "tests/shipping/test_examples.py",
    "tests/cli/test_red_team.py", "tests/security/test_secret_scan.py", "tests/shipping/test_example_azure.py",
    "tests/shipping/test_example_tenants.py", "tests/cli/test_setup.py", "tests/cli/test_variant_matrix.py",
    "tests/real/test_read_and_teardown_real.py", "tests/security/test_hostile_scim.py",
    "tests/real/test_setup_real.py", "tests/sandbox/test_contract.py", "tests/shipping/test_package.py",
    "tests/docs/test_site.py", "tests/cli/test_provision.py", "tests/cli/test_round_trips.py",
)


def pytest_configure(config: pytest.Config) -> None:
    """Compile the package once, before the workers start. Under PYTHONDONTWRITEBYTECODE (set on this machine) no
    process writes bytecode, so on a fresh clone each worker, and each CLI a test starts as a process, compiled every
    module of natoma_entra again (a cold run took 10 s longer than a second one). __pycache__ is ignored by git."""
    if not hasattr(config, "workerinput"):  # the controller, or a run without xdist
        import compileall
        from pathlib import Path

        compileall.compile_dir(Path(__file__).resolve().parents[1] / "natoma_entra", quiet=1)


@pytest.hookimpl(hookwrapper=True)
def pytest_collection(session: pytest.Session):
    """Rewriting the asserts of every test file (pytest's assertion rewriting) is most of a worker's collection, ~4 s,
    and under PYTHONDONTWRITEBYTECODE each worker did all of it again, on every run. During collection the rewritten
    modules are written to __pycache__ (ignored by git), where pytest reads them back when the source is unchanged:
    the second worker takes each directory's files from its end (_FromTheEnd), so on a fresh clone the two workers
    share the rewriting, and on a later run neither does it."""
    import sys

    before = sys.dont_write_bytecode
    sys.dont_write_bytecode = False
    try:
        yield
    finally:
        sys.dont_write_bytecode = before


def pytest_collect_directory(path, parent: pytest.Collector) -> pytest.Collector | None:
    import os

    if os.environ.get("PYTEST_XDIST_WORKER", "gw0") != "gw0" and not (path / "__init__.py").exists():
        return _FromTheEnd.from_parent(parent, path=path)
    return None  # the first worker (or a run without xdist), and a package: pytest's own collector


class _FromTheEnd(pytest.Directory):
    """A directory collected as pytest's own (pytest.Dir) collects it, in the reverse order of its entries. The
    collected tests are the same; pytest_collection_modifyitems puts them in one order in every worker, as
    pytest-xdist requires."""

    def collect(self):
        import os
        from pathlib import Path

        ihook = self.ihook
        for entry in sorted(os.scandir(self.path), key=lambda e: e.name, reverse=True):
            path = Path(entry.path)
            if ihook.pytest_ignore_collect(collection_path=path, config=self.config):
                continue
            if entry.is_dir():
                collector = ihook.pytest_collect_directory(path=path, parent=self)
                if collector is not None:
                    yield collector
            elif entry.is_file():
                yield from ihook.pytest_collect_file(file_path=path, parent=self)


def pytest_collection_finish(session: pytest.Session) -> None:
    import os

    _freeze_survivors()
    if not hasattr(session.config, "workerinput") and any(i.nodeid.startswith(TYPES_TEST) for i in session.items):
        _BACKGROUND_MYPY.start(session.config, str(os.getpid()))  # a run without xdist (with it, the controller)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    yield
    if nextitem is None or nextitem.path != item.path:  # a file's last test: its module-scoped fixtures are gone
        _freeze_survivors()


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    import gc

    _BACKGROUND_MYPY.finish()
    gc.freeze()  # the interpreter's shutdown runs full collections; they need not walk what the run leaves


TYPES_TEST = "tests/shipping/test_types.py"


class _BackgroundMypy:
    """mypy over the package (tests/shipping/test_types.py) costs ~6 s of CPU on a fresh clone. It starts once the
    tests are collected, as a process of lowest priority (nice 19): it takes the CPU the workers leave idle (tests
    that wait on a timeout or on injected latency), and the test reads its result, waiting for it if need be. One
    run per test run: the controller starts it (pytest-xdist), or the only process of a run without xdist."""

    def __init__(self) -> None:
        self.process = None
        self.result_path = None

    @staticmethod
    def path(config: pytest.Config, run_id: str):
        import tempfile
        from pathlib import Path

        cache = getattr(config, "cache", None)  # None with -p no:cacheprovider
        where = Path(cache.mkdir("natoma-entra-mypy")) if cache else Path(tempfile.gettempdir()) / "natoma-entra-mypy"
        where.mkdir(exist_ok=True)
        return where / f"{run_id}.json"

    def start(self, config: pytest.Config, run_id: str) -> None:
        import subprocess
        import sys
        from pathlib import Path

        if self.process is not None:
            return
        self.result_path = self.path(config, run_id)
        self.result_path.unlink(missing_ok=True)
        root = Path(__file__).resolve().parents[1]
        self.process = subprocess.Popen([sys.executable, "-c", _MYPY_RUN, str(self.result_path)], cwd=root)
        self.result_path.with_suffix(".pid").write_text(str(self.process.pid))

    def finish(self) -> None:
        """At the end of the run: a mypy still running (the test was never reached: -x, ^C) is stopped."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for suffix in (".json", ".pid"):
            self.result_path.with_suffix(suffix).unlink(missing_ok=True)
        self.process = None


# the background run: mypy as pyproject.toml configures it, its answer written atomically as JSON
_MYPY_RUN = """
import json, os, sys, traceback
if hasattr(os, "nice"):
    os.nice(19)
try:
    from mypy import api
    out, err, code = api.run([])
except BaseException:
    out, err, code = "", traceback.format_exc(), -1
with open(sys.argv[1] + ".part", "w") as f:
    json.dump({"out": out, "err": err, "code": code}, f)
os.replace(sys.argv[1] + ".part", sys.argv[1])
"""

_BACKGROUND_MYPY = _BackgroundMypy()


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node, ids) -> None:
    if any(i.startswith(TYPES_TEST) for i in ids):
        _BACKGROUND_MYPY.start(node.config, node.workerinput["testrunuid"])


@pytest.fixture
def mypy_result(request) -> tuple[str, str, int]:
    """(stdout, stderr, exit code) of mypy over the package: the background run's, waited for (at most 10 minutes),
    or, when the run started none, a run made now."""
    import os
    import time

    run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID") or str(os.getpid())
    path = _BackgroundMypy.path(request.config, run_id)
    pid_file = path.with_suffix(".pid")
    if not pid_file.exists():
        _BACKGROUND_MYPY.start(request.config, run_id)
    deadline = time.monotonic() + 600
    while not path.exists():
        assert time.monotonic() < deadline, "mypy (started in the background) gave no answer in 10 minutes"
        time.sleep(0.05)
    answer = json.loads(path.read_text())
    return answer["out"], answer["err"], answer["code"]


def _freeze_survivors() -> None:
    """A worker keeps what its tests import and cache (the Graph SDK, the models, ~400,000 objects) to its end, and
    each full collection walked all of it again: seconds per worker, and more at its exit. What outlives a file is
    collected once and frozen (gc.freeze); each test's own garbage is collected as usual. natoma_entra/console.py
    does the same for the CLI's process."""
    import gc

    gc.collect()
    gc.freeze()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    # then by path: each worker has the same order, whichever end of a directory it collected first (_FromTheEnd);
    # stable, so the tests of a file keep their order
    items.sort(key=lambda item: (rank.get(item.nodeid.split("::")[0], len(rank)), item.path.parts))


SECRET_ENV = ("NATOMA_SCIM_TOKEN", "NATOMA_ENTRA_ACCESS_TOKEN", "AZURE_CLIENT_SECRET", "NATOMA_ENTRA_APP",
              "NATOMA_ENTRA_TENANT", "NATOMA_ENTRA_AUTH", "NATOMA_ENTRA_CLOUD", "NATOMA_ENTRA_GRAPH_ENDPOINT",
              "NATOMA_SCIM_URL", "NATOMA_ENTRA_SANDBOX_STATE", "NATOMA_ENTRA_OUTPUT", "NATOMA_ENTRA_TIMEOUT",
              "NATOMA_ENTRA_SANDBOX_VARIANTS", "NATOMA_ENTRA_TRACE", "NATOMA_ENTRA_PREFLIGHT")


@dataclass
class CliResult:
    code: int
    out: str
    err: str
    requests: list  # (method, path, status) the sandbox saw during this run
    spans: list = field(default_factory=list)  # (sent, answered) of each request, same order (monotonic seconds)
    early: list = field(default_factory=list)  # requests sent again before the Retry-After they were given

    @property
    def round_trips(self) -> int:
        """The longest chain of requests each sent after the one before was answered (use with injected latency)."""
        from natoma_entra.sandbox.transport import longest_chain

        return longest_chain(self.spans)

    @property
    def writes(self) -> list:
        """Requests that can change the tenant: not GET, and not the read-only POST (the connection test)."""
        return [r for r in self.requests if r[0] != "GET" and not READ_ONLY_POST.search(r[1])]

    def json(self):
        return json.loads(self.out)


_SET_UP: list[bytes] = []  # the state file after a clean setup, made once per test process


# Graph's replication waits, made instant: a test that plays the lag on a simulated clock sets real delays
INSTANT_WAITS_POLLS = (0,) * 10


class Sandbox:
    def __init__(self, path, capsys, monkeypatch):
        from natoma_entra.sandbox.options import SandboxOptions
        from natoma_entra.sandbox.state import NATOMA_TOKEN
        from natoma_entra.waits import Waits

        self.path = path
        self._capsys = capsys
        self._mp = monkeypatch
        self.options = SandboxOptions()  # this sandbox's knobs: faults, sp_role_lag, denied_permissions
        self.waits = Waits(poll=INSTANT_WAITS_POLLS)  # the run's waits, handed in through the backend
        self.scim_token: str | None = NATOMA_TOKEN  # the backend's default SCIM token (None: none)

    def backend(self):
        from natoma_entra.sandbox.backend import SandboxBackend

        return SandboxBackend(options=self.options, waits=self.waits, scim_token=self.scim_token)

    def tenant(self):
        from natoma_entra.sandbox.state import Tenant

        return Tenant.load(self.path)

    def save(self, tenant) -> None:
        tenant.save(self.path)

    def set_up(self) -> CliResult:
        """The tenant after a clean `natoma-entra setup`: run for real once per test process, then copied (the run is
        deterministic on a fresh sandbox), so the many tests that start from a set-up tenant do not each pay for it."""
        if _SET_UP:
            self.path.write_bytes(_SET_UP[0])
            return CliResult(0, "", "", [])
        r = self.cli("setup")
        if r.code == 0:
            _SET_UP.append(self.path.read_bytes())
        return r

    def reference(self):
        """The Tenant a clean setup leaves on a fresh sandbox (what a converged re-run must equal)."""
        import tempfile
        from pathlib import Path

        from natoma_entra.sandbox.state import Tenant

        if not _SET_UP:
            ref = Sandbox(Path(tempfile.mkdtemp(dir=self.path.parent)) / "ref.json", self._capsys, self._mp)
            Tenant.initial().save(ref.path)
            assert ref.set_up().code == 0
        ref_path = self.path.parent / "reference.json"
        ref_path.write_bytes(_SET_UP[0])
        return Tenant.load(ref_path)

    def cli(self, *args: str, stdin: str | None = None) -> CliResult:
        import io
        import sys

        from natoma_entra.cli.application import Application
        from natoma_entra.cli.main import run

        self._capsys.readouterr()
        backend = self.backend()
        application = Application(backend=backend)
        if stdin is not None:
            self._mp.setattr(sys, "stdin", io.StringIO(stdin))
        code = 0
        try:
            run(["--sandbox", "--sandbox-state", str(self.path), *args], application=application)
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        cap = self._capsys.readouterr()
        requests, spans, early = [], [], []
        for _tenant, transport in backend.opened:
            requests.extend(transport.log)
            spans.extend(transport.spans)
            early.extend(transport.handler.early)
        return CliResult(code, cap.out, cap.err, requests, spans, early)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch, tmp_path):
    for name in SECRET_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("COLUMNS", raising=False)  # pytest-xdist's workers set it to 80; output width is tested
    monkeypatch.chdir(tmp_path)  # no stray natoma-entra.toml is picked up
    # a real run is one process: the secrets an earlier test registered (a token "wrong") must not mask this test's
    # output (its "wrong role" column), as they never would across two real runs
    monkeypatch.setattr(redact, "_SECRETS", set())


@pytest.fixture
def sandbox(tmp_path, capsys, monkeypatch):
    """A fresh sandbox tenant (docs/sandbox.md) in tmp_path/sandbox.json."""
    from natoma_entra.sandbox.state import Tenant

    path = tmp_path / "sandbox.json"
    Tenant.initial().save(path)
    return Sandbox(path, capsys, monkeypatch)


@pytest.fixture
def add_assignment():
    """Put an app role assignment straight into a sandbox tenant's state (a situation made by hand in the portal)."""
    def add(tenant, principal_id, principal_type, role_id):
        from natoma_entra.sandbox.state import assignment_id

        sp = tenant.find_sp("Natoma")
        name = (tenant.state["groups"].get(principal_id) or tenant.state["users"].get(principal_id))["displayName"]
        aid = assignment_id(principal_id, sp["id"], role_id)
        tenant.state["appRoleAssignments"][aid] = {
            "id": aid, "appRoleId": role_id, "principalId": principal_id, "principalType": principal_type,
            "principalDisplayName": name, "resourceId": sp["id"], "resourceDisplayName": "Natoma",
            "createdDateTime": "2024-01-01T00:00:00Z", "deletedDateTime": None}

    return add


@pytest.fixture
def server(tmp_path):
    """`natoma-entra sandbox serve` on a free loopback port, in a thread; state in tmp_path/served.json."""
    import threading

    from natoma_entra.sandbox.serve import make_server

    srv = make_server(tmp_path / "served.json", port=0)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
