"""`natoma-entra sandbox reset|show|serve`: the built-in simulated tenant (design.md section 5)."""
from __future__ import annotations

from typing import List, Optional

import typer

from .main import app

sandbox_app = typer.Typer(help="The built-in simulated tenant: reset it, show it, or serve it on loopback.",
                          no_args_is_help=True)
app.add_typer(sandbox_app, name="sandbox")


def _path(ctx: typer.Context):

    return ctx.obj.sandbox_state_path()


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
        "credentials": {s["key"]: (s["value"] if s["key"] in ("BaseAddress", "SyncAll") else "***")
                        for s in secrets},
        "natoma_users": [{"userName": u.get("userName"), "active": u.get("active"),
                          "roles": [r.get("value") for r in u.get("roles") or []]}
                         for u in standin_for(tenant).users()],
        "provisioning_logs": len(st.get("provisioningLogs") or []),
    }


@sandbox_app.command("show")
def show(ctx: typer.Context):
    """Show what the sandbox tenant holds (roles, assignments, job, credentials) and what Natoma received.

    Example: natoma-entra sandbox show --output json
    """
    import json

    from ..redact import redact
    from ..sandbox.state import Tenant

    path = _path(ctx)
    tenant = Tenant.load(path) if path.is_file() else Tenant.initial()
    snap = snapshot(tenant)
    if ctx.obj.output.value == "json":
        typer.echo(redact(json.dumps(snap, indent=2)))
        return
    from rich.table import Table

    console = ctx.obj.out
    console.print(f"sandbox: {path}")
    console.print(f"app: {snap['app']['displayName']} (appId {snap['app']['appId']})" if snap["app"] else
                  "app: none (create it with `natoma-entra --sandbox app create Natoma`)")
    t = Table("role", "value", "enabled", title="App roles")
    for r in snap["roles"]:
        t.add_row(str(r["displayName"]), str(r["value"]), str(r["isEnabled"]))
    console.print(t)
    t = Table("principal", "type", "role", title="Assignments")
    for a in snap["assignments"]:
        t.add_row(str(a["principal"]), str(a["type"]), str(a["role"]))
    console.print(t)
    job = snap["job"]
    console.print(f"job: {job['id']} status {job['status']}, schedule {job['schedule']}" if job else "job: none")
    console.print("credentials: " + (", ".join(f"{k}={v}" for k, v in snap["credentials"].items()) or "none"))
    t = Table("userName", "active", "roles", title="Users in Natoma (SCIM stand-in)")
    for u in snap["natoma_users"]:
        t.add_row(str(u["userName"]), str(u["active"]), ", ".join(map(str, u["roles"])))
    console.print(t)


@sandbox_app.command("serve")
def serve_command(
    ctx: typer.Context,
    port: int = typer.Option(8080, "--port", "-p", help="Loopback port."),
    host: str = typer.Option("127.0.0.1", "--host", help="Loopback address only (127.0.0.1, ::1, localhost)."),
    variant: Optional[List[str]] = typer.Option(None, "--variant", metavar="NAME", help="Play a Graph behaviour the docs leave open (repeatable; 'all' for every one). See docs/graph-assumptions.md."),
):
    """Serve the sandbox on loopback: Graph at /v1.0, Natoma's SCIM stand-in at /scim/v2.

    Use it to rehearse a pipeline (in another shell):
    NATOMA_ENTRA_ACCESS_TOKEN=sandbox-access-token NATOMA_SCIM_TOKEN=sandbox-scim-token natoma-entra --auth access-token
    --graph-endpoint http://127.0.0.1:8080/v1.0 --app Natoma setup --scim-url http://127.0.0.1:8080/scim/v2
    --group admin="Natoma Admins" --group AppAdmin="Natoma App Admins" --group member="Natoma Members"

    A `sandbox reset` or a `--sandbox` run on the same state file while it serves is picked up, not overwritten.

    Example: natoma-entra sandbox serve --port 8080 --variant templates-unlisted
    """
    from ..graph.errors import UsageError
    from ..sandbox.options import VARIANTS, SandboxOptions, UnknownVariant, parse_variants
    from ..sandbox.serve import is_loopback, serve
    from ..sandbox.state import ACCESS_TOKEN, NATOMA_TOKEN

    if not is_loopback(host):
        raise UsageError(f"--host {host} is not a loopback address", fix="use 127.0.0.1, ::1 or localhost")
    try:
        variants = parse_variants(variant) if variant else ctx.obj.sandbox_variants
    except UnknownVariant as e:
        raise UsageError(f"unknown sandbox variant {', '.join(e.names)}",
                         fix=f"use one of: {', '.join(sorted(VARIANTS))} (or all)") from None

    def ready(server):
        base = f"http://{host}:{server.server_address[1]}"
        ctx.obj.say(f"Graph:  {base}/v1.0   (bearer token: {ACCESS_TOKEN})", style="green")
        ctx.obj.say(f"Natoma: {base}/scim/v2 (SCIM token: {NATOMA_TOKEN})", style="green")
        ctx.obj.say(f"state:  {_path(ctx)}  (Ctrl-C to stop)")
        if variants:
            ctx.obj.say(f"variants: {', '.join(sorted(variants))}")

    serve(_path(ctx), host=host, port=port, ready=ready, options=SandboxOptions(variants=variants))
