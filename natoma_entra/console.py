"""The `natoma-entra` process: the console script's entry (pyproject.toml [project.scripts]) and `python -m
natoma_entra`.

A run is short, and most of what it builds (modules, models, the tenant's facts) lives to its end. CPython's default
collector thresholds walked those objects again and again while they were built, and once more at exit: about a fifth
of a sandbox command's time (docs/performance.md, "Start-up"). Here the collector runs less often and what is alive
at the end is frozen, so the interpreter's shutdown does not walk it. Garbage cycles are still collected; the memory
of a 100,000-user doctor is held by benchmarks/bench_doctor.py. Tests that call cli.main.run in their own process
keep the default collector.
"""
from __future__ import annotations

import gc

# a young collection after 50,000 new objects (CPython's default: 700), a full one 400 young ones later (default 100)
COLLECTOR_THRESHOLDS = (50_000, 20, 20)


def main() -> None:
    gc.set_threshold(*COLLECTOR_THRESHOLDS)
    try:
        from .cli.main import run  # imported after the thresholds are set: the imports are most of a short run

        run()
    finally:
        gc.freeze()  # the objects alive now are left to the process's exit, not walked by the shutdown's collections
