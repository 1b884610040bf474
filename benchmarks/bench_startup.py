"""Benchmark (run by hand): CLI start-up time for --help, a usage error and --version, as separate processes, paired
with azure-cli's `az --help` when an `az` is found (--az PATH, else on PATH): the two commands alternate, run by run,
so a busy machine slows both alike, and the ratio of medians is printed (target: at most 0.8).

    .venv/bin/python benchmarks/bench_startup.py [--runs 10] [--az /path/to/az] [--imports]

--imports lists the modules `--help` imports, heaviest first (python -X importtime).
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

CASES = [("--help", ["--help"]), ("setup --help", ["setup", "--help"]),
         ("usage error", ["--output", "yaml", "status"]), ("unknown command", ["bogus"]), ("--version", ["--version"])]


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, capture_output=True, env={**os.environ, "COLUMNS": "100"})
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--az", default=shutil.which("az"), help="azure-cli's az, to pair with")
    ap.add_argument("--imports", action="store_true")
    opts = ap.parse_args()
    exe = str(Path(sys.executable).with_name("natoma-entra"))
    ours = [exe] if Path(exe).exists() else [sys.executable, "-m", "natoma_entra"]
    # a usage error is paired with `az --help` (the target: at most 0.8 of it); az's own usage errors load its whole
    # command table and take seconds
    az = {"--help": ["--help"], "setup --help": ["ad", "app", "update", "--help"], "usage error": ["--help"],
          "unknown command": ["--help"], "--version": ["--version"]}
    print(f"natoma-entra: {' '.join(ours)}; az: {opts.az or 'not found (no pairing)'}; {opts.runs} runs each")
    for label, args in CASES:
        mine, theirs = [], []
        for _ in range(opts.runs):
            mine.append(timed([*ours, *args]))
            if opts.az:
                theirs.append(timed([opts.az, *az[label]]))
        line = f"{label:<14} natoma-entra median {statistics.median(mine) * 1000:5.0f} ms (max {max(mine) * 1000:5.0f})"
        if theirs:
            ratio = statistics.median(mine) / statistics.median(theirs)
            line += (f" | az {' '.join(az[label])}: median {statistics.median(theirs) * 1000:5.0f} ms"
                     f" | ratio {ratio:.2f}")
        print(line)
    if opts.imports:
        err = subprocess.run([sys.executable, "-X", "importtime", "-m", "natoma_entra", "--help"],
                             capture_output=True, text=True).stderr
        rows = [(int(p[1]), p[2].rstrip()) for p in (line.split("|") for line in err.splitlines()[1:]) if len(p) == 3]
        print(f"--help imports {len(rows)} modules; top-level cumulative, heaviest first:")
        for us, name in sorted((r for r in rows if not r[1].startswith("  ")), reverse=True)[:12]:
            print(f"  {us / 1000:7.1f} ms  {name.strip()}")


if __name__ == "__main__":
    main()
