"""The simulated tenant's state: constants, ids, the initial tenant, load/save.

The layout of ``Tenant.state`` is fixed by docs/dev/sandbox-contract.md (Graph JSON shapes, camelCase, JSON
serialisable). Behavioural knobs that are not tenant data (``sp_role_lag``, ``denied_permissions``, the clock) live on
the ``Tenant`` object, not in the state dict.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as _dt
import json
import os
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable

from natoma_entra.errors import NatomaEntraError, UsageError
from natoma_entra.json_copy import copy_json

GRAPH_ROOT = "https://graph.microsoft.com"
ACCESS_TOKEN = "sandbox-access-token"
NATOMA_URL = "https://natoma.sandbox.test/scim/v2"
NATOMA_TOKEN = "sandbox-scim-token"
NON_GALLERY_TEMPLATE_ID = "8adf8e6e-67b2-4cf2-a259-e3dc5476c621"

# Default roles of an app instantiated from the non-gallery template (tests/fixtures/graph-examples/*appRoles*; Graph docs
# concepts/application-proxy-configure-api.md and Entra docs cross-tenant-synchronization-configure-graph.md).
MSIAM_ACCESS_ROLE_ID = "b9632174-c057-4f7e-951b-be3adc52bfe6"
USER_ROLE_ID = "18d14569-c3bd-439b-9a66-3a2aee01d14f"
DEFAULT_ACCESS_ROLE_ID = "00000000-0000-0000-0000-000000000000"

TENANT_DOMAIN = "contoso.onmicrosoft.com"
_NAMESPACE = uuid.UUID("5a4d1c6e-3f0b-4c43-9a53-6e61746f6d61")  # fixed: ids are stable across runs and machines


class StateConflict(NatomaEntraError):
    """Another run saved the sandbox state file since this run loaded it (exit 1: run the command again)."""


class GraphFault(Exception):
    """An error the Graph handler turns into Graph's error body: ``{"error": {"code", "message", "innerError"}}``."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def det_id(*parts: str) -> str:
    """A deterministic GUID from names: ``det_id("user", "Adele Vance")``."""
    return str(uuid.uuid5(_NAMESPACE, "/".join(parts)))


def assignment_id(principal_id: str, resource_id: str, app_role_id: str) -> str:
    """An appRoleAssignment id shaped like Graph's: base64url(principalId bytes_le + 16 more bytes), unpadded.

    (The sample id "-WmtM5na7Uus0D8kI1yylpU9Mdo0Pb9OoBJvd3T5eKc" in Graph docs serviceprincipal-post-approleassignedto.md
    starts with the principal's GUID in little-endian byte order.)"""
    raw = uuid.UUID(principal_id).bytes_le + uuid.UUID(det_id("assignment", principal_id, resource_id, app_role_id)).bytes
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def no_dashes(guid: str) -> str:
    return guid.replace("-", "")


def iso(ts: _dt.datetime) -> str:
    return ts.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def default_app_roles() -> list[dict[str, Any]]:
    return [
        {
            "allowedMemberTypes": ["User"],
            "description": "User",
            "displayName": "User",
            "id": USER_ROLE_ID,
            "isEnabled": True,
            "origin": "Application",
            "value": None,
        },
        {
            "allowedMemberTypes": ["User"],
            "description": "msiam_access",
            "displayName": "msiam_access",
            "id": MSIAM_ACCESS_ROLE_ID,
            "isEnabled": True,
            "origin": "Application",
            "value": None,
        },
    ]


# name, mailNickname, role groups (direct memberships; "All Company" is added for everyone)
_USERS = [
    ("Adele Vance", "AdeleV", "Adele", "Vance", ["Natoma Admins"]),
    ("Alex Wilber", "AlexW", "Alex", "Wilber", ["Natoma App Admins"]),
    ("Megan Bowen", "MeganB", "Megan", "Bowen", ["Natoma Members"]),
    ("Lee Gu", "LeeG", "Lee", "Gu", ["Natoma Admins", "Natoma Members"]),
    ("Diego Siciliani", "DiegoS", "Diego", "Siciliani", []),
    ("Pradeep Gupta", "PradeepG", "Pradeep", "Gupta", ["Natoma Contractors"]),
]
_SECURITY_GROUPS = [
    ("Natoma Admins", "Natoma administrators"),
    ("Natoma App Admins", "Natoma application administrators"),
    ("Natoma Members", "Natoma members"),
    ("Natoma Contractors", "Contractors (nested in Natoma Members)"),
]


