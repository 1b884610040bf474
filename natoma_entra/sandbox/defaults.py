"""What `--sandbox` needs beyond the simulated tenant: the config a newcomer would write, and opening the state file."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .state import NATOMA_TOKEN, NATOMA_URL
from .tokens import access_token

if TYPE_CHECKING:
    from .options import SandboxOptions

# The sandbox tenant's groups and Natoma stand-in (docs/sandbox.md): no flag needed beyond --sandbox.
SANDBOX_CONFIG = {
    "app": "Natoma",
    "groups": {"admin": ["Natoma Admins"], "AppAdmin": ["Natoma App Admins"], "member": ["Natoma Members"]},
    "scim": {"url": NATOMA_URL},
}
SANDBOX_SCIM_TOKEN = NATOMA_TOKEN


def open_sandbox(path: Path, options: "SandboxOptions | None" = None) -> tuple[Any, Any, Any]:
    """(tenant, async transport, credential) for a run against the sandbox kept in `path` (created when missing),
    behaving as `options` (a SandboxOptions) says."""
    from ..graph.auth import StaticTokenCredential
    from .state import Tenant
    from .transport import SandboxTransport
    from .graph import GraphHandler
    from .options import SandboxOptions, SimulatedClock

    options = options or SandboxOptions()
    path = Path(path)
    kw = options.tenant_options()
    tenant = Tenant.open(path, **kw)  # a damaged file or unusable path: exit 2 before the run starts
    tenant.cycle_seconds_per_user = options.cycle_seconds_per_user  # the engine's simulated cycle length
    simulated = options.clock if isinstance(options.clock, SimulatedClock) else None
    transport = SandboxTransport(GraphHandler(tenant), faults=options.faults,
                                 sleep=simulated.sleep if simulated is not None else None)
    # a JWT-shaped token whose claims follow the options, so the permission preflight has claims to read
    return tenant, transport, StaticTokenCredential(access_token(options))


def is_sandbox_scim_url(url: str | None) -> bool:
    """Does a SCIM URL point at the sandbox's Natoma stand-in (its own host, or /scim/v2 on loopback)?"""
    from urllib.parse import urlsplit

    from ..graph.clouds import is_loopback

    if not url:
        return False
    parts, mine = urlsplit(url), urlsplit(NATOMA_URL)
    if parts.path.rstrip("/") != mine.path:
        return False
    return (parts.scheme, parts.hostname) == (mine.scheme, mine.hostname) or is_loopback(parts.hostname)


def scim_http_factory(tenant):
    """--sandbox never reaches the network: Natoma's SCIM requests go to the stand-in in process, exactly where the
    sandbox's provisioning engine sends them (the sandbox host, or /scim/v2 on loopback)."""

    def factory(url: str, token: str, bounds: object = None):  # in process: no network bounds (natoma_scim.py)
        from ..errors import UsageError
        from .natoma import standin_for

        standin = standin_for(tenant)
        if not standin.handles(url):
            raise UsageError(f"--sandbox talks only to the sandbox's Natoma stand-in, not to {url}",
                             fix=f"drop --sandbox to reach {url}, or use the sandbox's URL {NATOMA_URL}")
        return standin.scim_client(token, base_url=url)  # scim2-client's WSGI engine

    return factory
