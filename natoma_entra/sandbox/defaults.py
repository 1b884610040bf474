"""What `--sandbox` needs beyond the simulated tenant: the config a newcomer would write, and opening the state file."""
from __future__ import annotations

from pathlib import Path

from .state import ACCESS_TOKEN, NATOMA_TOKEN, NATOMA_URL

# The sandbox tenant's groups and Natoma stand-in (design.md section 5): no flag needed beyond --sandbox.
SANDBOX_CONFIG = {
    "app": "Natoma",
    "groups": {"admin": ["Natoma Admins"], "AppAdmin": ["Natoma App Admins"], "member": ["Natoma Members"]},
    "scim": {"url": NATOMA_URL},
}
SANDBOX_SCIM_TOKEN = NATOMA_TOKEN


def open_sandbox(path: Path):
    """(tenant, async transport, credential) for a run against the sandbox kept in `path` (created when missing)."""
    from ..graph.auth import StaticTokenCredential
    from .state import Tenant
    from .transport import SandboxTransport
    from .graph import GraphHandler

    path = Path(path)
    tenant = Tenant.load(path, **TENANT_OPTIONS) if path.is_file() else Tenant.initial(**TENANT_OPTIONS)
    transport = SandboxTransport(GraphHandler(tenant), faults=list(FAULTS))
    OPENED.append((tenant, transport))
    return tenant, transport, StaticTokenCredential(ACCESS_TOKEN)


def scim_http_factory(tenant):
    """The sandbox's SCIM URL (https://natoma.sandbox.test/scim/v2) is not a real host: its requests go to Natoma's
    stand-in in process. Other URLs (a `sandbox serve` loopback URL, a real Natoma) get None: real HTTP."""

    def factory(url: str, token: str):
        from urllib.parse import urlsplit

        from ..graph.clouds import is_loopback
        from .natoma import standin_for

        standin = standin_for(tenant)
        if standin.handles(url) and not is_loopback(urlsplit(url).hostname):
            return standin.client(token, base_url=url)
        return None

    return factory


# Knobs for tests and benchmarks (in process): Tenant options (sp_role_lag, denied_permissions) and fault rules.
TENANT_OPTIONS: dict = {}
FAULTS: list = []

# Every sandbox opened in this process, newest last: tests read the request log of the run they just made.
OPENED: list = []
