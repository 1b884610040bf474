"""The desired state: config file (TOML) + environment + flags, validated by pydantic.

Precedence: flags over the environment, the environment over the file, the file over built-in defaults (the sandbox's
included), as az, gh and kubectl have it: a CI job overrides one value of a committed file with a variable
(docs/configuration.md).
A token literal in the file is refused: secrets come from the environment, a file or a prompt, never from config.
"""
from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal, Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .graph.clouds import check_url
from .errors import UsageError
from .natoma_roles import ROLE_VALUES

DEFAULT_CONFIG = "natoma-entra.toml"
Cloud = Literal["global", "usgov", "usgov-dod", "china"]
Auth = Literal["default", "cli", "client-secret", "certificate", "managed-identity", "workload-identity",
               "device-code", "browser", "access-token"]
_TOKEN_KEYS = {"token", "secret", "secret_token", "bearer_token", "scim_token", "password", "access_token"}

# the environment variables of config keys: over the file, under the flags
ENV_DEFAULTS = {
    "app": "NATOMA_ENTRA_APP", "tenant": "NATOMA_ENTRA_TENANT", "cloud": "NATOMA_ENTRA_CLOUD",
    "auth": "NATOMA_ENTRA_AUTH", "graph_endpoint": "NATOMA_ENTRA_GRAPH_ENDPOINT",
}


# Microsoft Graph's application and group resource pages: displayName "Maximum length is 256 characters".
MAX_NAME = 256
MAX_GROUPS = 100  # per role: more is a pasted list gone wrong, not a configuration
MAX_CONFIG_BYTES = 1024 * 1024
MAX_CONFIG_DEPTH = 32  # tables and arrays within each other; a real config has three levels


def check_scim_url(url: str) -> str:
    """Natoma's SCIM tenant URL: exactly scheme://host[:port]/path; https, http only for loopback hosts."""
    return check_url(url, "the SCIM URL", "https://example.natoma.app/scim/v2")


def check_scim_flag(url: str) -> str:
    """--scim-url checked before anything uses (or echoes) it: UsageError, exit 2, never showing a password."""
    try:
        return check_scim_url(url)
    except ValueError as e:
        raise UsageError(f"--scim-url: {e}", fix="pass Natoma's SCIM tenant URL alone, as scheme://host/path") from None


def check_name(v: str | None, what: str = "a name") -> str | None:
    """A display name or id as typed: not blank, at most MAX_NAME characters, no control character."""
    if v is None:
        return v
    if len(v) > MAX_NAME:
        raise ValueError(f"{what} is {len(v)} characters long; Entra display names are at most {MAX_NAME}")
    if not v.strip():
        raise ValueError(f"{what} is blank")
    if any(ord(c) < 32 or ord(c) == 127 for c in v):
        raise ValueError(f"{what} contains a control character (a line break or tab?)")
    return v


class ScimConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str | None = None
    token_env: str = "NATOMA_SCIM_TOKEN"
    token_file: Path | None = None
    scope: Literal["assigned", "all"] = "assigned"

    @field_validator("url")
    @classmethod
    def _url(cls, v):
        return None if v is None else check_scim_url(v)

    @field_validator("token_env")
    @classmethod
    def _env_name(cls, v: str):
        # a token pasted here by mistake must not be echoed back: say what is wrong, not what was given
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", v or ""):
            raise ValueError("must be the NAME of an environment variable (letters, digits, _), such as "
                             "NATOMA_SCIM_TOKEN; never the token itself")
        return v


class Config(BaseModel):
    """What the tenant should look like, and how to reach it. Every value is checked here, so bad input is exit 2
    before anything is sent."""

    model_config = ConfigDict(extra="forbid")
    app: str | None = None
    tenant: str | None = None
    cloud: Cloud = "global"
    auth: Auth = "default"
    graph_endpoint: str | None = None
    groups: dict[str, list[str]] = Field(default_factory=dict)  # role value -> group names or object ids
    scim: ScimConfig = Field(default_factory=ScimConfig)

    @field_validator("app")
    @classmethod
    def _app(cls, v):
        return check_name(v, "the app name")

    @field_validator("tenant")
    @classmethod
    def _tenant(cls, v):
        return check_name(v, "the tenant")

    @field_validator("graph_endpoint")
    @classmethod
    def _endpoint(cls, v):
        return None if v is None else check_url(v, "the Graph endpoint", "https://graph.microsoft.com/v1.0")

    @field_validator("groups", mode="before")
    @classmethod
    def _one_group(cls, v):
        """`admin = "Natoma Admins"` is a list of one: a role's groups may be written as one string."""
        if isinstance(v, dict):
            return {role: [names] if isinstance(names, str) else names for role, names in v.items()}
        return v

    @field_validator("groups")
    @classmethod
    def _groups(cls, v: dict[str, list[str]]):
        for role, names in v.items():
            if len(names) > MAX_GROUPS:
                raise ValueError(f"{len(names)} groups for {role!r}; at most {MAX_GROUPS}")
            for name in names:
                check_name(name, f"a group name for {role!r}")
        for role in v:
            if role not in ROLE_VALUES:
                close = [r for r in ROLE_VALUES if r.lower() == role.lower()]
                hint = f" (role values are case-sensitive: did you mean {close[0]!r}?)" if close else ""
                raise ValueError(f"unknown role {role!r} in [groups]{hint}; use {', '.join(ROLE_VALUES)}")
        return v

    def group_pairs(self) -> list[tuple[str, str]]:
        """(role value, group ref) in role order, without repeats."""
        seen, out = set(), []
        for role in ROLE_VALUES:
            for g in self.groups.get(role, []):
                if (role, g) not in seen:
                    seen.add((role, g))
                    out.append((role, g))
        return out


