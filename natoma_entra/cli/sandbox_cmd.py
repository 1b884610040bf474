"""`natoma-entra sandbox reset|show|serve`: the built-in simulated tenant (docs/sandbox.md)."""
from __future__ import annotations

from typing import List, Optional

import typer

from .main import app
from .help_format import HELP_SETTINGS, NatomaGroup

sandbox_app = typer.Typer(help="The built-in simulated tenant: reset it, show it, or serve it on loopback.",
                          no_args_is_help=True, rich_markup_mode=None, context_settings=HELP_SETTINGS, cls=NatomaGroup)
app.add_typer(sandbox_app, name="sandbox")


def _path(ctx: typer.Context):
    """The sandbox's state file (--sandbox-state, NATOMA_ENTRA_SANDBOX_STATE, else the user's state directory)."""
    from ..sandbox.backend import SandboxBackend

    g = ctx.obj
    backend = g.backend if isinstance(g.backend, SandboxBackend) else SandboxBackend()
    return backend.with_flags(state=g.sandbox_state, variants=frozenset()).state_path()


@sandbox_app.command("reset")
def reset(ctx: typer.Context,
          empty: bool = typer.Option(False, "--empty", help="A bare tenant: users, but no Natoma app and no role groups (for `setup --create-app --create-groups`).")):
    """Start the sandbox tenant afresh: the Natoma app with no Natoma roles, no assignments, no job.

    Example: natoma-entra sandbox reset
    Example: natoma-entra sandbox reset --empty
    """
    from ..sandbox.state import Tenant

    path = _path(ctx)
    what = "a bare sandbox (no Natoma app, no role groups)" if empty else "the sandbox"
    if ctx.obj.dry_run:
        ctx.obj.say(f"dry run: would reset {what} in {path}; nothing was written", style="cyan")
        return
    Tenant.initial(empty=empty).save(path)
    ctx.obj.say(f"sandbox reset{' (empty)' if empty else ''}: {path}", style="green")


def snapshot(tenant) -> dict:
    """What the sandbox tenant holds, and what Natoma received, as plain data (never a secret value)."""
    from ..sandbox.natoma import standin_for

    st = tenant.state
    try:
        sp = tenant.find_sp("Natoma")
        app_obj = tenant.find_app("Natoma")
    except KeyError:  # a bare tenant (sandbox reset --empty), or after teardown --delete-app
        return {"app": None, "roles": [], "assignments": [], "job": None, "credentials": {},
                "natoma_users": [{"userName": u.get("userName"), "active": u.get("active"),
                                  "roles": [r.get("value") for r in u.get("roles") or []]}
                                 for u in standin_for(tenant).users()],
                "provisioning_logs": len(st.get("provisioningLogs") or [])}
    role_names = {r["id"]: r.get("value") or r.get("displayName") for r in sp.get("appRoles") or []}
    jobs = list((st.get("jobs") or {}).get(sp["id"], {}).values())
    secrets = st.get("secrets", {}).get(sp["id"], [])
    natoma_users = [{"userName": u.get("userName"), "active": u.get("active"),
                     "roles": [r.get("value") for r in u.get("roles") or []]}
                    for u in standin_for(tenant).users()]
    mode = _mapping_mode(st, jobs)
    directory = _directory(st, sp, role_names, mode, natoma_users)
    return {
        "app": {"displayName": sp["displayName"], "appId": sp["appId"]},
        "roles": [{"displayName": r.get("displayName"), "value": r.get("value"), "isEnabled": r.get("isEnabled")}
                  for r in app_obj.get("appRoles") or []],
        "assignments": sorted(({"principal": a.get("principalDisplayName"), "type": a.get("principalType"),
                                "role": role_names.get(a["appRoleId"], a["appRoleId"])}
                               for a in st["appRoleAssignments"].values() if a["resourceId"] == sp["id"]),
                              key=lambda a: (a["principal"] or "", a["role"] or "")),
        "job": ({"id": jobs[0]["id"], "status": (jobs[0].get("status") or {}).get("code"),
                 "schedule": (jobs[0].get("schedule") or {}).get("state")} if jobs else None),
        "mapping": mode,
        "credentials": {s["key"]: (s["value"] if s["key"] in ("BaseAddress", "SyncAll") else "***")
                        for s in secrets},
        **directory,
        "natoma_users": natoma_users,
        "provisioning_logs": len(st.get("provisioningLogs") or []),
    }


def _mapping_mode(st: dict, jobs: list) -> str | None:
    """'single-role' or 'multi-role' from the job's schema; None without a job (setup maps single-role)."""
    if not jobs:
        return None
    from ..doctor.checks import mapping_mode

    return mapping_mode((st.get("schemas") or {}).get(jobs[0]["id"])) or "single-role"


