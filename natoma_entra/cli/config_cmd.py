"""`natoma-entra config init`: write a commented natoma-entra.toml, asking at a terminal, from flags otherwise."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import typer

from .flags import Groups, ScimUrl, Scope
from .main import app
from .help_format import HELP_SETTINGS, NatomaGroup

config_app = typer.Typer(help="The config file: write a commented natoma-entra.toml to start from.\n\n"
                              "Example: natoma-entra config init", no_args_is_help=True,
                          rich_markup_mode=None, context_settings=HELP_SETTINGS, cls=NatomaGroup)
app.add_typer(config_app, name="config")

ROLE_PROMPTS = (("admin", "Admin"), ("AppAdmin", "AppAdmin"), ("member", "Member"))


def is_terminal() -> bool:
    """Ask only when a person is there: stdin and stderr (where the questions go) are both a terminal."""
    return sys.stdin.isatty() and sys.stderr.isatty()


def _toml_string(value: str) -> str:
    """A TOML basic string: JSON's escaping is TOML's for the characters a checked name can hold."""
    import json  # here, not at the top: every run imports this module (it registers `config init`)

    return json.dumps(value, ensure_ascii=False)


def render(config) -> str:
    """The file's text: every setting with a comment; what was not given is left commented out."""
    def line(key: str, value: str | None, comment: str, example: str) -> str:
        text = f"{key} = {_toml_string(value)}" if value else f"# {key} = {_toml_string(example)}"
        return f"{text:<37} # {comment}"

    out = [
        "# natoma-entra configuration: the desired state of the Natoma app in Entra ID.",
        "# Written by `natoma-entra config init`. Flags and the environment win over this file.",
        "# Secrets never go here: give the SCIM token by NATOMA_SCIM_TOKEN (or the variable scim.token_env names),",
        "# --scim-token-file PATH, --scim-token-stdin, or the hidden prompt.",
        "",
        line("app", config.app, "display name, appId or object id of the enterprise app", "Natoma"),
        line("tenant", config.tenant, "tenant id or domain to sign in to", "contoso.onmicrosoft.com"),
        line("cloud", config.cloud if config.cloud != "global" else None, "global | usgov | usgov-dod | china",
             "global"),
        line("auth", config.auth if config.auth != "default" else None,
             "the sign-in: default | cli | client-secret | certificate | managed-identity | ...", "default"),
        # only when given (a rehearsal against `sandbox serve`); dropped, the file's runs would go to the cloud's Graph
        *([line("graph_endpoint", config.graph_endpoint, "the Graph base URL", "")] if config.graph_endpoint else []),
        "",
        "# role value (case-sensitive) -> the groups whose direct members get that Natoma role (display names or",
        "# object ids; a user in two role groups fails with MultipleGrantsNotSupported)",
        "[groups]",
    ]
    for role, label in ROLE_PROMPTS:
        names = config.groups.get(role) or []
        if names:
            out.append(f"{role} = [{', '.join(_toml_string(n) for n in names)}]")
        else:
            out.append(f"# {role} = [\"Natoma {label}s\"]")
    out += [
        "",
        "[scim]",
        line("url", config.scim.url, "Natoma's SCIM tenant URL (Natoma admin console)",
             "https://example.natoma.app/scim/v2"),
        line("token_env", config.scim.token_env, "the NAME of the variable holding the SCIM token",
             "NATOMA_SCIM_TOKEN"),
        line("scope", config.scim.scope, "assigned (sync only assigned users and groups) or all", "assigned"),
        "",
    ]
    return "\n".join(out)


TRIES = 5  # answers to one question before the wizard gives up (a wait is bounded, even on a person)


def _invalid(fields: dict) -> str | None:
    """Why these answers would not load (the config loader's own check), or None when they do."""
    from pydantic import ValidationError

    from ..config import Config

    try:
        Config.model_validate(fields)
    except ValidationError as e:
        return str(e.errors()[0]["msg"]).removeprefix("Value error, ")
    return None


def _ask_one(question: str, as_fields, *, default: str = "") -> Any:
    """One question, asked again (with the reason) until its answer is valid: a typo costs one line, not the run.
    `as_fields` turns the answer into config fields, checked as the loader checks them."""
    from ..errors import UsageError

    for _ in range(TRIES):
        answer = typer.prompt(question, default=default, show_default=bool(default), err=True)
        why = _invalid(as_fields(answer))
        if why is None:
            return answer
        typer.echo(f"  {why}; try again", err=True)
    raise UsageError(f"no valid answer to {question!r} after {TRIES} tries",
                     fix="run natoma-entra config init again, or give the value as a flag (natoma-entra config init "
                         "--help)")