def _find_secret_literal(doc: dict, where: str = "") -> str | None:
    for k, v in doc.items():
        path = f"{where}.{k}" if where else k
        if isinstance(v, dict):
            found = _find_secret_literal(v, path)
            if found:
                return found
        elif k.lower() in _TOKEN_KEYS:
            return path
    return None


# a config key -> the flag that sets it (a bad flag value names the flag, not the config file)
FLAGS = {"app": "--app", "tenant": "--tenant", "cloud": "--cloud", "auth": "--auth",
         "graph_endpoint": "--graph-endpoint", "groups": "--group", "scim.url": "--scim-url", "scim.scope": "--scope",
         "scim.token_file": "--scim-token-file"}
ENV_NAMES = {**ENV_DEFAULTS, "scim.url": "NATOMA_SCIM_URL"}


def explain(err: ValidationError, source: str) -> UsageError:
    first = err.errors()[0]
    loc = [str(p) for p in first["loc"]]
    key = ".".join(loc) or "(top level)"
    key = "".join(c if c.isprintable() else "?" for c in key)
    if len(key) > 80:
        key = key[:77] + "..."
    # the setting the value belongs to: groups.admin.0 -> groups, scim.url -> scim.url
    setting = next((k for k in (".".join(loc[:2]), loc[0] if loc else "") if k in FLAGS), None)
    if first["type"] == "extra_forbidden":
        return UsageError(f"{source}: unknown key {key!r}", fix="remove it or fix its spelling (natoma-entra docs configuration)")
    msg = first["msg"].removeprefix("Value error, ")
    if source == "command line" and setting:
        flag = FLAGS[setting]
        return UsageError(f"{flag}: {msg}", fix=f"correct the value of {flag} (see natoma-entra --help)")
    if source == "command line":
        return UsageError(f"{source}: {key}: {msg}", fix="correct the option's value (see natoma-entra --help)")
    if source == "environment" and setting in ENV_NAMES:
        env = ENV_NAMES[setting]
        return UsageError(f"{env}: {msg}", fix=f"correct or unset the environment variable {env}")
    return UsageError(f"{source}: {key}: {msg}", fix="correct the value (natoma-entra docs configuration)")


def read_file(path: Path) -> dict:
    """The config file as a dict: UTF-8 TOML of at most 1 MiB; every failure one UsageError naming the file."""
    from .files import read_capped_text

    text = read_capped_text(path, MAX_CONFIG_BYTES, what="the config file", fix="check --config: point it at the TOML file")
    too_deep = UsageError(f"{path} nests tables or arrays too deeply", fix="correct the file (natoma-entra docs configuration)")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"{path} is not valid TOML: {e}", fix="correct the file") from None
    except RecursionError:  # tomllib recurses per nesting level: a hostile file can exhaust the stack
        raise too_deep from None
    # the same answer when the interpreter's recursion limit was raised (by an embedding program) and tomllib got
    # through: no config needs more than a few levels
    if _depth(doc) > MAX_CONFIG_DEPTH:
        raise too_deep
    secret = _find_secret_literal(doc)
    if secret:
        raise UsageError(
            f"{path}: key {secret!r} holds a secret; secrets are refused in the config file",
            fix="remove it and give the SCIM token by NATOMA_SCIM_TOKEN (or scim.token_env), --scim-token-file or --scim-token-stdin")
    return doc


def _depth(value: object) -> int:
    """How deeply tables and arrays nest in a parsed TOML document (iteratively: the document may be deep)."""
    deepest, todo = 0, [(value, 0)]
    while todo:
        item, level = todo.pop()
        deepest = max(deepest, level)
        if isinstance(item, dict):
            todo.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            todo.extend((v, level + 1) for v in item)
    return deepest


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        if k == "groups" and v:  # --group replaces the [groups] table as a whole: the flags say the full set
            out[k] = v
        elif isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        elif v is not None:
            out[k] = v
    return out


def load(path: Path | None, flags: dict, env: Mapping[str, str] | None = None,
         defaults: dict | None = None) -> Config:
    """Merge built-in defaults < file < environment < flags and validate. `flags` holds only options given."""
    env = os.environ if env is None else env
    layers: list[tuple[str, dict]] = [("built-in defaults", defaults or {})]
    if path is None and Path(DEFAULT_CONFIG).is_file():
        path = Path(DEFAULT_CONFIG)
    if path is not None:
        layers.append((str(path), read_file(Path(path))))
    env_layer: dict[str, Any] = {k: env[v] for k, v in ENV_DEFAULTS.items() if env.get(v)}
    if env.get("NATOMA_SCIM_URL"):
        env_layer["scim"] = {"url": env["NATOMA_SCIM_URL"]}
    layers.append(("environment", env_layer))
    layers.append(("command line", {k: v for k, v in flags.items() if v is not None}))
    merged: dict = {}
    for source, layer in layers:
        try:  # validate each layer alone first, so an error names where the bad value came from
            Config.model_validate(_merge(Config().model_dump(exclude_none=True), layer))
        except ValidationError as e:
            raise explain(e, source) from None
        merged = _merge(merged, layer)
    try:
        return Config.model_validate(merged)
    except ValidationError as e:
        raise explain(e, "configuration") from None