def user_id(display_name: str) -> str:
    return det_id("user", display_name)


def group_id(display_name: str) -> str:
    return det_id("group", display_name)


class Tenant:
    """The simulated tenant: ``state`` (the contract's dict) plus behaviour knobs.

    - ``sp_role_lag``: seconds on ``clock`` before roles PATCHed onto an application show on its SP (0: at once).
      Graph copies the roles asynchronously (approleassignment.md).
    - ``denied_permissions``: Graph permission names (e.g. ``"AppRoleAssignment.ReadWrite.All"``) the caller lacks;
      a route needing one answers 403 Authorization_RequestDenied.
    - ``variants``: names from sandbox/options.py ``VARIANTS``, the open Graph behaviours this tenant plays.
    - ``replication_seconds``: seconds on ``clock`` a new job, schema, assignment or SP stays unreadable.
    - ``clock``: seconds, monotonic (rate limits, replication). ``now``: wall-clock datetime (timestamps in objects).
    """

    def __init__(
        self,
        state: dict[str, Any],
        *,
        sp_role_lag: float = 0,
        denied_permissions: set[str] | frozenset[str] | None = None,
        clock: Callable[[], float] | None = None,
        now: Callable[[], _dt.datetime] | None = None,
        variants: frozenset[str] | set[str] | None = None,
        replication_seconds: float = 0.0,
    ):
        self.state = state
        self.sp_role_lag = sp_role_lag
        self.denied_permissions: set[str] = set(denied_permissions or ())
        self.variants: frozenset[str] = frozenset(variants or ())
        self.replication_seconds = float(replication_seconds or 0.0)
        self.clock = clock or time.monotonic
        self.now = now or (lambda: _dt.datetime.now(_dt.timezone.utc))
        self.cycle_seconds_per_user = 0.0  # how long a simulated cycle spends per user (SandboxOptions)
        self._base_generation: int | None = None  # the file's generation this tenant was loaded at (see save)
        # the state as loaded (the file's JSON text, its generation aside): an unchanged tenant is not written. Kept
        # as text and compared only at a save, so a load (every run, every test that looks) serialises nothing.
        self._loaded: str | None = None
        for key, empty in _EMPTY_STATE.items():
            state.setdefault(key, copy_json(empty))
        state.pop("generation", None)  # the state file's write counter (see save), not tenant data

    # construction ----------------------------------------------------------------------------------------------
    @classmethod
    def from_state(cls, state: dict[str, Any], **options: Any) -> "Tenant":
        return cls(state, **options)

    # the state file ---------------------------------------------------------------------------------------------
    # Readers never wait: a file is only ever replaced whole (a temp file in the same directory, then rename), so a
    # reader sees the old or the new state, never half of one. Writers serialise on an exclusive lock (flock on a
    # sidecar "<file>.lock" in the same directory), and each save bumps a generation number kept in the file.
    #
    # A writer run holds the lock from load to save (`Tenant.locked`): a second `setup` started meanwhile waits,
    # then loads what the first one wrote and finds nothing left to do, so two setups at once converge instead of
    # one failing. The generation is the safety net for writers that did not hold the lock throughout (a plain
    # load ... save): their save refuses when another run saved in between, rather than overwrite its change.

    @classmethod
    def load(cls, path: str | os.PathLike[str], **options: Any) -> "Tenant":
        """The tenant in a state file; UsageError (exit 2, fix `natoma-entra sandbox reset`) when the file is
        unreadable, empty, not JSON or not shaped like a tenant."""
        path = state_path(path)
        state, text = _read_state(path)
        generation = _generation_of(state)
        tenant = cls(state, **options)
        tenant._base_generation = generation
        tenant._loaded = text
        return tenant

    def reload(self, path: str | os.PathLike[str]) -> None:
        """Take the file's current state (and generation) in place of this tenant's: a long-lived holder (`sandbox
        serve`) picks up what another run saved before it writes again."""
        fresh = type(self).load(path)
        self.state = fresh.state
        self._base_generation = fresh._base_generation
        self._loaded = fresh._loaded

    @classmethod
    def open(cls, path: str | os.PathLike[str], **options: Any) -> "Tenant":
        """The tenant a run works on: loaded from `path`, or the initial tenant when there is no file yet. Checked
        before the run starts: a path that is a directory, or whose directory cannot be created, is a UsageError."""
        path = state_path(path)
        check_state_path(path)
        if path.is_file():
            return cls.load(path, **options)
        tenant = cls.initial(**options)
        tenant._base_generation = 0  # "no file yet": a file another run creates meanwhile is not overwritten
        return tenant

    @classmethod
    @contextlib.contextmanager
    def locked(cls, path: str | os.PathLike[str], **options: Any):
        """``with Tenant.locked(path) as tenant: ...; tenant.save(path)`` for a writer run: the exclusive lock is held
        from the load to the end of the block, so no other writer (a second run, `sandbox serve`) interleaves.
        The caller saves (or not: a dry run never does) inside the block."""
        with state_lock(path):
            yield cls.open(path, **options)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the state as JSON atomically (a temp file in the same directory, mode 0600, then rename), under the
        lock. Refuses (StateConflict) when the file's generation moved since this tenant was loaded: another run
        saved in between, and writing now would throw its change away. A tenant built in memory (``initial()``,
        ``from_state``) has no base and replaces whatever is there (`sandbox reset`). A loaded tenant that did not
        change is not written at all."""
        target = state_path(path)
        if self._unchanged():
            return  # nothing changed since the load: a read-only run leaves the file (and its generation) alone
        check_state_path(target)
        with state_lock(target):
            current = _generation_on_disk(target)
            base = getattr(self, "_base_generation", None)
            if base is not None and current != base:
                raise StateConflict(
                    f"the sandbox state file {target} was changed by another run while this one ran "
                    f"(generation {current}, this run started from {base}); nothing of this run was saved there",
                    fix="run the command again (it reads the current state and continues)")
            _write_atomically(target, {**self.state, "generation": current + 1})
            self._base_generation = current + 1
            self._loaded = json.dumps(self.state)

    def _unchanged(self) -> bool:
        """Is the state what was loaded (or last saved)? Compared as canonical JSON, the generation aside."""
        if self._loaded is None:
            return False
        loaded = json.loads(self._loaded)
        loaded.pop("generation", None)
        for key, empty in _EMPTY_STATE.items():  # as the constructor completes a loaded state
            loaded.setdefault(key, copy_json(empty))
        return _canonical(loaded) == _canonical(self.state)

    @classmethod
    def initial(cls, *, empty: bool = False, **options: Any) -> "Tenant":
        """The tenant a newcomer starts with (docs/sandbox.md). ``empty``: a bare tenant, as a pipeline that
        bootstraps one finds it: the same users and "All Company", but no Natoma app and no role groups."""
        tenant_id = det_id("tenant", TENANT_DOMAIN)
        state: dict[str, Any] = copy_json(_EMPTY_STATE)
        state["tenantId"] = tenant_id
        state["domain"] = TENANT_DOMAIN
        state["applicationTemplates"][NON_GALLERY_TEMPLATE_ID] = {
            "id": NON_GALLERY_TEMPLATE_ID,
            "displayName": "Non-gallery application",
            "description": "Integrate any other application that you don't find in the gallery (Non-gallery)",
            "homePageUrl": None,
            "logoUrl": None,
            "publisher": "Microsoft Corporation",
            "categories": [],
            "supportedProvisioningTypes": ["sync"],
            "supportedSingleSignOnModes": ["password", "saml", "notSupported"],
        }
        tenant = cls(state, **options)
        if not empty:
            tenant.instantiate(NON_GALLERY_TEMPLATE_ID, "Natoma", created="2024-01-15T09:00:00Z")

        for name, description in ([] if empty else _SECURITY_GROUPS):
            gid = group_id(name)
            state["groups"][gid] = {
                "id": gid,
                "displayName": name,
                "description": description,
                "securityEnabled": True,
                "mailEnabled": False,
                "mailNickname": name.replace(" ", ""),
                "mail": None,
                "groupTypes": [],
            }
            state["members"][gid] = []
        all_company = group_id("All Company")
        state["groups"][all_company] = {
            "id": all_company,
            "displayName": "All Company",
            "description": "This is the default group for everyone in the network",
            "securityEnabled": False,
            "mailEnabled": True,
            "mailNickname": "allcompany",
            "mail": f"allcompany@{TENANT_DOMAIN}",
            "groupTypes": ["Unified"],
        }
        state["members"][all_company] = []
        for display, nick, given, surname, groups in _USERS:
            uid = user_id(display)
            state["users"][uid] = {
                "id": uid,
                "displayName": display,
                "userPrincipalName": f"{nick}@{TENANT_DOMAIN}",
                "mail": f"{nick}@{TENANT_DOMAIN}",
                "mailNickname": nick,
                "givenName": given,
                "surname": surname,
                "accountEnabled": True,
            }
            for g in ([] if empty else groups):
                state["members"][group_id(g)].append(uid)
            state["members"][all_company].append(uid)
        if not empty:
            state["members"][group_id("Natoma Members")].append(group_id("Natoma Contractors"))
        return tenant

    # helpers used by the handler and the engine ---------------------------------------------------------------
    def timestamp(self) -> str:
        return iso(self.now())

    def instantiate(self, template_id: str, display_name: str, *, created: str | None = None) -> tuple[dict, dict]:
        """Create an application + service principal from an application template (both get the default roles)."""
        st = self.state
        n = sum(1 for a in st["applications"].values() if a.get("displayName") == display_name)
        key = display_name if n == 0 else f"{display_name}#{n}"
        while det_id("app", key) in st["applications"]:  # an app of that name was deleted in between
            n += 1
            key = f"{display_name}#{n}"
        app_obj_id, app_id, sp_id = det_id("app", key), det_id("appId", key), det_id("sp", key)
        # Graph gives an application's creation time to a fraction of a second (application-upsert.md's example):
        # two creates never share one, even on a simulated clock that has not moved between them
        created = created or self._creation_time()
        app = {
            "id": app_obj_id,
            "appId": app_id,
            "displayName": display_name,
            "createdDateTime": created,
            "deletedDateTime": None,
            "description": None,
            "notes": None,
            "signInAudience": "AzureADMyOrg",
            "publisherDomain": st["domain"],
            "identifierUris": [],
            "tags": [],
            "groupMembershipClaims": None,
            "appRoles": default_app_roles(),
            "web": {"homePageUrl": None, "logoutUrl": None, "redirectUris": []},
        }
        sp = {
            "id": sp_id,
            "appId": app_id,
            "displayName": display_name,
            "appDisplayName": display_name,
            "accountEnabled": True,
            "appOwnerOrganizationId": st["tenantId"],
            "appRoleAssignmentRequired": True,
            "applicationTemplateId": template_id,
            "deletedDateTime": None,
            "description": None,
            "notes": None,
            "preferredSingleSignOnMode": None,
            "servicePrincipalNames": [app_id],
            "servicePrincipalType": "Application",
            "signInAudience": "AzureADMyOrg",
            "tags": ["WindowsAzureActiveDirectoryIntegratedApp"],
            "appRoles": default_app_roles(),
        }
        st["applications"][app_obj_id] = app
        st["servicePrincipals"][sp_id] = sp
        return app, sp

    def _creation_time(self) -> str:
        now = self.now().astimezone(_dt.timezone.utc)
        for app in self.state["applications"].values():
            try:
                then = _dt.datetime.fromisoformat(str(app.get("createdDateTime") or ""))
            except ValueError:
                continue
            if then.tzinfo is not None and then >= now:
                now = then + _dt.timedelta(microseconds=1)
        return now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def sp_for_app(self, app: dict) -> dict | None:
        for sp in self.state["servicePrincipals"].values():
            if sp.get("appId") == app.get("appId"):
                return sp
        return None

    def queue_sp_roles(self, sp_id: str, app_roles: list[dict]) -> None:
        """Mirror an application's roles onto its SP (origin "Application"), now or ``sp_role_lag`` seconds later."""
        roles = [dict(r, origin="Application") for r in copy_json(app_roles)]
        if self.sp_role_lag <= 0:
            self.state["servicePrincipals"][sp_id]["appRoles"] = roles
            self.state["spRolesPending"].pop(sp_id, None)
            return
        now = self.clock()
        self.state["spRolesPending"].setdefault(sp_id, []).append(
            {"appRoles": roles, "queuedAt": now, "visibleAt": now + float(self.sp_role_lag)})

    def sp_read(self, sp_id: str) -> None:
        """Before an SP is read: apply the pending role copies that are due by the clock."""
        pending = self.state["spRolesPending"].get(sp_id)
        if not pending:
            return
        now = self.clock()

        def is_due(p: dict) -> bool:  # a clock that went backwards (a state file from before a reboot) ends the wait
            return p.get("visibleAt", 0) <= now or now < p.get("queuedAt", now)

        due = [p for p in pending if is_due(p)]
        if due:
            self.state["servicePrincipals"][sp_id]["appRoles"] = due[-1]["appRoles"]
        rest = [p for p in pending if not is_due(p)]
        if rest:
            self.state["spRolesPending"][sp_id] = rest
        else:
            self.state["spRolesPending"].pop(sp_id, None)

    # replication (the slow-replication variant, replication_seconds) --------------------------------------------
    def replication_delay(self) -> float:
        if self.replication_seconds > 0:
            return self.replication_seconds
        if "slow-replication" in self.variants:
            from .options import DEFAULT_REPLICATION_SECONDS

            return DEFAULT_REPLICATION_SECONDS
        return 0.0

    def created(self, kind: str, object_id: str) -> None:
        """Note a new object (kind: job, schema, assignment, servicePrincipal,
        group; an application replicates with its service principal): unreadable for the replication delay."""
        delay = self.replication_delay()
        if delay > 0:
            self.state["replicating"][f"{kind}:{object_id}"] = {"at": self.clock(), "for": delay}

    def replicating(self, kind: str, object_id: str, part: float = 1.0) -> bool:
        """Is this object still replicating? ``part`` < 1 asks about the first part of the window only: a new job is
        readable (GET) after half the delay while calls acting on it still fail until the end, as replicas catch up
        one by one."""
        key = f"{kind}:{object_id}"
        entry = self.state["replicating"].get(key)
        if entry is None:
            return False
        now = self.clock()
        if now >= entry["at"] + entry["for"] or now < entry["at"]:  # done, or the clock went backwards
            del self.state["replicating"][key]
            return False
        return now < entry["at"] + entry["for"] * part

    def find_sp(self, display_name: str = "Natoma") -> dict:
        for sp in self.state["servicePrincipals"].values():
            if sp["displayName"] == display_name:
                return sp
        raise KeyError(display_name)

    def find_app(self, display_name: str = "Natoma") -> dict:
        for app in self.state["applications"].values():
            if app["displayName"] == display_name:
                return app
        raise KeyError(display_name)

    def direct_groups_of(self, object_id: str) -> list[str]:
        return [gid for gid, members in self.state["members"].items() if object_id in members]


