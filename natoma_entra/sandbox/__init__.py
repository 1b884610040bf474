"""The simulated Microsoft Graph tenant (docs/sandbox.md; docs/dev/sandbox-contract.md).

Quick start::

    import httpx
    from natoma_entra.sandbox import make_transport, faults
    transport = make_transport(sync=True, faults=[faults.throttle(2, path="/appRoleAssignedTo")])
    client = httpx.Client(transport=transport, base_url="https://graph.microsoft.com/v1.0",
                          headers={"Authorization": f"Bearer {ACCESS_TOKEN}"})

Heavy modules (httpx, the engine) are imported on first use, so ``import natoma_entra.sandbox`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

from natoma_entra.sandbox.state import (
    ACCESS_TOKEN,
    GRAPH_ROOT,
    NATOMA_TOKEN,
    NATOMA_URL,
    NON_GALLERY_TEMPLATE_ID,
    GraphFault,
    Tenant,
)

if TYPE_CHECKING:
    from natoma_entra.sandbox.faults import Fault
    from natoma_entra.sandbox.transport import SandboxSyncTransport, SandboxTransport

__all__ = [
    "ACCESS_TOKEN", "GRAPH_ROOT", "NATOMA_TOKEN", "NATOMA_URL", "NON_GALLERY_TEMPLATE_ID", "GraphFault", "Tenant",
    "make_transport",
]


def make_transport(tenant: Tenant | None = None, faults: Iterable["Fault"] = (), *, sync: bool = False,
                   access_token: str = ACCESS_TOKEN, **tenant_options: Any) -> "SandboxTransport | SandboxSyncTransport":
    """A sandbox transport in one call: the tenant (``Tenant.initial(**tenant_options)`` when None), its
    GraphHandler and an async (default) or sync httpx transport. ``transport.handler`` / ``transport.tenant`` give
    access to the request log and the state."""
    from natoma_entra.sandbox.graph import GraphHandler
    from natoma_entra.sandbox.transport import SandboxSyncTransport, SandboxTransport

    if tenant is None:
        tenant = Tenant.initial(**tenant_options)
    elif tenant_options:
        raise TypeError("tenant options apply only when no tenant is given")
    handler = GraphHandler(tenant, access_token=access_token)
    cls = SandboxSyncTransport if sync else SandboxTransport
    return cls(handler, faults=faults)