def _names(answer: str) -> list[str]:
    return [n.strip() for n in answer.split(",") if n.strip()]


def _ask(config_flags: dict) -> dict:
    """The questions a person at a terminal answers (on stderr); a flag given is not asked again, and an answer the
    loader would refuse is asked again."""
    asked = dict(config_flags)
    if not asked.get("app"):
        asked["app"] = _ask_one("Natoma enterprise app (display name, appId or object id)", lambda a: {"app": a},
                                default="Natoma")
    if not asked.get("tenant"):
        asked["tenant"] = _ask_one("Tenant id or domain (blank: the sign-in's own)",
                                   lambda a: {"tenant": a or None}) or None
    if not asked.get("groups"):
        groups: dict[str, list[str]] = {}
        for role, label in ROLE_PROMPTS:
            answer = _ask_one(f"Groups for the {label} role ({role}), comma-separated (blank: none)",
                              lambda a, role=role: {"groups": {role: _names(a)}})
            if _names(answer):
                groups[role] = _names(answer)
        asked["groups"] = groups or None
    scim = dict(asked.get("scim") or {})
    if not scim.get("url"):
        scim["url"] = _ask_one("Natoma's SCIM tenant URL (blank: set it later)",
                               lambda a: {"scim": {"url": a or None}}) or None
    asked["scim"] = {k: v for k, v in scim.items() if v is not None}
    return asked


@config_app.command("init")
def init_command(
    ctx: typer.Context,
    group: Groups = None,
    scim_url: ScimUrl = None,
    scope: Scope = None,
    force: bool = typer.Option(False, "--force", help="Overwrite the file when it exists."),
):
    """Write a commented natoma-entra.toml (or the file --config names) to start from.

    At a terminal it asks for the app, the tenant, the groups of each role and the SCIM URL (questions on stderr;
    what a flag gives is not asked). Elsewhere (CI, a pipe) it writes what the flags give: --app and --tenant (global
    options), --group ROLE=GROUP, --scim-url, --scope; what is not given is left commented out. Every value is checked
    as the config loader checks it, before anything is written. An existing file is never overwritten without
    --force. With --dry-run the file is printed and not written.

    Example: natoma-entra config init
    Example: natoma-entra --app Natoma config init --group admin="Natoma Admins" --scim-url https://acme.natoma.app/scim/v2
    """
    import json

    from ..config import DEFAULT_CONFIG, Config, explain
    from ..errors import UsageError
    from .flags import parse_groups, scim_flags
    from pydantic import ValidationError

    g = ctx.obj
    path = Path(g.config_path or DEFAULT_CONFIG).expanduser()
    if path.is_dir():
        raise UsageError(f"{path} is a directory", fix="name a file with --config PATH")
    if path.exists() and not force and not g.dry_run:
        raise UsageError(f"{path} exists; it was left as it was", fix="pass --force to overwrite it, or --config "
                         "OTHER.toml to write another file")
    given = {k: v for k, v in {"app": g.flags.get("app"), "tenant": g.flags.get("tenant"),
                               "cloud": g.flags.get("cloud"), "auth": g.flags.get("auth"),
                               "graph_endpoint": g.flags.get("graph_endpoint"),
                               "groups": parse_groups(group),
                               **scim_flags(scim_url, scope, None, False)}.items() if v}
    try:  # the flags first: a bad one is said before any question (and names the flag, which was typed)
        Config.model_validate({k: v for k, v in given.items() if v is not None})
    except ValidationError as e:
        raise explain(e, "command line") from None
    if is_terminal() and g.output.value == "text":
        given = _ask(given)
    config = Config.model_validate({k: v for k, v in given.items() if v is not None})  # each answer was checked
    text = render(config)
    Config.model_validate(__import__("tomllib").loads(text))  # what is written loads: the loader's own check
    if g.dry_run:
        if g.output.value == "json":
            typer.echo(json.dumps({"command": "config init", "ok": True, "path": str(path), "written": False,
                                   "text": text}, indent=2))
        else:
            g.out.file.write(text)
            g.say("dry run: nothing was written", style="cyan")
        return
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"cannot write {path}: {e.strerror or type(e).__name__}", fix="check --config") from None
    if g.output.value == "json":
        typer.echo(json.dumps({"command": "config init", "ok": True, "path": str(path), "written": True}, indent=2))
    elif not g.quiet:
        g.out.print(f"wrote {path}; check it with: natoma-entra --config {path} status", highlight=False,
                    soft_wrap=True)
