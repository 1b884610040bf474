"""The desired state: config file (TOML) + environment + flags, validated by pydantic.

Precedence: flags over the file, the file over environment defaults, those over built-in defaults (design.md 1-2).
A token literal in the file is refused: secrets come from the environment, a file or a prompt, never from config.
"""
from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .graph.clouds import check_url
from .graph.errors import UsageError
from .natoma_roles import ROLE_VALUES

DEFAULT_CONFIG = "natoma-entra.toml"
Cloud = Literal["global", "usgov", "usgov-dod", "china"]
Auth = Literal["default", "cli", "client-secret", "certificate", "managed-identity", "workload-identity",
               "device-code", "browser", "access-token"]
_TOKEN_KEYS = {"token", "secret", "secret_token", "bearer_token", "scim_token", "password", "access_token"}

# environment defaults (weakest source above the built-in defaults)
ENV_DEFAULTS = {
    "app": "NATOMA_ENTRA_APP", "tenant": "NATOMA_ENTRA_TENANT", "cloud": "NATOMA_ENTRA_CLOUD",
    "auth": "NATOMA_ENTRA_AUTH", "graph_endpoint": "NATOMA_ENTRA_GRAPH_ENDPOINT",
}


def check_scim_url(url: str) -> str:
    """Natoma's SCIM tenant URL: absolute https; http only for loopback hosts (a rehearsal server)."""
    return check_url(url, "the SCIM URL", "https://example.natoma.app/scim/v2")


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
    """What the tenant should look like, and how to reach it."""

    model_config = ConfigDict(extra="forbid")
    app: str | None = None
    tenant: str | None = None
    cloud: Cloud = "global"
    auth: Auth = "default"
    graph_endpoint: str | None = None
    groups: dict[str, list[str]] = Field(default_factory=dict)  # role value -> group names or object ids
    scim: ScimConfig = Field(default_factory=ScimConfig)

    @field_validator("groups")
    @classmethod
    def _groups(cls, v: dict[str, list[str]]):
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


def _explain(err: ValidationError, source: str) -> UsageError:
    first = err.errors()[0]
    key = ".".join(str(p) for p in first["loc"]) or "(top level)"
    if first["type"] == "extra_forbidden":
        return UsageError(f"{source}: unknown key {key!r}", fix="remove it or fix its spelling (see examples/natoma-entra.toml)")
    msg = first["msg"].removeprefix("Value error, ")
    return UsageError(f"{source}: {key}: {msg}", fix="correct the value (see examples/natoma-entra.toml)")


def read_file(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise UsageError(f"cannot read the config file {path}: {e.strerror}", fix="check --config") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"{path} is not valid TOML: {e}", fix="correct the file") from None
    secret = _find_secret_literal(doc)
    if secret:
        raise UsageError(
            f"{path}: key {secret!r} holds a secret; secrets are refused in the config file",
            fix="remove it and give the SCIM token by NATOMA_SCIM_TOKEN (or scim.token_env), --scim-token-file or --scim-token-stdin")
    return doc


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


def load(path: Path | None, flags: dict, env: dict | None = None, defaults: dict | None = None) -> Config:
    """Merge built-in defaults < environment < file < flags and validate. `flags` holds only options given."""
    env = os.environ if env is None else env
    layers: list[tuple[str, dict]] = [("built-in defaults", defaults or {})]
    env_layer = {k: env[v] for k, v in ENV_DEFAULTS.items() if env.get(v)}
    if env.get("NATOMA_SCIM_URL"):
        env_layer["scim"] = {"url": env["NATOMA_SCIM_URL"]}
    layers.append(("environment", env_layer))
    if path is None and Path(DEFAULT_CONFIG).is_file():
        path = Path(DEFAULT_CONFIG)
    if path is not None:
        layers.append((str(path), read_file(Path(path))))
    layers.append(("command line", {k: v for k, v in flags.items() if v is not None}))
    merged: dict = {}
    for source, layer in layers:
        try:  # validate each layer alone first, so an error names where the bad value came from
            Config.model_validate(_merge(Config().model_dump(exclude_none=True), layer))
        except ValidationError as e:
            raise _explain(e, source) from None
        merged = _merge(merged, layer)
    try:
        return Config.model_validate(merged)
    except ValidationError as e:
        raise _explain(e, "configuration") from None
