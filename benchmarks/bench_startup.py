"""Benchmark (run by hand): CLI start-up time for --help, a command's --help, usage errors and --version, as separate
processes, paired with azure-cli when an `az` is found (--az PATH, else on PATH): the two commands alternate, run by
run, so a busy machine slows both alike, and the ratio of medians is printed with its target (issue 21: `--help` at
most 0.6 of `az --help`; a command's --help and a usage error at most 0.8 of `az ad app update --help`). Then a whole
command on the sandbox, `--sandbox status` on a set-up sandbox (its reads, the connection test, the report), against
its own target (issue 26: at most 1.0 s).

    .venv/bin/python benchmarks/bench_startup.py [--runs 10] [--az /path/to/az] [--imports]

Each command runs once first, uncounted, with bytecode written (as pip compiles an installed package), so an
environment with PYTHONDONTWRITEBYTECODE set does not time the compiler. Besides the wall time, the CPU time of each
process (user + system) is given: on a machine busy with other work it is the steadier of the two. --imports lists
the modules `--help` imports, heaviest first (python -X importtime).
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

AZ_APP_UPDATE_HELP = ["ad", "app", "update", "--help"]
# (label, our arguments, az's arguments, the target ratio); az's own usage errors load its whole command table and
# take seconds, so a usage error is paired with a command's help
CASES = [("--help", ["--help"], ["--help"], 0.6),
         ("setup --help", ["setup", "--help"], AZ_APP_UPDATE_HELP, 0.8),
         ("usage error", ["--output", "yaml", "status"], AZ_APP_UPDATE_HELP, 0.8),
         ("unknown command", ["bogus"], AZ_APP_UPDATE_HELP, 0.8),
         ("--version", ["--version"], ["--version"], None)]
# (label, our arguments after --sandbox-state FILE, the target in seconds): whole commands on a set-up sandbox
SANDBOX_CASES = [("--sandbox status", ["status"], 1.0)]
ENV = {**{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}, "COLUMNS": "100"}


def timed(cmd: list[str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one run of `cmd`."""
    before, t0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    subprocess.run(cmd, capture_output=True, env=ENV)
    wall, after = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--az", default=shutil.which("az"), help="azure-cli's az, to pair with")
    ap.add_argument("--imports", action="store_true")
    opts = ap.parse_args()
    exe = str(Path(sys.executable).with_name("natoma-entra"))
    ours = [exe] if Path(exe).exists() else [sys.executable, "-m", "natoma_entra"]
    print(f"natoma-entra: {' '.join(ours)}; az: {opts.az or 'not found (no pairing)'}; {opts.runs} runs each")
    for label, args, az_args, target in CASES:
        timed([*ours, *args])  # uncounted: bytecode written, files in the page cache
        if opts.az:
            timed([opts.az, *az_args])
        mine: list[tuple[float, float]] = []
        theirs: list[tuple[float, float]] = []
        for _ in range(opts.runs):
            mine.append(timed([*ours, *args]))
            if opts.az:
                theirs.append(timed([opts.az, *az_args]))
        wall, cpu = [m[0] for m in mine], [m[1] for m in mine]
        line = f"{label:<15} natoma-entra median {ms(wall):5.0f} ms (max {max(wall) * 1000:5.0f}, CPU {ms(cpu):4.0f})"
        if theirs:
            az_wall, az_cpu = [t[0] for t in theirs], [t[1] for t in theirs]
            line += (f" | az {' '.join(az_args)}: median {ms(az_wall):5.0f} ms (CPU {ms(az_cpu):4.0f})"
                     f" | ratio {ms(wall) / ms(az_wall):.2f} (CPU {ms(cpu) / ms(az_cpu):.2f})"
                     + (f", target <= {target}" if target else ""))
        print(line)
    sandbox_cases(ours, opts.runs)
    if opts.imports:
        err = subprocess.run([sys.executable, "-X", "importtime", "-m", "natoma_entra", "--help"],
                             capture_output=True, text=True).stderr
        rows = [(int(p[1]), p[2].rstrip()) for p in (line.split("|") for line in err.splitlines()[1:]) if len(p) == 3]
        print(f"--help imports {len(rows)} modules; top-level cumulative, heaviest first:")
        for us, name in sorted((r for r in rows if not r[1].startswith("  ")), reverse=True)[:12]:
            print(f"  {us / 1000:7.1f} ms  {name.strip()}")


def sandbox_cases(ours: list[str], runs: int) -> None:
    """Whole commands on a sandbox set up once (uncounted), each against its target in seconds."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        state = str(Path(tmp) / "sandbox.json")
        base = [*ours, "--sandbox", "--sandbox-state", state]
        subprocess.run([*base, "setup"], capture_output=True, env=ENV, check=True)
        for label, args, target in SANDBOX_CASES:
            timed([*base, *args])  # uncounted
            mine = [timed([*base, *args]) for _ in range(runs)]
            wall, cpu = [m[0] for m in mine], [m[1] for m in mine]
            print(f"{label:<15} natoma-entra median {ms(wall):5.0f} ms (max {max(wall) * 1000:5.0f}, CPU {ms(cpu):4.0f})"
                  f" | target <= {target * 1000:.0f} ms")
        if "click" in sys.modules or _importable("click"):
            print("(click is installed here (mkdocs, a test extra): httpx then loads its command line, rich and "
                  "pygments, about 0.1 s that an install from the wheel, without click, does not)")


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


if __name__ == "__main__":
    main()
