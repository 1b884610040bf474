"""What every command shares: the global options, building the run (config, sign-in, Graph client), rendering."""
from __future__ import annotations

import enum
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable

import typer


class Output(str, enum.Enum):
    text = "text"
    json = "json"


@dataclass
class Globals:
    config_path: Path | None = None
    flags: dict[str, Any] = field(default_factory=dict)
    sandbox: bool = False
    sandbox_state: Path | None = None
    dry_run: bool = False
    output: Output = Output.text
    verbose: bool = False
    quiet: bool = False
    strict: bool = False
    exit_code: bool = False
    # the sandbox's knobs (tests and benchmarks pass their own), and every sandbox this process's runs opened,
    # so a caller can read the requests of the run it just made
    sandbox_options: Any = None
    sandbox_variants: frozenset = frozenset()  # --sandbox-variant / NATOMA_ENTRA_SANDBOX_VARIANTS
    opened: list = field(default_factory=list)

    def say(self, msg: str, style: str = "dim") -> None:
        """Progress and messages: stderr, so `--output json | jq` works."""
        if self.quiet:
            return
        if _ACTIVE_SPINNER:  # at a terminal the spinner shows the latest message
            from ..redact import redact

            _ACTIVE_SPINNER[-1].update(redact(msg))
            return
        from rich.console import Console
        from rich.text import Text

        from ..redact import redact

        Console(stderr=True, highlight=False, soft_wrap=True).print(Text(redact(msg), style=style))


def sandbox_state_path(g: Globals) -> Path:
    if g.sandbox_state:
        return Path(g.sandbox_state)
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "natoma-entra" / "sandbox.json"


def load_config(g: Globals, extra_flags: dict | None = None):
    from ..config import load

    from ..graph.errors import UsageError

    defaults = {}
    if g.sandbox:
        from ..sandbox.defaults import NATOMA_URL, SANDBOX_CONFIG, is_sandbox_scim_url

        defaults = SANDBOX_CONFIG
        flag_url = ((extra_flags or {}).get("scim") or {}).get("url")
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


_LOG_HANDLER = None  # the --verbose handler of this process's latest run (several runs happen in one test process)


def _setup_logging(g: Globals) -> None:
    import logging

    global _LOG_HANDLER
    names = ("natoma_entra", "httpx", "azure.identity")
    if _LOG_HANDLER is not None:
        for name in names:
            logging.getLogger(name).removeHandler(_LOG_HANDLER)
        _LOG_HANDLER = None
    # azure-identity logs each failed credential of a chain as a warning; the run reports one line with the fix
    logging.getLogger("azure").setLevel(logging.DEBUG if g.verbose else logging.CRITICAL)
    if not g.verbose:
        return
    from ..redact import RedactingFilter

    _LOG_HANDLER = logging.StreamHandler(sys.stderr)
    _LOG_HANDLER.addFilter(RedactingFilter())
    _LOG_HANDLER.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    for name in names:
        lg = logging.getLogger(name)
        lg.setLevel(logging.DEBUG)
        lg.addHandler(_LOG_HANDLER)


@dataclass
class Run:
    """A built run: the session, and what must happen when it ends (close the client, save the sandbox)."""

    session: Any
    tenant: Any = None  # the sandbox Tenant, when --sandbox
    state_path: Path | None = None


