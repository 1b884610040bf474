"""What every command shares: loading the config, building the run through the backend (natoma_entra/backend.py),
running it, rendering its report and exiting with the right code."""
from __future__ import annotations

import asyncio
import datetime as _dt
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Sequence

import typer

from ..errors import Interrupted
from .application import Application

if TYPE_CHECKING:
    from ..backend import Backend
    from ..config import Config
    from ..executor import Confirm
    from ..results import Report
    from ..session import Session
    from ..steps.base import AnyStep, Options

Renderer = Callable[..., None]


def backend_of(g: Application) -> "Backend":
    if g.backend is None:  # a command called without the root callback (never from the console script)
        from ..backend import RealBackend

        g.backend = RealBackend()
    return g.backend


def load_config(g: Application, extra_flags: dict[str, Any] | None = None) -> "Config":
    """The merged config: flags over the environment over the file over the backend's defaults; then the backend's
    check (the sandbox refuses a SCIM URL that is not its stand-in's). Bad input is a UsageError before any read."""
    from ..config import load

    backend = backend_of(g)
    flags = {**g.flags, **(extra_flags or {})}
    backend.check_flags(flags)
    config = load(g.config_path, flags, defaults=backend.config_defaults())
    backend.check_config(config)
    return config


def scim_token(g: Application, config: "Config", *, use_stdin: bool = False) -> Callable[[], str]:
    """Where this run's SCIM token comes from (cli/token.py), with the backend's default as the last source."""
    from .token import token_source

    return token_source(config, use_stdin=use_stdin, default=backend_of(g).scim_token_default(),
                        pause=g.spinner_paused)


def execute(g: Application, command: str, body: Callable[["Session"], Awaitable["Report"]], *,
            config: "Config | None" = None, scim_token: Callable[[], str] | None = None,
            renderer: Renderer | None = None, writes: bool = False) -> None:
    """Run one command's async body with a built run; render the Report it returns; exit with the right code.
    A command that does not write, and every dry run, gets a Graph client that refuses writes."""
    config = config or load_config(g)
    report = _run(g, command, body, config=config, scim_token=scim_token, read_only=not writes or g.dry_run)
    finish(g, report, renderer)


def _run(g: Application, command: str, body: Callable[["Session"], Awaitable["Report"]], *, config: "Config",
         scim_token: Callable[[], str] | None, read_only: bool) -> "Report":
    from ..session import Session

    backend = backend_of(g)
    g.setup_logging()
    g.current_step = command
    trace = g.trace()  # --trace: every Graph and SCIM exchange of the run (a bad path: exit 2, nothing sent)
    graph = None
    try:
        with backend.connect(config, read_only=read_only, deadline=g.timeout, on_wait=g.say) as conn:
            graph = conn.graph
            scim = conn.scim
            if trace is not None:
                from ..natoma_scim import traced

                conn.graph.trace_to(trace)
                scim = traced(conn.scim, trace)
            session = Session(graph=conn.graph, config=config, clock=backend.clock, waits=backend.waits,
                              scim=scim, progress=g.say)
            if scim_token is not None:
                session.scim_token = scim_token

            async def main() -> "Report":
                try:
                    return await body(session)
                finally:
                    await session.graph.close()

            report: "Report" = g.with_spinner(lambda: asyncio.run(main()), backend.label)
            return report
    except KeyboardInterrupt:
        wrote = graph is not None and graph.writes_started > 0
        raise Interrupted(f"interrupted during {g.current_step}"
                          + (" (what was written is kept)" if wrote else "; nothing was written"),
                          fix=Interrupted.AGAIN) from None
    finally:
        g.close()  # the --verbose log handler goes with the run


