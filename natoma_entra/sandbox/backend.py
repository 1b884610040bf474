"""`--sandbox`: the built-in simulated tenant as a run's backend (natoma_entra/backend.py).

What it gives a run: the sandbox's configuration defaults as the weakest source (app "Natoma", its three role
groups, the stand-in's SCIM URL), its SCIM token as the last source before a prompt, the tenant loaded from the
state file with Graph answered in process, Natoma's stand-in reached in process, its clock and waits (a test's or a
benchmark's, when given), the state file's lock around a run that may write, and the save after it.

The sandbox never reaches the network: a SCIM URL that is not the stand-in's, from a flag, the environment or the
config file, is refused before anything is sent (`--sandbox talks only to the sandbox's Natoma stand-in`).
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping

from ..backend import Backend, Connection
from ..clock import Clock, SystemClock
from ..waits import Waits
from .options import SandboxOptions, SimulatedClock
from .state import NATOMA_TOKEN

if TYPE_CHECKING:
    from ..config import Config


def default_state_path() -> Path:
    """The user's state directory as each system has it (platformdirs): $XDG_STATE_HOME/natoma-entra, else
    ~/.local/state/natoma-entra on Linux; ~/Library/Application Support/natoma-entra on macOS;
    %LOCALAPPDATA%\\natoma-entra on Windows."""
    from platformdirs import user_state_path

    return user_state_path("natoma-entra", appauthor=False) / "sandbox.json"


@dataclass
class SandboxBackend(Backend):
    state: Path | None = None  # the state file (--sandbox-state, NATOMA_ENTRA_SANDBOX_STATE, else the state dir)
    options: SandboxOptions = field(default_factory=SandboxOptions)
    waits: Waits = field(default_factory=Waits)
    scim_token: str | None = NATOMA_TOKEN  # the stand-in's token: the last source before a prompt (None: none)
    label: str = "the sandbox tenant"
    # every sandbox this backend's runs opened, so a caller (a test) can read the requests of the run it just made
    opened: list[tuple[Any, Any]] = field(default_factory=list)

    @property
    def clock(self) -> Clock:  # type: ignore[override]  # a property: the options' clock, when they hold one
        c = self.options.clock
        return c if isinstance(c, SimulatedClock) else SystemClock()

    def with_flags(self, *, state: Path | None, variants: frozenset[str]) -> "SandboxBackend":
        """This backend with the command line's state file and variants (which add to the options' own)."""
        options = self.options
        if variants:
            options = replace(options, variants=frozenset(options.variants) | variants)
        return replace(self, state=state or self.state, options=options)

    def state_path(self) -> Path:
        return Path(self.state).expanduser() if self.state else default_state_path()

    # -- inputs ------------------------------------------------------------------------------------------------------
    def config_defaults(self) -> dict[str, Any]:
        from .defaults import SANDBOX_CONFIG

        return SANDBOX_CONFIG

    def check_flags(self, flags: Mapping[str, Any]) -> None:
        url = ((flags.get("scim") or {}) if isinstance(flags.get("scim"), dict) else {}).get("url")
        if url:  # checked before it is compared or echoed (it may hold a password)
            from ..config import check_scim_flag

            check_scim_flag(url)
            self._refuse_other_natoma(url, "--scim-url", "drop --scim-url")

    def check_config(self, config: "Config") -> None:
        if config.scim.url:
            self._refuse_other_natoma(config.scim.url, "the configured SCIM URL (config file or NATOMA_SCIM_URL)",
                                      "pass --scim-url with the sandbox's URL (a flag wins over the file), or drop "
                                      "--sandbox")

    @staticmethod
    def _refuse_other_natoma(url: str, what: str, fix: str) -> None:
        from ..errors import UsageError
        from .defaults import NATOMA_URL, is_sandbox_scim_url

        if not is_sandbox_scim_url(url):
            raise UsageError(f"--sandbox talks only to the sandbox's Natoma stand-in ({NATOMA_URL}), not to {url} "
                             f"({what})", fix=f"{fix} (the sandbox's is {NATOMA_URL})")

    def scim_token_default(self) -> str | None:
        return self.scim_token

    # -- a run -------------------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def connect(self, config: "Config", *, read_only: bool, deadline: float | None,
                on_wait: Callable[[str], None]) -> Iterator[Connection]:
        """A run that may write holds the state file's lock from its load to its save, so two runs at once (or a run
        and `sandbox serve`) take turns instead of one throwing the other's changes away. Readers never lock. What
        a run wrote is saved even when it fails or is interrupted (a real tenant keeps it too)."""
        from ..graph.client import GraphClient
        from .defaults import open_sandbox, scim_http_factory
        from .state import check_state_path, state_lock

        path = self.state_path()
        lock: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
        if not read_only:
            check_state_path(path)
            lock = state_lock(path)
        with lock:
            tenant, transport, credential = open_sandbox(path, self.options)
            self.opened.append((tenant, transport))
            graph = GraphClient(credential, "https://graph.microsoft.com/v1.0", transport=transport, deadline=deadline,
                                on_wait=on_wait, clock=self.clock, waits=self.waits)
            graph.read_only = read_only
            try:
                yield Connection(graph=graph, scim=scim_http_factory(tenant))
            finally:
                if not read_only and _wrote(transport):
                    tenant.save(path)


def _wrote(transport: Any) -> bool:
    """Did the run send the sandbox anything but reads (GET, the read-only POSTs)?"""
    from ..graph.readonly import is_read

    return any(not is_read(method, path) for method, path, _status in getattr(transport, "log", []))