def build_run(g: Globals, config, *, options: dict | None = None, scim_token: Callable[[], str | None] | None = None) -> Run:
    from ..graph.auth import DELEGATED_MODES, build_credential
    from ..graph.client import GraphClient
    from ..graph.clouds import check_endpoint, graph_base_url
    from ..graph.errors import UsageError
    from ..redact import register
    from ..session import Session

    _setup_logging(g)
    tenant = state_path = None
    if g.sandbox:
        from ..sandbox.defaults import open_sandbox

        state_path = sandbox_state_path(g)
        tenant, transport, credential = open_sandbox(state_path, _sandbox_options(g))
        g.opened.append((tenant, transport))
        graph = GraphClient(credential, "https://graph.microsoft.com/v1.0", transport=transport)
    else:
        try:
            base = graph_base_url(config.cloud, check_endpoint(config.graph_endpoint) if config.graph_endpoint else None)
        except ValueError as e:
            raise UsageError(str(e), fix="correct --graph-endpoint") from None
        if config.auth == "access-token":
            register(os.environ.get("NATOMA_ENTRA_ACCESS_TOKEN"))
        register(os.environ.get("AZURE_CLIENT_SECRET"))
        credential = build_credential(config.auth, tenant=config.tenant, cloud=config.cloud)
        graph = GraphClient(credential, base, delegated=config.auth in DELEGATED_MODES, auth=config.auth)
    session = Session(graph=graph, config=config, dry_run=g.dry_run, progress=g.say,
                      scim_token=scim_token or (lambda: None), options=options or {})
    if tenant is not None:  # commands that talk to Natoma's SCIM stand-in in process (provision --verify)
        from ..sandbox.defaults import scim_http_factory

        session.options.setdefault("scim_http", scim_http_factory(tenant))  # Natoma's SCIM answered in process
    return Run(session=session, tenant=tenant, state_path=state_path)


def _sandbox_options(g: Globals):
    """The caller's SandboxOptions (tests, benchmarks), or ones built from --sandbox-variant; flags add to the caller's."""
    from dataclasses import replace

    from ..sandbox.options import SandboxOptions

    if g.sandbox_options is None:
        return SandboxOptions(variants=g.sandbox_variants)
    if g.sandbox_variants:
        return replace(g.sandbox_options, variants=frozenset(g.sandbox_options.variants) | g.sandbox_variants)
    return g.sandbox_options


def execute(g: Globals, command: str, body: Callable[[Any], Awaitable[Any]], *, config=None,
            options: dict | None = None, scim_token=None, renderer=None) -> None:
    """Run one command's async body with a built run; render the Report it returns; exit with the right code."""
    import asyncio

    from ..report import render

    config = config or load_config(g)
    run = build_run(g, config, options=options, scim_token=scim_token)

    async def main():
        try:
            return await body(run.session)
        finally:
            await run.session.graph.close()

    try:
        report = _with_spinner(g, lambda: asyncio.run(main()))
    finally:
        if run.tenant is not None and not g.dry_run:
            run.tenant.save(run.state_path)
    if report is None:
        return
    if renderer is not None and g.output.value == "text":
        renderer(report, verbose=g.verbose, quiet=g.quiet)
    else:
        render(report, g.output.value, verbose=g.verbose, quiet=g.quiet)
    code = exit_code_for(report, g)
    if code:
        raise typer.Exit(code)


_ACTIVE_SPINNER: list = []  # the spinner of the running command, if any (a prompt must stop it)


class spinner_paused:
    """Stop the spinner while a person types (the hidden SCIM token prompt), then start it again."""

    def __enter__(self):
        for s in _ACTIVE_SPINNER:
            s.stop()

    def __exit__(self, *exc):
        for s in _ACTIVE_SPINNER:
            s.start()
        return False


def _with_spinner(g: Globals, work: Callable[[], Any]) -> Any:
    """A spinner on stderr while waiting on Graph, only for a person at a terminal (never in CI logs or pipes)."""
    from rich.console import Console

    console = Console(stderr=True)
    if g.quiet or g.verbose or not console.is_terminal:
        return work()
    with console.status("talking to Microsoft Graph...") as status:
        _ACTIVE_SPINNER.append(status)
        try:
            return work()
        finally:
            _ACTIVE_SPINNER.remove(status)


def exit_code_for(report, g: Globals) -> int:
    if not report.ok:
        return 1
    if g.strict and report.warnings:
        return 1
    if g.exit_code and report.pending:
        return 3
    return 0
