"""natoma-entra: the Typer app, its global options, and one-line errors.

Heavy imports (msgraph, azure.identity) happen only inside command bodies, so --help and usage errors stay fast.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, List, Optional, Sequence

import typer
from typer.core import TyperGroup

from .. import __version__
from .application import Application, Output
from .command_tree import build
from .completion import auth_methods, clouds
from .help_format import HELP_SETTINGS, NatomaCommand, NatomaGroup, first_paragraph, plain_help

app = typer.Typer(
    name="natoma-entra",
    help="Configure Microsoft Entra ID so users are provisioned into Natoma over SCIM with the right Natoma role.\n\n"
         "Run `natoma-entra --sandbox setup` to try it on the built-in simulated tenant.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,  # a traceback's locals can hold a token; main() prints one line instead
    add_completion=True,  # --install-completion / --show-completion (bash, zsh, fish, PowerShell)
    context_settings=HELP_SETTINGS,
    cls=NatomaGroup,  # help wrapped at spaces only (natoma_entra/cli/help_format.py)
    # Click's plain help formatter, not typer's rich panels: rich's import and rendering were ~100 ms of every
    # --help (issue 13: --help at most 0.8x `az --help`); az's own help is plain text too.
    rich_markup_mode=None,
)

# Options that take a value; used to move global options written after the command to the front.
VALUE_OPTIONS = {"--config", "--app", "--tenant", "--cloud", "--auth", "--graph-endpoint", "--output", "-o",
                 "--sandbox-state", "--timeout", "--sandbox-variant", "--trace"}
# the default output format, as az has AZURE_CORE_OUTPUT (a flag still wins)
OUTPUT_ENV = "NATOMA_ENTRA_OUTPUT"
FLAG_OPTIONS = {"--sandbox", "--dry-run", "--verbose", "-v", "--debug", "--quiet", "-q", "--strict", "--exit-code", "--version"}


def _version(value: bool):
    if value:
        typer.echo(f"natoma-entra {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    config: Optional[Path] = typer.Option(None, "--config", metavar="PATH", help="Config file (default: natoma-entra.toml here, when present)."),
    app_ref: Optional[str] = typer.Option(None, "--app", metavar="NAME|ID", help="The Natoma app: display name, appId or object id."),
    tenant: Optional[str] = typer.Option(None, "--tenant", metavar="TENANT", help="Tenant id or domain to sign in to."),
    cloud: Optional[str] = typer.Option(None, "--cloud", metavar="CLOUD", autocompletion=clouds, help="global | usgov | usgov-dod | china (Graph host and sign-in authority move together)."),
    auth: Optional[str] = typer.Option(None, "--auth", metavar="METHOD", autocompletion=auth_methods, help="default | cli | client-secret | certificate | managed-identity | workload-identity | device-code | browser | access-token."),
    graph_endpoint: Optional[str] = typer.Option(None, "--graph-endpoint", metavar="URL", help="Graph base URL, e.g. http://127.0.0.1:8080/v1.0 (http only on loopback)."),
    sandbox: bool = typer.Option(False, "--sandbox", help="Run against the built-in simulated tenant (state kept in a file)."),
    sandbox_state: Optional[Path] = typer.Option(None, "--sandbox-state", metavar="PATH", envvar="NATOMA_ENTRA_SANDBOX_STATE", help="The sandbox's state file."),
    sandbox_variant: Optional[List[str]] = typer.Option(None, "--sandbox-variant", metavar="NAME", help="With --sandbox: play one of the Graph behaviours the docs leave open (repeatable; 'all' for every one; env NATOMA_ENTRA_SANDBOX_VARIANTS, comma-separated). See natoma-entra docs graph-assumptions."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the plan; write nothing."),
    output: Output = typer.Option(Output.text, "--output", "-o", envvar=OUTPUT_ENV,
                                  help="text for people, json for machines, markdown for a pull-request "
                                       "comment or a CI job summary (stdout)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="One line per Graph and SCIM request with its status and duration (secrets masked), and tracebacks."),
    debug: bool = typer.Option(False, "--debug", help="Every debug log too: httpx, the Graph SDK, azure-identity and azure-core (secrets masked); implies --verbose."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only changes, warnings and errors."),
    strict: bool = typer.Option(False, "--strict", help="Warnings fail the run (exit 1)."),
    exit_code: bool = typer.Option(False, "--exit-code", help="Exit 3 when changes are pending (status, --dry-run)."),
    timeout: float = typer.Option(300.0, "--timeout", envvar="NATOMA_ENTRA_TIMEOUT", min=1, max=86400, metavar="SECONDS", help="Time budget for the run's Graph requests, retries and waits included."),
    trace: Optional[Path] = typer.Option(None, "--trace", metavar="FILE", envvar="NATOMA_ENTRA_TRACE", help="Append every Graph and SCIM exchange as JSON lines to FILE (0600; Authorization and secrets removed), to attach to a support request."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
):
    from .application import choose_backend

    given = ctx.obj if isinstance(ctx.obj, Application) else Application()  # a caller (tests) may hand its own in
    given.config_path, given.sandbox_state = config, sandbox_state
    given.flags = {"app": app_ref, "tenant": tenant, "cloud": cloud, "auth": auth, "graph_endpoint": graph_endpoint}
    given.dry_run, given.output, given.verbose, given.quiet = dry_run, output, verbose or debug, quiet
    given.debug = debug
    given.strict, given.exit_code, given.timeout = strict, exit_code, timeout
    given.trace_path = trace
    given.sandbox_variants = _sandbox_variants(sandbox_variant, sandbox)
    # real tenant or sandbox: decided here, once; every command gets its Graph client, SCIM connector, token
    # default, clock and state handling from this backend (natoma_entra/backend.py)
    given.backend = choose_backend(sandbox=sandbox, state=sandbox_state, variants=given.sandbox_variants,
                           preset=given.backend)
    ctx.obj = given


def _sandbox_variants(flags: list[str] | None, sandbox: bool) -> frozenset[str]:
    """--sandbox-variant NAME (repeatable), else NATOMA_ENTRA_SANDBOX_VARIANTS; an unknown name is bad usage."""
    if not flags and not sandbox:
        return frozenset()  # without the sandbox, its package (its tenant model) is not even imported
    from ..errors import UsageError
    from ..sandbox.options import VARIANTS, UnknownVariant, parse_variants, variants_from_env

    try:
        if flags:
            if not sandbox:
                raise UsageError("--sandbox-variant works only with --sandbox", fix="add --sandbox")
            return parse_variants(flags)
        return variants_from_env() if sandbox else frozenset()
    except UnknownVariant as e:
        raise UsageError(f"unknown sandbox variant {', '.join(e.names)}",
                         fix=f"use one of: {', '.join(sorted(VARIANTS))} (or all)") from None


# Said at the foot of every command's --help: the global options work there too (hoist_globals moves them).
GLOBAL_EPILOG = ("Global options (before or after the command): --app, --tenant, --config, --auth, --cloud, "
                 "--dry-run, -o json, -q (quiet), -v (verbose), --debug, --strict, --exit-code, --timeout, --sandbox; "
                 "see natoma-entra --help.")


_COMMAND: list[Any] = []  # the Click command typer builds from `app`: built once per process (it is only read)


def _click_command() -> Any:
    """typer rebuilds its Click command from the function signatures on every call; a process that runs the CLI many
    times (the tests, a benchmark) builds it once, and each command only when a run asks for it."""
    if not _COMMAND:
        _register()
        command = build(app)  # each command built when first asked for (natoma_entra/cli/command_tree.py)
        from .completion import describe

        describe(command)
        _COMMAND.append(command)
    return _COMMAND[0]


def _register() -> None:
    from . import commands, config_cmd, sandbox_cmd  # noqa: F401  (commands register themselves on `app`)

    infos = list(app.registered_commands)
    for group in app.registered_groups:
        if group.typer_instance is None:
            continue
        infos += list(group.typer_instance.registered_commands)
        group_info = group.typer_instance.info
        if not isinstance(group.short_help, str) and isinstance(group_info.help, str):  # Default(None) when unset
            group.short_help = first_paragraph(group_info.help)
            group_info.help = plain_help(group_info.help)
    for info in infos:
        info.cls = NatomaCommand  # its --help wraps at spaces only
        if info.epilog is None:
            info.epilog = GLOBAL_EPILOG
        doc = info.help if isinstance(info.help, str) else (info.callback.__doc__ if info.callback else None)
        if doc:
            import inspect

            doc = inspect.cleandoc(doc)
            if info.short_help is None:
                info.short_help = first_paragraph(doc)
            info.help = plain_help(doc)


def hoist_globals(argv: list[str]) -> list[str]:
    """Allow global options after the command (`natoma-entra roles --dry-run`): move them to the front."""
    front, rest, i = [], [], 0
    while i < len(argv):
        a = argv[i]
        name = a.split("=", 1)[0]
        if a == "--":
            rest.extend(argv[i:])
            break
        if name in FLAG_OPTIONS:
            front.append(a)
        elif name in VALUE_OPTIONS:
            front.append(a)
            if "=" not in a and i + 1 < len(argv):
                front.append(argv[i + 1])
                i += 1
        else:
            rest.append(a)
        i += 1
    return front + rest


def _wants_json(args: list[str]) -> bool:
    """--output json (the last one given wins, as in Click), else NATOMA_ENTRA_OUTPUT."""
    wanted = os.environ.get(OUTPUT_ENV, "").strip().lower() == "json"
    for i, a in enumerate(args):
        if a.split("=", 1)[0] in ("--output", "-o"):
            wanted = a.endswith("=json") or ("=" not in a and args[i + 1:i + 2] == ["json"])
    return wanted


def _command_of(args: list[str]) -> str | None:
    """The first word that is not a global option or its value."""
    i = 0
    while i < len(args):
        a = args[i]
        if a.split("=", 1)[0] in VALUE_OPTIONS:
            i += 1 if "=" in a else 2
        elif a in FLAG_OPTIONS:
            i += 1
        else:
            return a
    return None


def _json_error(args: list[str], message: str, fix: str | None, code: int, extra: dict | None = None) -> None:
    """Under -o json, one document per run, even when the run stops before its report exists; `extra` adds what
    the error carries (the preflight's permissions table)."""
    from ..inert import dumps

    doc: dict[str, Any] = {"command": _command_of(args), "ok": False, "error": message, "fix": fix,
                           "exit_code": code, "steps": [], "warnings": [], **(extra or {})}
    sys.stdout.write(dumps(doc, indent=2) + "\n")


def _missing_command(e: typer.TyperException) -> bool:
    """A group run without a command: bare (typer shows the group's help as the message) or with only global
    options ("Missing command.")."""
    ctx = getattr(e, "ctx", None)
    if ctx is None or not isinstance(ctx.command, TyperGroup):
        return False
    message = e.format_message()
    return message == "Missing command." or message == ctx.get_help()


def _command_path(command: Any, args: list[str]) -> str:
    """The command a usage error is about, from the words given, when Click's parser raised it without a context
    (an option missing its value): `natoma-entra sandbox serve`."""
    path, i = ["natoma-entra"], 0
    while i < len(args):
        a = args[i]
        if a.split("=", 1)[0] in VALUE_OPTIONS:
            i += 1 if "=" in a else 2
            continue
        sub = getattr(command, "commands", {}).get(a) if not a.startswith("-") else None
        if sub is None and not a.startswith("-"):
            break
        if sub is not None:
            path.append(a)
            command = sub
        i += 1
    return " ".join(path)


def usage_error(e: typer.TyperException, command: Any = None, args: Sequence[str] = ()) -> tuple[str, str]:
    """Click's usage error as (message, fix) for one stderr line: no "Usage:/Try" block, no pydantic "Value error,"
    prefix (typer validates values with pydantic), the allowed values of --output named."""
    message = e.format_message().replace("Value error, ", "").strip()
    param = getattr(e, "param", None)
    ctx = getattr(e, "ctx", None)
    path = ctx.command_path if ctx is not None else _command_path(command, list(args))
    if param is not None and getattr(param, "name", None) == "output":
        import re

        found = re.search(r"'([^']*)' is not one of", message)
        value = found.group(1) if found else "?"
        from .early import bad_output

        source = ctx.get_parameter_source("output") if ctx is not None else None
        return bad_output(value, OUTPUT_ENV if source is not None and source.name == "ENVIRONMENT" else "--output")
    if param is not None and ctx is not None and "(env var: " in message:
        # Click names an option's environment variable in every error about it; said only when the value came from
        # there (`--timeout 0` was typed: the variable is not the culprit)
        source = ctx.get_parameter_source(param.name) if param.name else None
        if source is None or source.name != "ENVIRONMENT":
            import re

            message = re.sub(r" \(env var: [^)]*\)", "", message, count=1)
    return message, f"see {path} --help"


# Click's own convention, kept by typer: a usage error (bad option, bad value, missing argument) exits 2
USAGE_EXIT = 2


def run(argv: list[str] | None = None, *, application: Application | None = None) -> None:
    """The command line (natoma_entra/console.py runs it as the process). Exit codes: 0 done, 1 a step failed,
    2 bad usage or input, 3 changes pending, 130 interrupted. Every non-zero exit says one line on stderr."""
    from ..errors import Interrupted, NatomaEntraError, UsageError, error_line
    from .early import bad_output, command_help, output_format

    command = _click_command()
    args = hoist_globals(list(sys.argv[1:] if argv is None else argv))
    verbose = any(a in ("--verbose", "-v", "--debug") for a in args)
    wants_json = _wants_json(args)
    try:
        from .completion import handle as completion

        completion(args, command)  # --show-completion / --install-completion [SHELL]: answered here, then exits
        # the output format is settled before anything else (every error comes out in it): a bad one is said here,
        # as typer would say it, without parsing (and converting) the other global options
        output = output_format(args)
        if output is not None and output[0] not in {o.value for o in Output}:
            raise UsageError(*bad_output(*output))
        help_text = command_help(command, args)
        if help_text is not None:
            typer.echo(help_text)
            sys.exit(0)
        code = command.main(args=args, prog_name="natoma-entra", standalone_mode=False, obj=application)
        sys.exit(code if isinstance(code, int) else 0)
    except typer.Exit as e:  # typer.Exit from a command: its report is already out
        sys.exit(e.exit_code)
    except typer.Abort:  # Ctrl-C in a prompt
        sys.stderr.write(error_line("interrupted", Interrupted.AGAIN) + "\n")  # in a run, cli/context.py names the step
        if wants_json:
            _json_error(args, "interrupted", Interrupted.AGAIN, 130)
        sys.exit(130)
    except NatomaEntraError as e:
        from ..inert import clean  # only on the error paths: --help and a clean run do without it

        lines = e.lines() if hasattr(e, "lines") else [str(e)]  # the preflight: one line per missing permission
        sys.stderr.write("".join(clean(f"error: {line}") + "\n" for line in lines))
        if wants_json:
            _json_error(args, e.message, e.fix, e.exit_code, getattr(e, "report", None))
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write(error_line("interrupted", Interrupted.AGAIN) + "\n")  # in a run, cli/context.py names the step
        if wants_json:
            _json_error(args, "interrupted", Interrupted.AGAIN, 130)
        sys.exit(130)
    except typer.TyperException as e:  # Click's errors: typer exports their base class, not Click's own names
        from ..inert import clean

        if e.exit_code != USAGE_EXIT:  # Click's other errors (a file it could not open): its message, its code
            sys.stderr.write(clean(f"error: {e.format_message()}") + "\n")
            sys.exit(e.exit_code)
        if _missing_command(e):  # `natoma-entra` or a group alone: its help, and no command run
            ctx = getattr(e, "ctx")
            message, fix = "Missing command.", f"see {ctx.command_path} --help"  # Click's words when options come alone
            if wants_json:
                _json_error(args, message, fix, USAGE_EXIT)
            else:
                sys.stdout.write(ctx.get_help().rstrip("\n") + "\n")
            sys.stderr.write(error_line(message, fix) + "\n")
            sys.exit(USAGE_EXIT)
        message, fix = usage_error(e, command, args)
        sys.stderr.write(clean(error_line(message, fix)) + "\n")
        if wants_json:
            _json_error(args, message, fix, USAGE_EXIT)
        sys.exit(USAGE_EXIT)
    except Exception as e:  # noqa: BLE001 - one line, the traceback only with --verbose
        from ..inert import clean

        if verbose:
            import traceback

            sys.stderr.write("".join(clean(line) + "\n" for line in traceback.format_exc().splitlines()))
        sys.stderr.write(clean(f"error: unexpected {type(e).__name__}: {e}") + "\n")
        if not verbose:
            sys.stderr.write("run with --verbose for the traceback\n")
        sys.exit(1)
