"""Benchmark (run by hand): CLI start-up time for --help, a usage error, and `sandbox show` (which loads the
sandbox but no Graph SDK), as separate processes.

    .venv/bin/python benchmarks/bench_startup.py [--runs 10]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    runs = ap.parse_args().runs
    for label, args in [("--help", ["--help"]), ("roles --help", ["roles", "--help"]),
                        ("usage error", ["--output", "yaml", "status"]), ("--version", ["--version"])]:
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "natoma_entra", *args], capture_output=True)
            times.append(time.perf_counter() - t0)
        print(f"{label:<16} median {statistics.median(times) * 1000:6.0f} ms   max {max(times) * 1000:6.0f} ms")


if __name__ == "__main__":
    main()
