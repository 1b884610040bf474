"""`natoma-entra export`: read a tenant configured by hand (the portal guide) and write the natoma-entra.toml that
reproduces it, so the tenant can be put under the tool without writing the config from memory.

Read only. What the config cannot express (grants of the Natoma roles to users or service principals, groups holding
other roles, other role mappings, values Graph masks) is said in comments, never silently dropped.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from .graph.errors import GraphError
from .errors import UsageError
from .graph.lookups import GroupNotFound, find_group
from .natoma_roles import DISPLAY_NAME, ROLE_VALUES
from .steps.assignments import DEFAULT_ACCESS, read_assignments, role_ids_on
from .steps.credentials import MASKED, read_secrets
from .steps.job import read_job, read_schema
from .steps.mapping import MULTI, SINGLE, SchemaError, function_over_assignments, locate


@dataclass
class Export:
    app: str
    tenant: str | None
    cloud: str
    groups: dict[str, list[str]] = field(default_factory=dict)
    scim_url: str | None = None
    scope: str | None = None
    mode: str | None = None  # "single-role" | "multi-role" | None (no role mapping found)
    notes: list[str] = field(default_factory=list)  # what the config cannot express


def _q(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a TOML basic string: JSON's escapes are TOML's


async def _group_ref(session, group_id: str, name: str | None) -> str:
    """The display name, unless another group has it too (or it has none): then the object id."""
    if not name:
        return group_id
    try:
        found = await find_group(session.graph, name)
    except GroupNotFound:
        return group_id
    except UsageError:  # ambiguous
        return group_id
    return name if found["id"] == group_id else group_id


async def read(session) -> Export:
    app = await session.app()
    cfg = session.config
    out = Export(app=app.display_name or app.app_id, tenant=cfg.tenant, cloud=cfg.cloud)
    sp_roles = app.service_principal.get("appRoles") or []
    ids = role_ids_on(sp_roles)  # value -> id, enabled Natoma roles
    by_id = {v: k for k, v in ids.items()}
    names = {r.get("id"): r.get("displayName") or r.get("value") for r in sp_roles}
    for value in ROLE_VALUES:
        if value not in ids:
            out.notes.append(f"the app has no enabled role with the value {value!r}: setup creates it")
    assignments = await read_assignments(session)
    configured: set[str] = set()
    for a in sorted(assignments, key=lambda a: (a.get("principalDisplayName") or "", a.get("principalId") or "")):
        role = by_id.get(str(a.get("appRoleId")))
        who = f"{a.get('principalDisplayName') or a.get('principalId')} ({a.get('principalType') or 'principal'})"
        if role is None:
            other = "default access" if a.get("appRoleId") == DEFAULT_ACCESS else names.get(a.get("appRoleId"), a.get("appRoleId"))
            out.notes.append(f"{who} holds {other!r}, not a Natoma role: not part of the config")
            continue
        if a.get("principalType") != "Group":
            out.notes.append(f"{who} holds the {DISPLAY_NAME[role]} role directly: the config assigns groups only "
                             "(status reports this grant; `assign --prune` would remove it)")
            continue
        if a["principalId"] in configured:
            out.notes.append(f"{who} holds more than one Natoma role: the config gives a group one role; "
                             f"kept for {role!r} only")
            continue
        configured.add(a["principalId"])
        out.groups.setdefault(role, []).append(await _group_ref(session, a["principalId"], a.get("principalDisplayName")))
    job = await read_job(session)
    if job is None:
        out.notes.append("the app has no provisioning job: the SCIM URL, scope and mapping are not set yet")
        return out
    secrets = await read_secrets(session)
    if not secrets.readable:
        out.notes.append("Graph does not show the saved credentials here: set scim.url and scim.scope by hand")
    else:
        url = secrets.values.get("BaseAddress")
        if url in (None, "", MASKED):
            out.notes.append("the SCIM URL is not saved (or Graph masks it): set scim.url by hand")
        else:
            out.scim_url = url
        sync_all = (secrets.values.get("SyncAll") or "").lower()
        out.scope = {"true": "all", "false": "assigned"}.get(sync_all)
        if out.scope is None:
            out.notes.append("the provisioning scope is not saved (or masked): scope defaults to 'assigned'")
    try:
        schema = await read_schema(session, job)
        out.mode, extra = _mode_of(schema)
        out.notes.extend(extra)
    except (GraphError, UsageError) as e:
        out.notes.append(f"the job's mapping could not be read ({getattr(e, 'headline', e)}): check it with status")
    return out


def _mode_of(schema: dict) -> tuple[str | None, list[str]]:
    try:
        where = locate(schema)
    except SchemaError:  # a schema without a user mapping: status says so
        return None, ["the job's schema has no user mapping the tool can read"]
    found, notes = [], []
    for m in where.object_mapping.get("attributeMappings") or []:
        fn = function_over_assignments(m.get("source"))
        if fn is None:
            continue
        target = m.get("targetAttributeName")
        for mode in (SINGLE, MULTI):
            if fn == mode.function.lower() and target == mode.target:
                found.append(mode.name)
                break
        else:
            notes.append(f"a role mapping {fn}([appRoleAssignments]) -> {target} is not one the tool makes: "
                         "setup replaces it")
    if len(found) > 1:
        notes.append("both a single-role and a multi-role mapping exist: setup keeps only the one asked for")
    if not found:
        notes.append("no role mapping to Natoma's roles yet: setup adds the single-role one (or --multi-role)")
    return (found[0] if found else None), notes


def to_toml(e: Export) -> str:
    lines = ["# natoma-entra configuration exported from the tenant (natoma-entra export).",
             "# Secrets never go in this file: give the SCIM token by NATOMA_SCIM_TOKEN (or scim.token_env),",
             "# --scim-token-file PATH or --scim-token-stdin.", "",
             f"app = {_q(e.app)}"]
    lines.append(f"tenant = {_q(e.tenant)}" if e.tenant else "# tenant = \"contoso.onmicrosoft.com\"    # tenant id or domain")
    lines.append(f"cloud = {_q(e.cloud)}")
    if e.mode == "multi-role":
        lines += ["", "# This tenant maps all of a user's roles: run setup and status with --multi-role",
                  "# (the config file cannot say it)."]
    lines += ["", "[groups]                              # role value -> groups (display name; object id when a name "
              "is not unique)"]
    for role in ROLE_VALUES:
        refs = e.groups.get(role)
        lines.append(f"{role} = [{', '.join(_q(r) for r in refs)}]" if refs else f"# {role} = []    # no group holds it")
    lines += ["", "[scim]"]
    lines.append(f"url = {_q(e.scim_url)}" if e.scim_url else "# url = \"https://<your-tenant>.natoma.app/scim/v2\"")
    lines.append("token_env = \"NATOMA_SCIM_TOKEN\"")
    lines.append(f"scope = {_q(e.scope or 'assigned')}")
    if e.notes:
        lines += ["", "# What this file cannot express (left as the tenant has it, or changed by setup as said):"]
        lines += [f"# - {n}" for n in e.notes]
    return "\n".join(lines) + "\n"
