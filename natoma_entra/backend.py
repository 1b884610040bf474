"""Where a run's tenant and Natoma live, decided once at the root (cli/main.py) and handed to every command.

A backend gives a run everything that differs between a real tenant and the built-in sandbox: the configuration
defaults (the weakest source), the checks its inputs must pass, the Graph client, how Natoma's SCIM endpoint is
reached, the last source of the SCIM token, the clock and the waits, and around a run that writes, the lock and
the save. RealBackend is Microsoft Graph through azure-identity and Natoma over the network; SandboxBackend
(sandbox/backend.py) is the simulated tenant kept in a state file. The root chooses one (cli/application.py
choose_backend, from --sandbox); no other module asks which one a run has: the code path is the same for both.
"""
from __future__ import annotations

import contextlib
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping

from .clock import Clock, SystemClock
from .waits import Waits

if TYPE_CHECKING:
    from .config import Config
    from .graph.client import GraphClient
    from .natoma_scim import ScimFactory


@dataclass
class Connection:
    """One run's connection: its Graph client and how it reaches Natoma's SCIM endpoint."""

    graph: "GraphClient"
    scim: "ScimFactory"


class Backend(ABC):
    clock: Clock
    waits: Waits
    label: str  # what the spinner says it is talking to

    def config_defaults(self) -> dict[str, Any]:
        """The weakest configuration source (below the environment, the file and the flags)."""
        return {}

    def check_flags(self, flags: Mapping[str, Any]) -> None:
        """Refuse (UsageError) a flag this backend cannot honour, before anything is read or sent."""

    def check_config(self, config: "Config") -> None:
        """Refuse (UsageError) a loaded configuration this backend cannot honour, before anything is sent."""

    def scim_token_default(self) -> str | None:
        """The SCIM token to use when no flag, file or variable gives one (before asking at a terminal)."""
        return None

    @abstractmethod
    @contextlib.contextmanager
    def connect(self, config: "Config", *, read_only: bool, deadline: float | None,
                on_wait: Callable[[str], None]) -> Iterator[Connection]:
        """The run's connection, held for the run: a run that may write holds what keeps two runs apart."""


@dataclass
class RealBackend(Backend):
    """Microsoft Graph in the configured cloud (or --graph-endpoint), signed in with azure-identity; Natoma's SCIM
    endpoint over the network."""

    clock: Clock = field(default_factory=SystemClock)
    waits: Waits = field(default_factory=Waits)
    env: Mapping[str, str] = field(default_factory=lambda: os.environ)
    label: str = "Microsoft Graph"

    @contextlib.contextmanager
    def connect(self, config: "Config", *, read_only: bool, deadline: float | None,
                on_wait: Callable[[str], None]) -> Iterator[Connection]:
        from .errors import UsageError
        from .graph.auth import ACCESS_TOKEN_ENV, DELEGATED_MODES, build_credential
        from .graph.client import GraphClient
        from .graph.clouds import check_endpoint, graph_base_url
        from .natoma_scim import network_client
        from .redact import register

        try:
            base = graph_base_url(config.cloud, check_endpoint(config.graph_endpoint) if config.graph_endpoint else None)
        except ValueError as e:
            raise UsageError(str(e), fix="correct --graph-endpoint") from None
        if config.auth == "access-token":
            register(self.env.get(ACCESS_TOKEN_ENV))
        register(self.env.get("AZURE_CLIENT_SECRET"))
        credential = build_credential(config.auth, tenant=config.tenant, cloud=config.cloud, env=dict(self.env))
        graph = GraphClient(credential, base, delegated=config.auth in DELEGATED_MODES, auth=config.auth,
                            deadline=deadline, on_wait=on_wait, clock=self.clock, waits=self.waits)
        graph.read_only = read_only
        yield Connection(graph=graph, scim=network_client)

