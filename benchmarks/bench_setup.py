"""Benchmark (run by hand): requests and wall time of `setup` on a fresh sandbox tenant and on a re-run,
with injected latency per Graph request (a real tenant answers in 100-300 ms).

    .venv/bin/python benchmarks/bench_setup.py [--latency 0.15]

Prints figures; asserts nothing. Targets to watch: a re-run makes 0 writes, and its reads stay few (each read once
per run, independent reads concurrent), so its wall time is a handful of round trips, not one per request.
"""
from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path


def run_once(state: Path, args: list[str], options=None) -> tuple[float, list, int]:
    from natoma_entra.cli.application import Application
    from natoma_entra.cli.main import run

    application = Application(sandbox_options=options)
    t0 = time.perf_counter()
    code = 0
    with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
        try:
            run(["--sandbox", "--sandbox-state", str(state), "--quiet", *args], application=application)
        except SystemExit as e:
            code = e.code or 0
    elapsed = time.perf_counter() - t0
    log = [entry for _, transport in application.opened for entry in transport.log]
    return elapsed, log, code


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--latency", type=float, default=0.15, help="seconds added to every Graph request")
    opts = ap.parse_args()
    from natoma_entra.sandbox import faults
    from natoma_entra.sandbox.options import SandboxOptions
    from natoma_entra.sandbox.state import Tenant
    import natoma_entra.steps.common as common

    common.POLL_DELAYS = (0.2, 0.5, 1, 2)
    options = SandboxOptions(faults=[faults.latency(opts.latency)])
    with tempfile.TemporaryDirectory() as d:
        state = Path(d) / "sandbox.json"
        Tenant.initial().save(state)
        print(f"latency per request: {opts.latency * 1000:.0f} ms")
        print(f"{'run':<28}{'exit':>5}{'requests':>10}{'writes':>8}{'seconds':>9}{'serial-equiv s':>16}")
        for label, args in [("setup (fresh tenant)", ["setup"]), ("setup (re-run)", ["setup"]),
                            ("status", ["status"]), ("setup --dry-run", ["--dry-run", "setup"])]:
            elapsed, log, code = run_once(state, args, options)
            writes = [e for e in log if e[0] != "GET" and "validateCredentials" not in e[1]]
            print(f"{label:<28}{code:>5}{len(log):>10}{len(writes):>8}{elapsed:>9.2f}{len(log) * opts.latency:>16.2f}")


if __name__ == "__main__":
    sys.exit(main())