def _directory(st: dict, sp: dict, role_names: dict, mode: str | None, natoma_users: list[dict]) -> dict:
    """The tenant's users (UPN, direct groups, the role Entra will send, what Natoma holds) and groups (members,
    the roles they are assigned on the app). Entra follows direct membership only: a user only in a group nested in an
    assigned group is skipped; under single-role mapping a user with two roles fails (MultipleGrantsNotSupported)."""
    users, groups, members = st.get("users") or {}, st.get("groups") or {}, st.get("members") or {}
    granted: dict[str, list[str | None]] = {}  # principal id -> role values (None: an assignment without a role)
    for a in st["appRoleAssignments"].values():
        if a["resourceId"] == sp["id"]:
            granted.setdefault(a["principalId"], []).append(role_names.get(a["appRoleId"]))
    direct_groups: dict[str, list[str]] = {}
    for gid, ids in members.items():
        for mid in ids:
            direct_groups.setdefault(mid, []).append(gid)
    natoma = {(u["userName"] or "").lower(): u for u in natoma_users}

    def name(pid: str) -> str:
        obj = users.get(pid) or groups.get(pid) or {}
        return obj.get("userPrincipalName") or obj.get("displayName") or pid

    def will_send(uid: str) -> str:
        roles = list(granted.get(uid, []))
        for gid in direct_groups.get(uid, []):
            roles += granted.get(gid, [])
        values = sorted({r for r in roles if r}, key=str.lower)
        if not roles:
            nested = [g for g in direct_groups.get(uid, []) if any(p in granted for p in direct_groups.get(g, []))]
            return ("skipped: only in a nested group (" + ", ".join(name(g) for g in nested) + ")") if nested else "-"
        if not values:
            return "(no role: assigned without a Natoma role)"
        if mode == "multi-role":
            return ", ".join(values)
        if len(values) > 1:
            return f"will fail: MultipleGrantsNotSupported ({', '.join(values)})"
        return values[0]

    user_rows = []
    for uid, u in sorted(users.items(), key=lambda kv: (kv[1].get("userPrincipalName") or "").lower()):
        upn = u.get("userPrincipalName")
        held = natoma.get((upn or "").lower())
        user_rows.append({"userPrincipalName": upn, "displayName": u.get("displayName"), "id": uid,
                          "groups": sorted(name(g) for g in direct_groups.get(uid, [])),
                          "entraWillSend": will_send(uid),
                          "natoma": ({"active": held["active"], "roles": held["roles"]} if held else None)})
    group_rows = [{"displayName": g.get("displayName"), "id": gid,
                   "members": [name(m) + (" (group)" if m in groups else "") for m in members.get(gid, [])],
                   "roles": sorted({r or "(no role)" for r in granted.get(gid, [])})}
                  for gid, g in sorted(groups.items(), key=lambda kv: (kv[1].get("displayName") or "").lower())]
    return {"users": user_rows, "groups": group_rows}


@sandbox_app.command("show")
def show(ctx: typer.Context):
    """Show what the sandbox tenant holds and what Natoma received.

    The app's roles and assignments, the job, the credentials (the token masked), the tenant's users (UPN, direct
    groups, the role Entra will send, the roles Natoma holds) and groups (members, the role assigned on the app).
    Use a UPN from it with `provision`. Lee Gu is in both Natoma Admins and Natoma Members on purpose: under the
    single-role mapping his provisioning fails with MultipleGrantsNotSupported, as the guide describes.

    Example: natoma-entra sandbox show --output json
    """
    from .. import inert
    from ..sandbox.state import Tenant

    path = _path(ctx)
    tenant = Tenant.load(path) if path.is_file() else Tenant.initial()
    snap = snapshot(tenant)
    if ctx.obj.output.value == "json":
        typer.echo(inert.dumps(snap, indent=2))
        return
    from ..render.console import table

    console = ctx.obj.out

    def line(text: str) -> None:
        console.print(inert.text(text), soft_wrap=True)

    def rows(t, *values) -> None:  # a value the tenant does not have reads "-", never Python's None
        t.add_row(*(inert.cell("-" if v is None else ("yes" if v else "no") if isinstance(v, bool) else v)
                    for v in values))

    line(f"sandbox: {path}")
    line(f"app: {snap['app']['displayName']} (appId {snap['app']['appId']})" if snap["app"] else
         "app: none (create it with `natoma-entra --sandbox app create Natoma`)")
    t = table("role", "value", "enabled", title="App roles")
    for r in snap["roles"]:
        rows(t, r["displayName"], r["value"], r["isEnabled"])
    console.print(t)
    t = table("principal", "type", "role", title="Assignments")
    for a in snap["assignments"]:
        rows(t, a["principal"], a["type"], a["role"])
    console.print(t)
    job = snap["job"]
    line(f"job: {job['id']} status {job['status'] or '-'}, schedule {job['schedule'] or '-'}, mapping "
         f"{snap['mapping'] or 'none'}" if job else "job: none (setup creates it; the mapping will be single-role)")
    line("credentials: " + (", ".join(f"{k}={'-' if v is None else v}" for k, v in snap["credentials"].items())
                            or "none"))
    t = table("user (UPN)", "groups", "Entra will send", "Natoma holds", title="Users in Entra", ids=("user (UPN)",))
    for u in snap["users"]:
        held = u["natoma"]
        natoma = "-" if held is None else ((", ".join(map(str, held["roles"])) or "(no role)")
                                            + ("" if held["active"] else " (inactive)"))
        rows(t, u["userPrincipalName"], ", ".join(u["groups"]) or "-", u["entraWillSend"], natoma)
    console.print(t)
    t = table("group", "members", "role on the app", title="Groups in Entra")
    for g in snap["groups"]:
        rows(t, g["displayName"], _some(g["members"]), ", ".join(g["roles"]) or "-")
    console.print(t)
    t = table("userName", "active", "roles", title="Users in Natoma (SCIM stand-in)", ids=("userName",))
    for u in snap["natoma_users"]:
        rows(t, u["userName"], u["active"], ", ".join(map(str, u["roles"])))
    console.print(t)


