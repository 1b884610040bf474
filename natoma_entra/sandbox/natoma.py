"""Natoma's stand-in: a real SCIM 2.0 server (scim2-server) served in process.

The sandbox's provisioning engine sends its SCIM requests here, and tests (or `provision --verify`) read back what
Natoma received. The stand-in:

- serves under the ``/scim/v2`` path prefix, as Natoma does (scim2-server itself only knows ``/`` and ``/v2``);
- checks the bearer token, so a wrong SecretToken gets 401 as it would from Natoma;
- dumps and restores its users, so the state file's ``"natoma"`` key carries them between CLI runs with stable ids.

Public API: :class:`NatomaStandIn` and :func:`standin_for` (the tenant's stand-in, kept in step with its state).
"""

from __future__ import annotations

import itertools
import json
from typing import Any, Callable
from urllib.parse import urlsplit

import httpx

from natoma_entra.graph.clouds import is_loopback
from natoma_entra.sandbox.state import NATOMA_TOKEN, NATOMA_URL

SCIM_PREFIX = "/scim/v2"
_DUMP_FORMAT = 1
# one definition of loopback for the product and its sandbox
is_loopback_host = is_loopback


_PROVIDER: Any = None


def default_provider() -> Any:
    """scim2-server's default schemas and resource types, built once per process: building them takes ~0.1 s and
    they are only read (each stand-in keeps its users in its own storage)."""
    global _PROVIDER
    if _PROVIDER is None:
        from scim2_server.utils import load_default_provider

        from natoma_entra.scim_generics import keep_server_generics

        keep_server_generics()
        _PROVIDER = load_default_provider()
    return _PROVIDER


def _token_checking_application(storage: Any, provider: Any, token_of: Callable[[], str]) -> Any:
    """scim2-server's WSGI application that refuses a request without the expected bearer token. scim2-models and
    scim2-server are imported here, when a stand-in is first made: loading them is most of a `--sandbox` run's
    start-up, and most runs never reach Natoma (see probe_answer)."""
    from scim2_models import UnauthorizedException
    from scim2_server.applications.wsgi import WSGIApplication
    from scim2_server.requests import ScimRequest

    class TokenCheckingApplication(WSGIApplication):
        def check_auth(self, request: ScimRequest) -> None:
            if not token_accepted(request.header("Authorization") or "", token_of()):
                raise UnauthorizedException(detail="Invalid or missing bearer token")

    return TokenCheckingApplication(storage, provider)


def token_accepted(authorization: str, token: str = NATOMA_TOKEN) -> bool:
    """Does an Authorization header carry the stand-in's bearer token?"""
    scheme, _, credentials = authorization.partition(" ")
    return scheme.lower() == "bearer" and credentials.strip() == token


