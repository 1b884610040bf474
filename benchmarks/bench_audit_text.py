"""By hand, not a test: how long `audit`'s TEXT output takes for a big tenant, and how soon its first line shows.

The tenant: the sandbox after `setup` plus USERS users in GROUPS assigned groups of MEMBERS direct members each
(benchmarks/at_scale.py), so USERS + 4 users are in scope (the sandbox's own Adele, Alex, Megan and Lee). Natoma holds
nobody (--natoma none: every user differs, the worst case for the list) or every user with the role Entra sends
(--natoma all). The audit runs once (Graph in process, Natoma's users from a flat SCIM app), then its Report is
rendered as `audit` and `audit --all` print it: piped (a file) and at a terminal (120 columns), each timed from the
call to the last byte, with the time to the first byte.

Target (issue 26): audit's text for 20k users in under 2 s.

    .venv/bin/python benchmarks/bench_audit_text.py [--users 20000] [--groups 20] [--members 1000] [--natoma none]
"""
from __future__ import annotations

import argparse
import asyncio
import io
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from at_scale import build  # noqa: E402
from bench_audit import audit_once, flat_scim_app  # noqa: E402


class Timed(io.StringIO):
    """A file that notes when its first byte was written."""

    def __init__(self) -> None:
        super().__init__()
        self.first: float | None = None

    def write(self, s: str) -> int:
        if self.first is None and s:
            self.first = time.perf_counter()
        return super().write(s)


def render(report, *, terminal: bool, show_all: bool) -> tuple[float, float, int]:
    """(seconds to the last byte, seconds to the first, lines) of one rendering."""
    from rich.console import Console

    from natoma_entra.render.audit import render_audit
    from natoma_entra.render.console import make_console

    out = Timed()
    console = (Console(file=out, force_terminal=True, width=120, color_system="standard", highlight=False,
                       markup=False, emoji=False, soft_wrap=True) if terminal else make_console(file=out))
    t0 = time.perf_counter()
    render_audit(report, console, show_all=show_all)
    done = time.perf_counter()
    return done - t0, (out.first or done) - t0, out.getvalue().count("\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=20_000)
    ap.add_argument("--groups", type=int, default=20)
    ap.add_argument("--members", type=int, default=1_000)
    ap.add_argument("--natoma", choices=("none", "all"), default="none", help="what Natoma holds")
    args = ap.parse_args()

    from natoma_entra.sandbox.state import NATOMA_TOKEN
    from natoma_entra.sandbox.transport import SandboxTransport

    with tempfile.TemporaryDirectory() as tmp:
        tenant, natoma = build(Path(tmp) / "sandbox.json", args.users, args.groups, args.members)
        app, _ = flat_scim_app(natoma if args.natoma == "all" else [], NATOMA_TOKEN, 0.0)
        t0 = time.perf_counter()
        report = asyncio.run(audit_once(SandboxTransport(tenant), app))
        read = time.perf_counter() - t0
    info = report.steps[0].info
    print(f"audit of {info['inScope']:,} users in scope ({info['inNatoma']:,} in Natoma): read in {read:.1f} s; "
          f"verdicts {info['counts']}")
    worst = 0.0
    for terminal in (False, True):
        for show_all in (False, True):
            total, first, lines = render(report, terminal=terminal, show_all=show_all)
            worst = max(worst, total)
            print(f"  text {'at a terminal' if terminal else 'piped':<14} {'--all' if show_all else 'default':<8} "
                  f"{total:6.2f} s ({lines:,} lines; first byte after {first * 1000:.0f} ms)")
    print(f"slowest rendering: {worst:.2f} s (target: under 2 s)")
    return 0 if worst < 2.0 else 1


if __name__ == "__main__":
    sys.exit(main())