def _some(names: list[str], shown: int = 10) -> str:
    """A group's members in one cell: the first `shown` (by name, 2 before 10), then how many more."""
    from ..listing import natural_sorted

    if not names:
        return "-"
    ordered = natural_sorted(names)
    rest = f" and {len(names) - shown:,} more (-o json for all)" if len(names) > shown else ""
    return ", ".join(ordered[:shown]) + rest


@sandbox_app.command("serve")
def serve_command(
    ctx: typer.Context,
    port: int = typer.Option(8080, "--port", "-p", metavar="PORT", help="Loopback port."),
    host: str = typer.Option("127.0.0.1", "--host", metavar="HOST", help="Loopback address only (127.0.0.1, ::1, localhost)."),
    variant: Optional[List[str]] = typer.Option(None, "--variant", metavar="NAME", help="Play a Graph behaviour the docs leave open (repeatable; 'all' for every one). See natoma-entra docs graph-assumptions."),
):
    """Serve the sandbox on loopback: Graph at /v1.0, Natoma's SCIM stand-in at /scim/v2.

    Use it to rehearse a pipeline: in another shell, run the real thing against it.

    Example: NATOMA_ENTRA_ACCESS_TOKEN=sandbox-access-token NATOMA_SCIM_TOKEN=sandbox-scim-token \\
      natoma-entra --auth access-token --graph-endpoint http://127.0.0.1:8080/v1.0 --app Natoma \\
      setup --scim-url http://127.0.0.1:8080/scim/v2 --group admin="Natoma Admins" \\
      --group AppAdmin="Natoma App Admins" --group member="Natoma Members"

    A `sandbox reset` or a `--sandbox` run on the same state file while it serves is picked up, not overwritten.

    Example: natoma-entra sandbox serve --port 8080 --variant templates-unlisted
    """
    from ..errors import UsageError
    from ..sandbox.options import VARIANTS, SandboxOptions, UnknownVariant, parse_variants
    from ..sandbox.serve import is_loopback, serve
    from ..sandbox.state import ACCESS_TOKEN, NATOMA_TOKEN
    from ..sandbox.tokens import access_token

    if not is_loopback(host):
        raise UsageError(f"--host {host} is not a loopback address", fix="use 127.0.0.1, ::1 or localhost")
    try:
        variants = parse_variants(variant) if variant else ctx.obj.sandbox_variants
    except UnknownVariant as e:
        raise UsageError(f"unknown sandbox variant {', '.join(e.names)}",
                         fix=f"use one of: {', '.join(sorted(VARIANTS))} (or all)") from None

    options = SandboxOptions(variants=variants)
    token = access_token(options)  # JWT-shaped, with the permissions the sandbox grants (the preflight reads them)

    def ready(server):
        base = f"http://{host}:{server.server_address[1]}"
        ctx.obj.say(f"Graph:  {base}/v1.0   (bearer token: {token})", style="green")
        ctx.obj.say(f"        (or {ACCESS_TOKEN}: accepted too, but without claims the preflight cannot read)")
        ctx.obj.say(f"Natoma: {base}/scim/v2 (SCIM token: {NATOMA_TOKEN})", style="green")
        ctx.obj.say(f"state:  {_path(ctx)}  (Ctrl-C to stop)")
        if variants:
            ctx.obj.say(f"variants: {', '.join(sorted(variants))}")

    serve(_path(ctx), host=host, port=port, ready=ready, options=options)