def handles_url(url: str, base_url: str = NATOMA_URL) -> bool:
    """Tell whether a SCIM base URL points at the stand-in: the sandbox's Natoma host (with its path), or a loopback
    host whose path is ``/scim/v2`` (the sandbox's loopback server serves the stand-in there)."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    path = parts.path.rstrip("/")
    mine = urlsplit(base_url.rstrip("/"))
    if parts.hostname.lower() == (mine.hostname or "").lower() and parts.scheme == mine.scheme:
        return path == mine.path.rstrip("/") and parts.port == mine.port
    return is_loopback_host(parts.hostname) and path == SCIM_PREFIX


def probe_answer(token: str | None, accepted: str = NATOMA_TOKEN) -> int:
    """The stand-in's status for Entra's Test Connection probe (GET /Users or /Groups filtered on a random name no
    resource has): 401 without its bearer token, else 200 with an empty list. Whatever the stand-in holds, that is
    its answer (tests/sandbox/test_engine.py checks it against the SCIM server's own), so the engine reads it here
    without loading scim2-server for it."""
    return 200 if token_accepted(f"Bearer {token or ''}", accepted) else 401


def standin_token(tenant: Any) -> str:
    """The bearer token the tenant's stand-in accepts, without building one when none was made yet."""
    standin = getattr(tenant, "_natoma_standin", None)
    return standin.token if isinstance(standin, NatomaStandIn) else NATOMA_TOKEN


class NatomaStandIn:
    """Natoma's SCIM endpoint, in process: scim2-server over an in-memory storage.

    :param token: the bearer token the endpoint accepts.
    :param base_url: the endpoint's URL as the tenant knows it (its host is the sandbox's Natoma host).
    """

    def __init__(self, token: str = NATOMA_TOKEN, base_url: str = NATOMA_URL):
        self.token = token
        self.base_url = base_url.rstrip("/")
        from scim2_server.memory import InMemoryStorage

        self.provider = default_provider()
        self.storage = InMemoryStorage()
        # the token is read at each request, so a test may give a stand-in a different one (tests/security)
        self.app = _token_checking_application(self.storage, self.provider, lambda: self.token)
        # the tenant state (and its "natoma" entry) this stand-in was last restored from or saved to
        self._state_ref: Any = None
        self._data_ref: Any = None

    # -- serving -----------------------------------------------------------------------------------------------

    def wsgi_app(self, environ: dict, start_response: Any):
        """WSGI entry point: serves SCIM under ``/scim/v2``; any other path answers a SCIM 404."""
        path = environ.get("PATH_INFO", "") or ""
        if path == SCIM_PREFIX or path.startswith(SCIM_PREFIX + "/"):
            environ = dict(environ)
            # Move "/scim" to SCRIPT_NAME: scim2-server strips the "/v2" itself and builds its
            # Location URLs from SCRIPT_NAME, so they come out as .../scim/v2/Users/<id>.
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "").rstrip("/") + "/scim"
            environ["PATH_INFO"] = path[len("/scim"):]
            return self.app(environ, start_response)
        body = json.dumps(
            {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                "status": "404",
                "detail": f"Not found: the SCIM endpoint is under {SCIM_PREFIX}",
            }
        ).encode()
        start_response("404 Not Found", [("Content-Type", "application/scim+json"), ("Content-Length", str(len(body)))])
        return [body]

    def handles(self, url: str) -> bool:
        """Tell whether a SCIM base URL points at this stand-in (handles_url)."""
        return handles_url(url, self.base_url)

    def client(self, token: str | None, base_url: str | None = None) -> httpx.Client:
        """An httpx client that talks to the stand-in in process (no socket), authenticated with ``token``.

        ``base_url`` is the URL the caller was given (the sandbox host or a loopback URL); requests always reach
        this stand-in, under ``/scim/v2``.
        """
        url = (base_url or self.base_url).rstrip("/")
        parts = urlsplit(url)
        # Whatever host was given, the in-process app sees the /scim/v2 prefix.
        root = f"{parts.scheme}://{parts.netloc}{SCIM_PREFIX}"
        headers = {"Accept": "application/scim+json", "Content-Type": "application/scim+json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.Client(transport=httpx.WSGITransport(app=self.wsgi_app), base_url=root, headers=headers)

    def scim_client(self, token: str | None, base_url: str | None = None):
        """scim2-client's WSGI engine over this stand-in (what `provision --verify` and `audit` read with)."""
        from natoma_entra.natoma_scim import wsgi_client

        url = (base_url or self.base_url).rstrip("/")
        parts = urlsplit(url)
        return wsgi_client(self.wsgi_app, f"{parts.scheme}://{parts.netloc}{SCIM_PREFIX}", token)

    # -- what Natoma holds ---------------------------------------------------------------------------------------

    def _resources(self, resource_type: str | None = None) -> list[Any]:
        found = [r for r in self.storage.resources
                 if resource_type is None or (r.meta is not None and r.meta.resource_type == resource_type)]
        return sorted(found, key=lambda r: (r.meta.created, r.id))

    def users(self) -> list[dict]:
        """The users Natoma received, as SCIM JSON (userName, externalId, active, roles, ...), oldest first."""
        return [r.model_dump(mode="json") for r in self._resources("User")]

    def groups(self) -> list[dict]:
        return [r.model_dump(mode="json") for r in self._resources("Group")]

    def user(self, user_name: str) -> dict | None:
        """The user whose userName is ``user_name`` (case-insensitive, as SCIM's userName is), or None."""
        for u in self.users():
            if str(u.get("userName", "")).lower() == user_name.lower():
                return u
        return None

    # -- drift: Natoma changed behind Entra's back (tests, `audit` demos) --------------------------------------------

    def put_user(self, user_name: str, roles: list[str], *, active: bool = True) -> dict:
        """Create a user, or replace its roles and state, as an admin would in Natoma's console (over SCIM)."""
        from scim2_models import Role, User

        scim = self.scim_client(self.token)
        user: User = User(user_name=user_name, active=active,
                    roles=[Role(value=r, primary=i == 0, type="WindowsAzureActiveDirectoryRole") for i, r in enumerate(roles)])
        existing = self.user(user_name)
        if existing:
            user.id = existing["id"]
            scim.replace(user)
        else:
            scim.create(user)
        return self.user(user_name) or {}

    def remove_user(self, user_name: str) -> bool:
        """Delete a user (as if Natoma lost it). True when there was one."""
        from scim2_models import User

        found = self.user(user_name)
        if found:
            self.scim_client(self.token).delete(User, found["id"])
        return found is not None

    # -- persistence ------------------------------------------------------------------------------------------

    def dump(self) -> dict:
        """A JSON-serialisable copy of everything the stand-in holds (for the state dict's "natoma" key)."""
        resources = []
        for r in self._resources():
            doc = r.model_dump(mode="json")
            doc.setdefault("meta", {})["resourceType"] = r.meta.resource_type
            resources.append(doc)
        return {"format": _DUMP_FORMAT, "resources": resources}

    def restore(self, data: dict | None) -> None:
        """Replace what the stand-in holds with a :meth:`dump` (ids, dates and versions kept). None empties it."""
        resources = []
        highest = 0
        for doc in (data or {}).get("resources", []):
            resource_type = (doc.get("meta") or {}).get("resourceType") or "User"
            model = self.provider.model_for(resource_type)
            if model is None:
                continue
            resources.append(model.model_validate(doc))
            version = str((doc.get("meta") or {}).get("version") or "")
            digits = "".join(ch for ch in version if ch.isdigit())
            if digits:
                highest = max(highest, int(digits))
        with self.storage.lock:
            self.storage.resources = resources
            self.storage.versions = itertools.count(highest + 1)


def standin_for(tenant: Any) -> NatomaStandIn:
    """The tenant's Natoma stand-in, restored from ``tenant.state["natoma"]``.

    One stand-in object is kept per tenant object (as ``tenant._natoma_standin``), so a loopback server holding its
    ``wsgi_app`` sees what the engine writes; when the tenant's state dict is replaced (reset, reload), the same
    object is restored from the new dict. Call :func:`save_standin` after writing to it.
    """
    state = tenant.state
    standin = getattr(tenant, "_natoma_standin", None)
    if not isinstance(standin, NatomaStandIn):
        standin = NatomaStandIn()
        try:
            tenant._natoma_standin = standin
        except AttributeError:  # an object that takes no new attributes: a fresh stand-in each time
            pass
    data = state.get("natoma")
    if getattr(standin, "_state_ref", None) is not state or getattr(standin, "_data_ref", None) is not data:
        standin.restore(data)
        standin._state_ref, standin._data_ref = state, data
    return standin


def seed_drift(tenant: Any, *, wrong_role: dict[str, str] | None = None, missing: tuple[str, ...] | list[str] = (),
               orphans: dict[str, bool] | None = None) -> None:
    """Make Natoma differ from Entra: ``wrong_role`` {userName: role} replaces a user's roles, ``missing`` deletes
    users, ``orphans`` {userName: active} adds users Entra never assigned. Saved into ``tenant.state``."""
    standin = standin_for(tenant)
    for name, role in (wrong_role or {}).items():
        current = standin.user(name)
        standin.put_user(name, [role], active=current.get("active", True) if current else True)
    for name in missing:
        standin.remove_user(name)
    for name, active in (orphans or {}).items():
        standin.put_user(name, ["member"], active=active)
    save_standin(tenant, standin)


def save_standin(tenant: Any, standin: NatomaStandIn) -> None:
    """Write the stand-in's content back into ``tenant.state["natoma"]``."""
    data = standin.dump()
    tenant.state["natoma"] = data
    standin._state_ref, standin._data_ref = tenant.state, data