_EMPTY_STATE: dict[str, Any] = {
    "tenantId": None,
    "domain": TENANT_DOMAIN,
    "applications": {},
    "servicePrincipals": {},
    "spRolesPending": {},
    "replicating": {},
    "users": {},
    "groups": {},
    "members": {},
    "appRoleAssignments": {},
    "applicationTemplates": {},
    "jobs": {},
    "schemas": {},
    "secrets": {},
    "provisioningLogs": [],
    "natoma": {},
}


# -- the state file: path checks, lock, atomic write (see Tenant.load/save) --------------------------------------------

MAX_STATE_BYTES = 64 * 1024 * 1024
RESET_FIX = "run `natoma-entra sandbox reset` to start the sandbox afresh (or point --sandbox-state at another file)"
_held = threading.local()  # the locks this thread holds: path -> depth (flock is per open file, not re-entrant)


def state_path(path: str | os.PathLike[str]) -> Path:
    """The path as the user meant it: `~` expanded (NATOMA_ENTRA_SANDBOX_STATE=~/x is not a directory named '~')."""
    return Path(os.path.expanduser(os.fspath(path)))


def check_state_path(path: Path) -> None:
    """Before any run writes: the path is not a directory, and its directory exists or can be created and written."""
    if path.is_dir():
        raise UsageError(f"the sandbox state path {path} is a directory",
                         fix="point --sandbox-state (or NATOMA_ENTRA_SANDBOX_STATE) at a file in it, e.g. "
                             f"{path / 'sandbox.json'}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"cannot create the directory of the sandbox state file {path}: {e.strerror or e}",
                         fix="point --sandbox-state (or NATOMA_ENTRA_SANDBOX_STATE) at a writable place") from None
    if not os.access(path.parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.R_OK)):
        raise UsageError(f"the sandbox state file {path} cannot be written here (permissions)",
                         fix="point --sandbox-state (or NATOMA_ENTRA_SANDBOX_STATE) at a writable place")


