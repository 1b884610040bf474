"""`natoma-entra export`: read a tenant configured by hand (the portal guide) and write the natoma-entra.toml that
reproduces it, so the tenant can be put under the tool without writing the config from memory.

Read only. What the config cannot express (grants of the Natoma roles to users or service principals, groups holding
other roles, other role mappings, values Graph masks) is said in comments, never silently dropped.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from . import inert
from .errors import UsageError
from .graph.errors import GraphError
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
                             "(status reports this grant; `assign --prune"
                             + ("-user` names it to remove it)" if a.get("principalType") == "User" else
                                "` would remove it)"))
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


def data(e: Export) -> dict:
    """What the exported file holds, as tomllib reads it back: to_toml() is checked against this."""
    out: dict = {"app": e.app}
    if e.tenant:
        out["tenant"] = e.tenant
    out["cloud"] = e.cloud
    out["groups"] = {role: list(e.groups[role]) for role in ROLE_VALUES if e.groups.get(role)}
    scim: dict = {"url": e.scim_url} if e.scim_url else {}
    scim.update(token_env="NATOMA_SCIM_TOKEN", scope=e.scope or "assigned")
    out["scim"] = scim
    return out


class Unwritable(UsageError):
    """A value from the tenant that TOML cannot hold (a lone surrogate): nothing is written."""


def to_toml(e: Export) -> str:
    """The config file: values written as TOML basic strings (inert.toml_string: every quote, backslash, control and
    bidi character escaped) and what the tenant says in comments (inert.toml_comment: one line each). A display name
    such as `Partner\\ntoken_file = "/path"\\n#` stays inside its string or its comment: the text is read back with
    tomllib and must equal data(e), key for key, or nothing is written."""
    q = inert.toml_string
    lines = ["# natoma-entra configuration exported from the tenant (natoma-entra export).",
             "# Secrets never go in this file: give the SCIM token by NATOMA_SCIM_TOKEN (or scim.token_env),",
             "# --scim-token-file PATH or --scim-token-stdin.", "",
             f"app = {q(e.app)}"]
    lines.append(f"tenant = {q(e.tenant)}" if e.tenant else "# tenant = \"contoso.onmicrosoft.com\"    # tenant id or domain")
    lines.append(f"cloud = {q(e.cloud)}")
    if e.mode == "multi-role":
        lines += ["", "# This tenant maps all of a user's roles: run setup and status with --multi-role",
                  "# (the config file cannot say it)."]
    lines += ["", "[groups]                              # role value -> groups (display name; object id when a name "
              "is not unique)"]
    for role in ROLE_VALUES:
        refs = e.groups.get(role)
        lines.append(f"{role} = [{', '.join(q(r) for r in refs)}]" if refs else f"# {role} = []    # no group holds it")
    lines += ["", "[scim]"]
    lines.append(f"url = {q(e.scim_url)}" if e.scim_url else "# url = \"https://<your-tenant>.natoma.app/scim/v2\"")
    lines.append("token_env = \"NATOMA_SCIM_TOKEN\"")
    lines.append(f"scope = {q(e.scope or 'assigned')}")
    if e.notes:
        lines += ["", "# What this file cannot express (left as the tenant has it, or changed by setup as said):"]
        lines += [inert.toml_comment(f"- {n}") for n in e.notes]
    text = "\n".join(lines) + "\n"
    _check(text, data(e))
    return text


def _check(text: str, expected: dict) -> None:
    """The file must read back as exactly what was meant: no key added, none lost, no value changed."""
    import tomllib

    try:
        found = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        found = None
    if found != expected:
        raise Unwritable("a name in the tenant cannot be written to the config file as it is (it holds a character "
                         "TOML cannot carry)", fix="rename the app or group in Entra, or write the config by hand "
                         "(natoma-entra config init)")


def refuse_link(path: Path) -> None:
    """--write never goes through a symbolic link, even one pointing nowhere (it would create the target)."""
    if path.is_symlink():
        raise UsageError(f"{path} is a symbolic link: export does not write through links",
                         fix="--write the real path (or remove the link)")


STDOUT = "-"  # --write -: print the config, as other tools read "-"


def check_target(raw: str, *, force: bool) -> Path | None:
    """The --write path, checked before the tenant is read (so a path that cannot be written costs no Graph read):
    None for "-" (print it). Bad input is a UsageError naming the path and the fix; write_file checks again as it
    writes (the path may change in between)."""
    if raw == STDOUT:
        return None
    if not raw.strip():
        raise UsageError("--write needs a file path", fix="--write natoma-entra.toml (or leave --write out to print it)")
    path = Path(raw)
    try:
        return _checked(path, force=force)
    except OSError as e:  # the path itself cannot be looked at (a name too long for the system, ...)
        shown = raw if len(raw) <= 80 else raw[:77] + "..."
        raise UsageError(f"cannot write {shown}: {e.strerror or e}", fix="--write another path") from None


def _checked(path: Path, *, force: bool) -> Path:
    import os

    refuse_link(path)  # before anything else: a link is refused even when it points at a directory
    if path.is_dir():
        raise UsageError(f"{path} is a directory", fix=f"--write a file path, e.g. {path / 'natoma-entra.toml'}")
    if os.path.lexists(path):
        if not path.is_file():
            raise UsageError(f"{path} is not a file", fix="--write a file path")
        if not force:
            raise UsageError(f"{path} exists", fix="pass --force to replace it, or --write another path")
    parent = path.parent
    if not parent.is_dir():
        raise UsageError(f"the directory of {path} does not exist", fix="create it, or --write another path")
    try:
        name_max = os.pathconf(parent, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):  # not every platform or file system says
        name_max = 255
    if len(os.fsencode(path.name)) > name_max:
        raise UsageError(f"the file name {path.name[:40]}... is too long ({len(os.fsencode(path.name))} bytes; this "
                         f"file system allows {name_max})", fix="--write a shorter file name")
    _probe_writable(parent, path)
    return path


def _probe_writable(parent: Path, path: Path) -> None:
    """A file can be made in the directory (permissions, a read-only or special file system): a temporary one is
    made and removed at once; the target itself is not touched."""
    import os
    import tempfile

    try:
        fd, tmp = tempfile.mkstemp(dir=parent, prefix=".natoma-entra-probe.", suffix=".tmp")
    except OSError as e:
        raise UsageError(f"cannot write {path}: {e.strerror or e}", fix="--write a path in a directory you can write to") from None
    os.close(fd)
    os.unlink(tmp)


def write_file(path: Path, text: str, *, force: bool) -> None:
    """Write the exported config to `path` without ever following a symbolic link: a link (even one to nothing) is
    refused; a new file is created only if nothing is there (O_EXCL, which also refuses a link made since the check);
    with --force an existing file is replaced by a new one written beside it (os.replace renames over the path
    itself, never through a link), keeping the old file's permissions."""
    try:
        _write(path, text.encode("utf-8"), force=force)
    except UsageError:
        raise
    except OSError as e:  # checked before the reads, and changed since (removed, filled up, made read-only)
        raise UsageError(f"cannot write {path}: {e.strerror or e}",
                         fix="--write a path you can write to (the config is printed without --write)") from None


def _write(path: Path, body: bytes, *, force: bool) -> None:
    import os
    import stat
    import tempfile

    refuse_link(path)
    if not (force and os.path.lexists(path)):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
        except FileExistsError:
            raise UsageError(f"{path} exists", fix="pass --force to replace it, or --write another path") from None
        with os.fdopen(fd, "wb") as f:
            f.write(body)
        return
    if not path.is_file():
        raise UsageError(f"{path} is not a file", fix="--write a file path")
    mode = stat.S_IMODE(path.stat().st_mode)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(body)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
