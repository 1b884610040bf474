"""What every command shares: building the run (config, sign-in, Graph client, sandbox), running it, rendering its
report and exiting with the right code."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable

import typer

from ..graph.errors import NatomaEntraError
from .application import Application


def load_config(g: Application, extra_flags: dict | None = None):
    from ..config import load

    from ..graph.errors import UsageError

    defaults = {}
    if g.sandbox:
        from ..sandbox.defaults import NATOMA_URL, SANDBOX_CONFIG, is_sandbox_scim_url

        defaults = SANDBOX_CONFIG
        flag_url = ((extra_flags or {}).get("scim") or {}).get("url")
        if flag_url:  # checked before it is compared or echoed (it may hold a password)
            from ..config import check_scim_flag

            check_scim_flag(flag_url)
        if flag_url and not is_sandbox_scim_url(flag_url):
            raise UsageError(f"--sandbox talks only to the sandbox's Natoma stand-in, not to {flag_url}",
                             fix=f"drop --scim-url (the sandbox's is {NATOMA_URL}), or drop --sandbox")
    flags = {**g.flags, **(extra_flags or {})}
    config = load(g.config_path, flags, defaults=defaults)
    if g.sandbox and not is_sandbox_scim_url(config.scim.url):
        # a real Natoma URL from the config file or environment: --sandbox must never send anything there
        g.say(f"--sandbox: using the sandbox's Natoma stand-in ({NATOMA_URL}) instead of {config.scim.url}")
        config.scim.url = NATOMA_URL
    return config


@dataclass
class Run:
    """A built run: the session, and what must happen when it ends (close the client, save the sandbox)."""

    session: Any
    tenant: Any = None  # the sandbox Tenant, when --sandbox
    state_path: Path | None = None


def build_run(g: Application, config, *, options=None, scim_token: Callable[[], str | None] | None = None,
              read_only: bool = False, command_options: dict | None = None) -> Run:
    """The run's Session: Graph client (read-only for dry runs and read-only commands: a write raises), sign-in,
    and under --sandbox the simulated tenant."""
    from ..graph.auth import DELEGATED_MODES, build_credential
    from ..graph.client import GraphClient
    from ..graph.clouds import check_endpoint, graph_base_url
    from ..graph.errors import UsageError
    from ..redact import register
    from ..session import Session
    from ..steps.base import Options

    g.setup_logging()
    tenant = state_path = None
    if g.sandbox:
        from ..sandbox.defaults import open_sandbox

        state_path = g.sandbox_state_path()
        tenant, transport, credential = open_sandbox(state_path, _sandbox_options(g))
        g.opened.append((tenant, transport))
        graph = GraphClient(credential, "https://graph.microsoft.com/v1.0", transport=transport, deadline=g.timeout,
                            on_wait=g.say)
    else:
        try:
            base = graph_base_url(config.cloud, check_endpoint(config.graph_endpoint) if config.graph_endpoint else None)
        except ValueError as e:
            raise UsageError(str(e), fix="correct --graph-endpoint") from None
        if config.auth == "access-token":
            register(os.environ.get("NATOMA_ENTRA_ACCESS_TOKEN"))
        register(os.environ.get("AZURE_CLIENT_SECRET"))
        credential = build_credential(config.auth, tenant=config.tenant, cloud=config.cloud)
        graph = GraphClient(credential, base, delegated=config.auth in DELEGATED_MODES, auth=config.auth,
                            deadline=g.timeout, on_wait=g.say)
    graph.read_only = read_only
    session = Session(graph=graph, config=config, options=options or Options(), progress=g.say,
                      scim_token=scim_token or (lambda: None), command_options=command_options or {})
    if tenant is not None:  # Natoma's SCIM stand-in answers in process (provision --verify)
        from ..sandbox.defaults import scim_http_factory

        session.scim_http = scim_http_factory(tenant)
    trace = g.trace()
    if trace is not None:  # --trace: every Graph and SCIM exchange of the run
        from ..natoma_scim import traced

        graph.trace_to(trace)
        session.scim_http = traced(session.scim_http, trace)
    return Run(session=session, tenant=tenant, state_path=state_path)


def _sandbox_options(g: Application):
    """The caller's SandboxOptions (tests, benchmarks), or ones built from --sandbox-variant; flags add to the caller's."""
    from dataclasses import replace

    from ..sandbox.options import SandboxOptions

    if g.sandbox_options is None:
        return SandboxOptions(variants=g.sandbox_variants)
    if g.sandbox_variants:
        return replace(g.sandbox_options, variants=frozenset(g.sandbox_options.variants) | g.sandbox_variants)
    return g.sandbox_options


class Interrupted(NatomaEntraError):
    """Ctrl-C: exit 130, naming what the run was doing."""

    exit_code = 130


def execute(g: Application, command: str, body: Callable[[Any], Awaitable[Any]], *, config=None, options=None,
            scim_token=None, renderer=None, read_only: bool = False, command_options: dict | None = None) -> None:
    """Run one command's async body with a built run; render the Report it returns; exit with the right code.
    A dry run and every read-only command get a Graph client that refuses writes, and never save the sandbox."""
    import contextlib

    config = config or load_config(g)
    read_only = read_only or g.dry_run
    # A sandbox run that may write holds the state file's lock from its load to its save, so two runs at once (or
    # a run and `sandbox serve`) take turns instead of one throwing the other's changes away. Readers never lock.
    lock = contextlib.nullcontext()
    if g.sandbox and not read_only:
        from ..sandbox.state import check_state_path, state_lock

        check_state_path(g.sandbox_state_path())
        lock = state_lock(g.sandbox_state_path())
    with lock:
        report = _execute_locked(g, command, body, config=config, options=options, scim_token=scim_token,
                                 read_only=read_only, command_options=command_options)
    if report is None:
        return
    code = exit_code_for(report, g)
    report.ok = code in (0, 3)
    report.exit_code = code
    if not report.ok:
        report.error, report.fix = failure_reason(report, g)
    if g.output.value == "json":
        from ..render.report import to_json

        g.out.file.write(to_json(report) + "\n")
    elif renderer is not None:
        renderer(report, g.out, verbose=g.verbose, quiet=g.quiet)
    else:
        from ..render.report import render

        render(report, g.out, verbose=g.verbose, quiet=g.quiet)
    if code not in (0, 3):
        g.error_line(failure_line(report, g))
    if code:
        raise typer.Exit(code)


def _execute_locked(g: Application, command: str, body, *, config, options, scim_token, read_only,
                    command_options):
    import asyncio

    run = build_run(g, config, options=options, scim_token=scim_token, read_only=read_only,
                    command_options=command_options)

    async def main():
        try:
            return await body(run.session)
        finally:
            await run.session.graph.close()

    g.current_step = command
    try:
        return g.with_spinner(lambda: asyncio.run(main()))
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted during {g.current_step}: run the same command again to continue",
                          fix="run the same command again: it continues from where the tenant is") from None
    finally:
        g.close()  # the --verbose log handler goes with the run
        if run.tenant is not None and not read_only and _wrote(run):
            run.tenant.save(run.state_path)  # what a failed or interrupted run wrote is kept too


def _wrote(run: Run) -> bool:
    """Did this run send the sandbox anything but reads (GET, the read-only POSTs)?"""
    from ..graph.readonly import is_read

    transport = run.session.graph.transport
    return any(not is_read(method, path) for method, path, _status in getattr(transport, "log", []))


def failure_reason(report, g: Application) -> tuple[str, str | None]:
    """(what stopped the run, the fix): the failed step, or --strict with warnings."""
    failed = next((s for s in report.steps if s.status == "failed"), None)
    if failed is not None:
        return f"{failed.step}: {failed.error}", failed.fix
    if g.strict and report.warnings:
        return (f"--strict and {len(report.warnings)} warning(s): {report.warnings[0]}",
                "resolve the warnings, or drop --strict")
    return f"{report.command} failed", None


def failure_line(report, g: Application) -> str:
    """The one stderr line of a non-zero exit: the step, the reason and the fix."""
    error, fix = failure_reason(report, g)
    return f"error: {report.command}: {error}" + (f" Fix: {fix}" if fix else "")


def exit_code_for(report, g: Application) -> int:
    if any(s.status == "failed" for s in report.steps) or not report.ok:
        return 1
    if g.strict and report.warnings:
        return 1
    if g.exit_code and report.pending:
        return 3
    return 0


def run_steps(g: Application, command: str, steps, *, config=None, options=None, scim_token=None,
              renderer=None, wait: bool = False) -> None:
    """A command made of setup steps (setup, roles, assign, mapping, credentials, start): the runner reads and plans
    them all, and applies them unless this is a dry run. With `wait`, then follows the provisioning cycle until it
    ends (bounded by --timeout, the wait said on stderr)."""
    import datetime as _dt

    from .. import runner
    from ..steps.base import Desired, Options

    config = config or load_config(g)
    options = options or Options()

    def on_step(name: str) -> None:
        g.current_step = name

    async def body(session):
        clock = _sim_clock(g)
        started_at = clock.now() if clock is not None else _dt.datetime.now(_dt.timezone.utc)
        report = await runner.run(session, command, steps, Desired(config, options), dry_run=g.dry_run,
                                  on_step=on_step)
        if wait and not g.dry_run and report.ok:
            report.add(await _wait(g, session, report, started_at))
        return report

    execute(g, command, body, config=config, options=options, scim_token=scim_token, renderer=renderer)


async def _wait(g: Application, session, report, started_at):
    from ..job_watch import describe, wait_for_cycle

    g.current_step = "wait"
    start = next((s for s in report.steps if s.step == "start"), None)
    started = start is not None and start.status == "changed"
    clock = _sim_clock(g)
    timeout = g.timeout or 300.0
    g.say(f"waiting for the provisioning cycle to end (at most {timeout:g} s; --timeout sets it)...")
    return await wait_for_cycle(
        session, started=started, started_at=started_at, timeout=timeout,
        on_progress=lambda s: g.say(f"provisioning cycle: {describe(s)}"), on_change=g.err.is_terminal,
        sleep=getattr(clock, "sleep", None), clock=getattr(clock, "monotonic", None))


def _sim_clock(g: Application):
    """The sandbox's simulated clock, when a caller gave one: the wait then runs on simulated time."""
    clock = getattr(g.sandbox_options, "clock", None) if g.sandbox else None
    return clock if clock is not None and hasattr(clock, "now") else None
