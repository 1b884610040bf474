"""The application object every command is handed (as pypa/hatch's cli/application.py): the global options, the
backend chosen for this invocation (natoma_entra/backend.py: a real tenant or the sandbox, with its clock, waits and
knobs), the one console for data (stdout) and the one for messages (stderr), the spinner and the --verbose log
handler. Nothing here is a module global, so several runs in one process (the tests) never see each other's state.
"""
from __future__ import annotations

import contextlib
import enum
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from ..backend import Backend


def choose_backend(*, sandbox: bool, state: Path | None, variants: frozenset[str],
                   preset: "Backend | None" = None) -> "Backend":
    """The backend of this invocation, decided once at the root: --sandbox (with its state file and variants) or a
    real tenant. A caller (a test, a benchmark) may hand in its own, whose knobs (clock, waits, the sandbox's options)
    then stand."""
    from ..backend import RealBackend

    if sandbox:
        from ..sandbox.backend import SandboxBackend

        base = preset if isinstance(preset, SandboxBackend) else SandboxBackend()
        return base.with_flags(state=state, variants=variants)
    return preset if isinstance(preset, RealBackend) else RealBackend()


# the loggers -v shows (httpx's own line would say each request a second time, without its duration), and --debug
LOGGERS_VERBOSE = ("natoma_entra", "azure.identity")
LOGGERS_DEBUG = ("natoma_entra", "azure", "httpx", "msgraph_core", "kiota_http", "kiota_abstractions")


class Output(str, enum.Enum):
    text = "text"
    json = "json"
    markdown = "markdown"


@dataclass
class Application:
    config_path: Path | None = None
    flags: dict[str, Any] = field(default_factory=dict)
    # where runs go (set at the root from --sandbox; a caller such as a test may hand in its own, with its knobs)
    backend: "Backend | None" = None
    sandbox_state: Path | None = None  # --sandbox-state: the `sandbox` commands' file too
    dry_run: bool = False
    output: Output = Output.text
    verbose: bool = False
    debug: bool = False  # --debug: every library's debug log too (implies verbose)
    quiet: bool = False
    strict: bool = False
    exit_code: bool = False
    timeout: float | None = None  # --timeout: the run's budget for Graph (GraphClient deadline)
    trace_path: Path | None = None  # --trace FILE / NATOMA_ENTRA_TRACE: every Graph and SCIM exchange (trace.py)
    plan_out: Path | None = None  # a writing command's --plan-out FILE: a dry run that saves its plan (cli/plan_out.py)
    sandbox_variants: frozenset[str] = frozenset()  # --sandbox-variant / NATOMA_ENTRA_SANDBOX_VARIANTS
    current_step: str | None = None  # what the run is doing: named when it is interrupted
    _out: Any = None
    _err: Any = None
    _spinner: Any = None
    _log_handler: Any = None
    _trace: Any = None

    # -- consoles ------------------------------------------------------------------------------------------------
    @property
    def out(self):
        """Data: stdout (text reports, tables). Built on first use, so it writes where sys.stdout is then."""
        if self._out is None:
            from ..render.console import make_console

            self._out = make_console()
        return self._out

    @property
    def err(self):
        """Progress and messages: stderr, so `--output json | jq` works."""
        if self._err is None:
            from ..render.console import make_console

            self._err = make_console(stderr=True)
        return self._err

    def say(self, msg: str, style: str = "dim") -> None:
        """A progress message: the spinner's text at a terminal, else a line on stderr (never with --quiet). Inert:
        a name in it is escaped (natoma_entra/inert.py), and the spinner is given Text, which it never reads as
        markup."""
        from rich.text import Text

        from ..inert import clean

        if self.quiet:
            return
        if self._spinner is not None:
            self._spinner.update(Text(clean(msg)))
            return
        self.err.print(Text(clean(msg), style=style))

    def error_line(self, text: str) -> None:
        """One line on stderr, in every mode (text, json, --quiet): a CI log with stdout captured still shows it."""
        from ..inert import clean

        sys.stderr.write(clean(text) + "\n")
        sys.stderr.flush()

    # -- the spinner ---------------------------------------------------------------------------------------------
    def with_spinner(self, work: Callable[[], Any], label: str = "Microsoft Graph") -> Any:
        """A spinner on stderr while waiting on Graph, only for a person at a terminal (never in CI logs or pipes)."""
        if self.quiet or self.verbose or not self.err.is_terminal:
            return work()
        with self.err.status(f"talking to {label}...") as status:
            self._spinner = status
            try:
                return work()
            finally:
                self._spinner = None

    @contextlib.contextmanager
    def spinner_paused(self):
        """Stop the spinner while a person types (the hidden SCIM token prompt), then start it again."""
        spinner = self._spinner
        if spinner is not None:
            spinner.stop()
        try:
            yield
        finally:
            if spinner is not None:
                spinner.start()

    # -- --verbose -----------------------------------------------------------------------------------------------
    def setup_logging(self) -> None:
        """-v: one line per Graph and SCIM request with its duration (natoma_entra's loggers) and azure-identity's
        sign-in; --debug: every library's debug log as well (httpx, the Graph SDK, azure-core), as az --debug."""
        import logging

        names = LOGGERS_DEBUG if self.debug else LOGGERS_VERBOSE
        self.close_logging()
        # azure-identity logs each failed credential of a chain as a warning; the run reports one line with the fix
        logging.getLogger("azure").setLevel(logging.DEBUG if self.verbose else logging.CRITICAL)
        if not self.verbose:
            return
        from ..redact import RedactingFilter

        handler = logging.StreamHandler(sys.stderr)
        handler.addFilter(RedactingFilter())
        handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        for name in names:
            lg = logging.getLogger(name)
            lg.setLevel(logging.DEBUG)
            lg.addHandler(handler)
        self._log_handler = handler

    def close_logging(self) -> None:
        import logging

        if self._log_handler is not None:
            for name in {*LOGGERS_VERBOSE, *LOGGERS_DEBUG}:
                logging.getLogger(name).removeHandler(self._log_handler)
            self._log_handler = None

    def trace(self):
        """The open --trace file (natoma_entra/trace.py), opened on first use (a bad path: exit 2 before any
        request); None without --trace."""
        if self._trace is None and self.trace_path is not None:
            from ..trace import Trace

            self._trace = Trace(self.trace_path)
        return self._trace

    def close(self) -> None:
        if self._trace is not None:
            self._trace.close()
            self._trace = None

        self.close_logging()