def _read_state(path: Path) -> tuple[dict[str, Any], str]:
    """The state in the file, and its JSON text."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_STATE_BYTES + 1)
    except IsADirectoryError:
        raise UsageError(f"the sandbox state path {path} is a directory",
                         fix="point --sandbox-state (or NATOMA_ENTRA_SANDBOX_STATE) at a file") from None
    except OSError as e:
        raise UsageError(f"cannot read the sandbox state file {path}: {e.strerror or e}", fix=RESET_FIX) from None
    if len(data) > MAX_STATE_BYTES:
        raise UsageError(f"the sandbox state file {path} is larger than 64 MiB", fix=RESET_FIX)
    if not data.strip():
        raise UsageError(f"the sandbox state file {path} is empty", fix=RESET_FIX)
    try:
        text = data.decode("utf-8")
        state = json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise UsageError(f"the sandbox state file {path} is not valid JSON (damaged?)", fix=RESET_FIX) from None
    problem = _shape_problem(state)
    if problem:
        raise UsageError(f"the sandbox state file {path} is not a sandbox tenant: {problem}", fix=RESET_FIX)
    return state, text


def _shape_problem(state: Any) -> str | None:
    if not isinstance(state, dict):
        return f"it holds a JSON {type(state).__name__}, not an object"
    for key, empty in _EMPTY_STATE.items():
        if empty is not None and key in state and state[key] is not None and not isinstance(state[key], type(empty)):
            return f"{key!r} is a {type(state[key]).__name__}, not a {type(empty).__name__}"
    for key in ("applications", "servicePrincipals", "users", "groups"):
        if not all(isinstance(v, dict) for v in (state.get(key) or {}).values()):
            return f"an entry of {key!r} is not an object"
    if not isinstance(state.get("generation", 0), int):
        return "'generation' is not a number"
    return None


def _canonical(state: dict[str, Any]) -> str:
    return json.dumps(state, sort_keys=True)


def _generation_of(state: dict[str, Any]) -> int:
    g = state.get("generation", 0)
    return g if isinstance(g, int) else 0


def _generation_on_disk(path: Path) -> int:
    """The generation of the file now (0 when there is none, or it predates generations or is unreadable: a damaged
    file is replaced only by a tenant built in memory, e.g. `sandbox reset`)."""
    try:
        with open(path, "rb") as f:
            return _generation_of(json.loads(f.read(MAX_STATE_BYTES + 1)) or {})
    except FileNotFoundError:
        return 0
    except (OSError, ValueError, AttributeError, RecursionError):
        return -1  # differs from every base: a loaded tenant never silently overwrites a file it cannot read


@contextlib.contextmanager
def state_lock(path: str | os.PathLike[str]):
    """The exclusive writer lock of a state file: "<file>.lock" beside it, locked through filelock (flock on POSIX,
    msvcrt's lock on Windows: the sandbox works on macOS and Windows too). Re-entrant within a thread (Tenant.locked
    holds it; save takes it again). Readers never take it."""
    target = state_path(path)
    key = str(target.resolve(strict=False))
    held: dict[str, int] = getattr(_held, "paths", None) or {}
    _held.paths = held
    if held.get(key):
        held[key] += 1
        try:
            yield
        finally:
            held[key] -= 1
        return
    from filelock import FileLock

    target.parent.mkdir(parents=True, exist_ok=True)
    # a lock object of its own (its own file handle): another thread of this process waits for it as another process
    # does (the tests' concurrent runs are threads); re-entrancy is the `held` count above
    lock = FileLock(target.parent / (target.name + ".lock"), mode=0o600)
    with lock:
        held[key] = 1
        try:
            yield
        finally:
            held.pop(key, None)


def _write_atomically(target: Path, state: dict[str, Any]) -> None:
    """A temp file in the same directory (same file system: the rename is atomic), 0600, then renamed. Not fsynced:
    a reader never sees half a file; a power cut may cost the last save, and a damaged file says `sandbox reset`."""
    fd, tmp = tempfile.mkstemp(prefix=target.name + ".", suffix=".tmp", dir=target.parent)  # mkstemp: mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            # no indent: json's C encoder (indent falls back to the pure-Python one, 5-10x slower at a few MB)
            f.write(json.dumps(state, sort_keys=True, separators=(",", ":")))
            f.write("\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