def finish(g: Application, report: "Report", renderer: Renderer | None) -> None:
    """Render the report (JSON, or the command's text), say one stderr line for a failure, exit with its code."""
    code = exit_code_for(report, g)
    report.ok = code in (0, 3)
    report.exit_code = code
    if not report.ok:
        report.error, report.fix = failure_reason(report, g)
    if g.output.value == "json":
        from ..render.report import to_json

        g.out.file.write(to_json(report) + "\n")
    elif g.output.value == "markdown":  # a pull-request comment or a job summary (render/markdown.py)
        from ..render.markdown import to_markdown

        g.out.file.write(to_markdown(report))
    elif renderer is not None:
        renderer(report, g.out, verbose=g.verbose, quiet=g.quiet)
    else:
        from ..render.report import render

        render(report, g.out, verbose=g.verbose, quiet=g.quiet)
    if code not in (0, 3):
        g.error_line(failure_line(report, g))
    if code:
        raise typer.Exit(code)


def failure_reason(report: "Report", g: Application) -> tuple[str, str | None]:
    """(what stopped the run, the fix): the failed step, or --strict with warnings."""
    failed = next((s for s in report.steps if s.status == "failed"), None)
    if failed is not None:
        return f"{failed.step}: {failed.error}", failed.fix
    if g.strict and report.warnings:
        return (f"--strict and {len(report.warnings)} warning(s): {report.warnings[0]}",
                "resolve the warnings, or drop --strict")
    return f"{report.command} failed", None


def failure_line(report: "Report", g: Application) -> str:
    """The one stderr line of a non-zero exit: the step, the reason and the fix."""
    from ..errors import error_line

    error, fix = failure_reason(report, g)
    return error_line(error, fix, about=report.command)


def exit_code_for(report: "Report", g: Application) -> int:
    if report.bad_input:
        return 2
    if any(s.status == "failed" for s in report.steps) or not report.ok:
        return 1
    if g.strict and report.warnings:
        return 1
    if g.exit_code and report.pending:
        return 3
    return 0


def run_steps(g: Application, command: str, steps: Sequence["AnyStep"], options: "Options", *,
              config: "Config | None" = None, scim_token: Callable[[], str] | None = None,
              renderer: Renderer | None = None, wait: bool = False, confirm: "Confirm | None" = None) -> None:
    """A command made of steps (setup, roles, assign, mapping, credentials, start, app create, teardown): the
    executor reads and plans them all, and applies them unless this is a dry run. With `wait`, then follows the
    provisioning cycle until it ends (bounded by --timeout, the wait said on stderr)."""
    from .. import executor
    from ..steps.base import Desired

    config = config or load_config(g)
    desired = Desired(config, options)
    if g.plan_out is not None:  # --plan-out FILE: a read-only run that saves its plan for `apply FILE`
        from .plan_out import save

        save(g, command, steps, desired, config=config, scim_token=scim_token, renderer=renderer)
        return

    def on_step(name: str) -> None:
        g.current_step = name

    async def body(session: "Session") -> "Report":
        started_at = session.clock.now()
        report = await executor.run(session, command, steps, desired, dry_run=g.dry_run, confirm=confirm,
                                    on_step=on_step)
        if wait and not g.dry_run and report.ok:
            report.add(await _wait(g, session, report, started_at))
        return report

    execute(g, command, body, config=config, scim_token=scim_token, renderer=renderer, writes=True)


async def _wait(g: Application, session: "Session", report: "Report", started_at: _dt.datetime) -> Any:
    from ..job_watch import describe, wait_for_cycle

    g.current_step = "wait"
    start = next((s for s in report.steps if s.step == "start"), None)
    started = start is not None and start.status == "changed"
    budget = g.timeout or 300.0
    timeout = max(0.0, min(budget, session.graph.remaining()))  # the run's budget counts the wait too
    g.say(f"waiting for the provisioning cycle to end (at most {timeout:.0f} s; --timeout sets it)...")
    return await wait_for_cycle(
        session, started=started, started_at=started_at, timeout=timeout,
        on_progress=lambda s: g.say(f"provisioning cycle: {describe(s)}"), on_change=g.err.is_terminal,
        sleep=session.clock.sleep, clock=session.clock.monotonic, limit=f"the run's {budget:g} s (--timeout)")
