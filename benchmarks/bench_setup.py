"""Benchmark (run by hand): requests, round trips and wall time of `setup` on a fresh sandbox tenant, on a re-run,
`status` and a dry run, with injected latency per Graph request (a real tenant answers in 100-300 ms).

    .venv/bin/python benchmarks/bench_setup.py [--latency 0.15] [--chains]

Prints figures; asserts nothing. Beside the wall time: the requests, the longest chain of dependent round trips
(from the sandbox transport's timestamped log: requests each sent after the one before was answered) and the floor
(the fewest sequential round trips the run needs: find the app; then roles, service principal, assignments, job and
secrets together; then the schema and the saved-credentials test together). A fresh setup's target is 12 round trips
plus the service principal's replication wait. --chains prints each run's longest chain.
"""
from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

FLOOR = {"setup (fresh tenant)": 12, "setup (re-run)": 3, "status": 3, "setup --dry-run": 3}


def run_once(state: Path, args: list[str], options=None):
    from natoma_entra.cli.application import Application
    from natoma_entra.cli.main import run

    from natoma_entra.sandbox.backend import SandboxBackend
    from natoma_entra.sandbox.options import SandboxOptions

    backend = SandboxBackend(options=options or SandboxOptions())
    application = Application(backend=backend)
    t0 = time.perf_counter()
    code = 0
    with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
        try:
            run(["--sandbox", "--sandbox-state", str(state), "--quiet", *args], application=application)
        except SystemExit as e:
            code = e.code or 0
    elapsed = time.perf_counter() - t0
    log = [entry for _, transport in backend.opened for entry in transport.log]
    spans = [span for _, transport in backend.opened for span in transport.spans]
    return elapsed, log, code, spans


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--latency", type=float, default=0.15, help="seconds added to every Graph request")
    ap.add_argument("--chains", action="store_true", help="print each run's longest chain of round trips")
    opts = ap.parse_args()
    from natoma_entra.sandbox import faults
    from natoma_entra.sandbox.options import SandboxOptions
    from natoma_entra.sandbox.state import Tenant
    from natoma_entra.sandbox.transport import chain_path

    options = SandboxOptions(faults=[faults.latency(opts.latency)])
    with tempfile.TemporaryDirectory() as d:
        state = Path(d) / "sandbox.json"
        Tenant.initial().save(state)
        print(f"latency per request: {opts.latency * 1000:.0f} ms")
        print(f"{'run':<24}{'exit':>5}{'requests':>9}{'writes':>7}{'chain':>6}{'floor':>6}{'seconds':>9}"
              f"{'chain x latency':>16}")
        for label, args in [("setup (fresh tenant)", ["setup"]), ("setup (re-run)", ["setup"]),
                            ("status", ["status"]), ("setup --dry-run", ["--dry-run", "setup"])]:
            elapsed, log, code, spans = run_once(state, args, options)
            writes = [e for e in log if e[0] != "GET" and "validateCredentials" not in e[1]]
            path = chain_path(spans)
            print(f"{label:<24}{code:>5}{len(log):>9}{len(writes):>7}{len(path):>6}{FLOOR[label]:>6}{elapsed:>9.2f}"
                  f"{len(path) * opts.latency:>16.2f}")
            if opts.chains:
                for i in path:
                    print(f"    {spans[i][1] - spans[path[0]][0]:6.2f}s  {log[i][0]} {log[i][1][:110]}")


if __name__ == "__main__":
    sys.exit(main())
