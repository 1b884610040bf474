"""Saved plans: what `--plan-out FILE` writes and `natoma-entra apply FILE` applies (docs/apply.md).

A plan file is JSON (docs/plan.schema.json, generated from SavedPlan): the format and its version, the natoma-entra
that made it, the tenant (the `tid` of the token it was made with) and the app, what was asked for (the command, its
options, the app, groups, SCIM URL and scope), a fingerprint of every object the plan was made from
(fingerprints.py), each step's plan with its operations as typed data, and a checksum of all of it.

`apply` refuses (exit 4, EXIT_REFUSED) a file for another tenant or app, made in a format this version cannot read,
or altered since it was written; then it reads the same objects again and refuses when any moved, naming each.

No secret is ever in a plan: the SCIM token is not part of any operation (PutSecrets leaves its place empty, and
apply fills it in from the token given then), the plan only records that one is needed (`needs_token`); the reads
are kept as fingerprints, never as values; and the file is not written when the redactor (redact.py) finds a
secret in use anywhere in its text.
"""
from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Sequence, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from . import __version__
from .errors import NatomaEntraError, UsageError
from .fingerprints import canonical, changed, digest, fingerprints
from .results import Change
from .steps.app import InstantiateApp, MarkApp
from .steps.assignments import CreateAssignment, CreateGroup, DeleteAssignment, RecordGroups
from .steps.base import Operation, Options
from .steps.credentials import PutSecrets, TestCredentials
from .steps.job import CreateJob
from .steps.mapping import PutSchema
from .steps.roles import PatchAppRoles, WaitForRoles
from .steps.start import RestartJob, StartJob
from .teardown import ClearSecrets, DeleteApplication, DeleteGroup, DeleteJob, DeleteServicePrincipal, ForgetTags

if TYPE_CHECKING:
    from .config import Config
    from .results import Report
    from .session import Session
    from .steps.base import AnyStep, Plan

FORMAT: Literal["natoma-entra plan"] = "natoma-entra plan"
FORMAT_VERSION = 1  # raised whenever a file of the previous version would be read differently
EXIT_REFUSED = 4  # README "Output and exit codes": the plan cannot be applied as saved; nothing was written
MAX_PLAN_BYTES = 64 * 1024 * 1024  # a schema is the largest part (tens of KiB); a file past this is not a plan
COMMANDS = ("setup", "roles", "assign", "mapping", "credentials", "start", "teardown", "app")

# Every kind of operation a writing command plans (not provision on demand: `provision` takes no --plan-out).
AnyOperation = Annotated[Union[
    PatchAppRoles, WaitForRoles, CreateGroup, RecordGroups, CreateAssignment, DeleteAssignment, CreateJob, PutSchema,
    TestCredentials, PutSecrets, StartJob, RestartJob, InstantiateApp, MarkApp, DeleteJob, ForgetTags, ClearSecrets,
    DeleteGroup, DeleteServicePrincipal, DeleteApplication], Field(discriminator="kind")]


class PlanRefused(NatomaEntraError):
    """`apply FILE` cannot apply the plan as saved: exit 4, one stderr line per reason, nothing written."""

    exit_code = EXIT_REFUSED

    def __init__(self, reasons: list[str], fix: str, command: str = "apply"):
        super().__init__(f"the plan cannot be applied as saved: {reasons[0]}"
                         + (f" (and {len(reasons) - 1} more)" if len(reasons) > 1 else "") + "; nothing was written",
                         fix=fix)
        self.reasons, self.command = reasons, command
        self.report = {"refused": list(reasons)}  # under -o json, the error document lists them all

    def lines(self) -> list[str]:
        return [f"{self.command}: {r}" for r in self.reasons] + [f"{self.command}: nothing was written. Fix: {self.fix}"]


# -- the file's shape -----------------------------------------------------------------------------------------------

class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Tenant(Strict):
    id: str | None = Field(description="The tenant id (`tid`) of the access token the plan was made with; null "
                                       "when its claims could not be read (then the app's ids stand for the tenant).")
    configured: str | None = Field(description="The tenant as configured (--tenant, `tenant` in the config file).")
    cloud: str


class Inputs(Strict):
    """What was asked for, besides the options: apply plans again with exactly these."""

    app: str | None
    groups: dict[str, list[str]] = Field(default_factory=dict)
    scim_url: str | None = None
    scope: Literal["assigned", "all"] = "assigned"


class Read(Strict):
    label: str = Field(description="The object, as a refusal line names it.")
    sha256: str = Field(description="sha256: and the hex digest of the canonical JSON of what the plan depends on.")


class SavedStep(Strict):
    step: str
    changes: list[Change] = Field(default_factory=list)
    operations: list[AnyOperation] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    info: dict[str, Any] = Field(default_factory=dict)
    needs: str | None = Field(default=None, description="What only the run that applies it needs (the SCIM token).")


class SavedPlan(Strict):
    """A plan as `--plan-out` writes it and `apply` reads it."""

    format: Literal["natoma-entra plan"] = FORMAT
    format_version: int = FORMAT_VERSION
    made_by: str = Field(description="The natoma-entra version that made it.")
    created: str = Field(description="When it was made (ISO 8601, UTC).")
    command: Literal["setup", "roles", "assign", "mapping", "credentials", "start", "teardown", "app"]
    tenant: Tenant
    app: dict[str, Any] = Field(description="The app the plan is for, as the report shows it (empty: no app).")
    inputs: Inputs
    options: Options
    needs_token: bool = Field(description="Applying it saves credentials: the SCIM token must be given to apply "
                                          "(it is never in the file).")
    reads: dict[str, Read] = Field(description="Each object the plan was made from, by its read: apply reads them "
                                               "again and refuses when one changed.")
    steps: list[SavedStep]
    checksum: str = Field(default="", description="sha256: and the hex digest of the canonical JSON of every other "
                                                  "field: a file altered after it was written is refused.")

    @property
    def pending(self) -> int:
        return sum(len(s.operations) for s in self.steps)


def schema() -> dict[str, Any]:
    """The JSON Schema of a plan file (docs/plan.schema.json)."""
    doc = SavedPlan.model_json_schema(by_alias=True)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": "https://natoma-entra/plan.schema.json",
            "title": "natoma-entra plan", **{k: v for k, v in doc.items() if k != "title"}}


# -- which steps a command runs ---------------------------------------------------------------------------------------

def steps_for(command: str, options: Options) -> list["AnyStep"]:
    """The steps `command` runs with these options (what cli/<command>.py hands run_steps)."""
    from . import teardown
    from .executor import SETUP_STEPS
    from .steps import app, assignments, credentials, mapping, roles, start

    if command == "setup":
        return [app.STEP, *SETUP_STEPS] if options.create_app else list(SETUP_STEPS)
    if command == "teardown":
        return teardown.steps_for(options)
    one: dict[str, "AnyStep"] = {"roles": roles.STEP, "assign": assignments.STEP, "mapping": mapping.STEP,
                                 "credentials": credentials.STEP, "start": start.STEP, "app": app.STEP}
    return [one[command]]


# -- making one -------------------------------------------------------------------------------------------------------

async def tenant_id(session: "Session") -> str | None:
    """The `tid` of the access token this run signs in with (None when its claims cannot be read)."""
    from .preflight import current_token
    from .token_claims import read

    claims, _why = read(await current_token(session.graph))
    return claims.tenant_id if claims is not None else None


def inputs_of(config: "Config") -> Inputs:
    return Inputs(app=config.app, groups={r: list(g) for r, g in config.groups.items()}, scim_url=config.scim.url,
                  scope=config.scim.scope)


def unsaveable(plans: Sequence["Plan[Any]"]) -> tuple["Plan[Any]", str, str | None] | None:
    """(the plan, why, fix) when these plans cannot be saved to be applied later; None when they can."""
    for i, p in enumerate(plans):
        if p.facts.app_planned and p.operations and i + 1 < len(plans):
            # The steps after the app's creation are planned against ids the app does not have yet (its service
            # principal, the role ids derived from its appId) and are planned again once it exists (executor._apply):
            # a saved plan would apply something no one reviewed. Saving is refused instead of re-checking.
            return (p, "--plan-out cannot save a plan that creates the app: the steps after it can only be planned "
                       "once it exists", "create the app first (natoma-entra app create NAME, which takes "
                       "--plan-out too), then plan setup without --create-app")
        if p.needs and p.operations and not p.needs_input:
            return p, p.needs, p.needs_fix
    return None


async def build(session: "Session", command: str, options: Options, plans: Sequence["Plan[Any]"],
                app: dict[str, Any]) -> SavedPlan:
    """The plan file of these plans (made by a read-only run of `command`)."""
    config = session.config
    reads = {key: Read(label=label, sha256=sha) for key, (label, sha) in fingerprints(session).items()}
    needs_token = any(p.operations and p.needs and p.needs_input for p in plans) or any(
        isinstance(op, PutSecrets) for p in plans for op in p.operations)
    steps = [SavedStep(step=p.step, changes=list(p.changes), operations=list(p.operations), warnings=list(p.warnings),
                       info=dict(p.info), needs=p.needs if p.operations else None) for p in plans]
    return SavedPlan(made_by=f"natoma-entra {__version__}",
                     created=session.clock.now().astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                     command=command,  # type: ignore[arg-type]  # one of COMMANDS: the CLI names it
                     tenant=Tenant(id=await tenant_id(session), configured=config.tenant, cloud=config.cloud),
                     app=dict(app), inputs=inputs_of(config), options=options,
                     needs_token=needs_token, reads=reads, steps=steps)


def sealed(saved: SavedPlan) -> dict[str, Any]:
    """The plan as its file holds it: every field, and the checksum of the others."""
    doc = saved.model_dump(mode="json", by_alias=True)
    doc.pop("checksum", None)
    doc["checksum"] = digest(doc)
    return doc


def write(path: Path, saved: SavedPlan) -> None:
    """Write the plan (atomically: a reader never sees half a file). Refused when any secret in use would be in it."""
    from .inert import json_text
    from .redact import redact

    text = json_text(sealed(saved), indent=2) + "\n"
    if redact(text) != text:  # never expected (no operation holds a secret): a last check before the disk
        raise UsageError("the plan would hold a secret (a SCIM or access token in use): it was not written",
                         fix="report this as a bug; plan without the token (apply asks for it)")
    path = Path(path)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=".natoma-entra-plan-", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError as e:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        raise UsageError(f"cannot write the plan to {path}: {e.strerror or type(e).__name__}",
                         fix="give --plan-out a path in a directory that exists and that you may write to") from None


# -- reading one ------------------------------------------------------------------------------------------------------

NOT_A_PLAN_FIX = "give apply the file `--plan-out FILE` wrote (a JSON report from -o json is not a plan)"


def load(path: Path) -> SavedPlan:
    """The plan in `path`: exit 2 when it is not a plan file at all, PlanRefused (exit 4) when it is one that cannot
    be applied: a format this version cannot read, or altered since it was written (its checksum)."""
    import json

    from .files import read_capped_text

    text = read_capped_text(Path(path), MAX_PLAN_BYTES, what="the plan file", fix=NOT_A_PLAN_FIX)
    try:
        doc = json.loads(text)
    except ValueError:
        raise UsageError(f"{path} is not a natoma-entra plan (not JSON)", fix=NOT_A_PLAN_FIX) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise UsageError(f"{path} is not a natoma-entra plan (no \"format\": \"{FORMAT}\")", fix=NOT_A_PLAN_FIX)
    version, made_by = doc.get("format_version"), doc.get("made_by")
    if version != FORMAT_VERSION:
        raise PlanRefused([f"the plan was made by {made_by!s:.60} in plan format {version!s:.20}; natoma-entra "
                           f"{__version__} reads plan format {FORMAT_VERSION}"],
                          fix="apply it with the natoma-entra version that made it, or plan again with this one")
    given = doc.pop("checksum", None)
    if given != digest(doc):
        raise PlanRefused(["the plan file was altered after it was written (its checksum does not match its "
                           "content)"], fix="apply the file as --plan-out wrote it; to change the plan, plan again")
    try:
        return SavedPlan.model_validate({**doc, "checksum": given})
    except ValidationError as e:
        where = ".".join(str(p) for p in e.errors()[0]["loc"])
        raise PlanRefused([f"the plan file holds what natoma-entra {__version__} cannot read (at {where:.80})"],
                          fix="apply it with the natoma-entra version that made it, or plan again with this one") \
            from None


# -- applying one: what must hold -------------------------------------------------------------------------------------

REPLAN_FIX = "plan again (the same command with --plan-out FILE), review that plan, and apply it"


def _same(given: str, *known: Any) -> bool:
    return any(isinstance(k, str) and k and given.strip().casefold() == k.casefold() for k in known)


def check_target(saved: SavedPlan, here: "Config") -> None:
    """Before anything is read: the app this run is pointed at (--app, the config file, NATOMA_ENTRA_APP), when it
    names one, is the plan's (by the name or an id the plan holds). The tenant is compared once signed in
    (check_tenant): a tenant may be named by several domains and its id, so a name is not compared here."""
    app = saved.app
    if here.app and not _same(here.app, saved.inputs.app, app.get("displayName"), app.get("appId"),
                              app.get("servicePrincipalId"), app.get("applicationId")):
        raise PlanRefused([f"the plan is for the app {saved.inputs.app or app.get('displayName')!r}"
                           f"{' (appId ' + app['appId'] + ')' if app.get('appId') else ''}, not {here.app!r}"],
                          fix="apply the plan to the app it was made for (drop --app, or name that app), or plan "
                              "again for this one")


def desired_config(saved: SavedPlan, here: "Config") -> "Config":
    """The configuration apply plans with: how to sign in from this run (tenant, cloud, auth, token source), what
    is wanted from the plan (app, groups, SCIM URL and scope)."""
    from .config import Config

    doc = here.model_dump()
    doc.update(app=saved.inputs.app, groups=saved.inputs.groups, cloud=saved.tenant.cloud)
    doc["tenant"] = here.tenant or saved.tenant.configured
    doc["scim"] = {**doc["scim"], "url": saved.inputs.scim_url, "scope": saved.inputs.scope}
    return Config.model_validate(doc)


async def check_tenant(session: "Session", saved: SavedPlan) -> None:
    """The run signs in to the plan's tenant (compared by the tokens' `tid`, when both can be read)."""
    now = await tenant_id(session)
    if saved.tenant.id and now and now.casefold() != saved.tenant.id.casefold():
        raise PlanRefused([f"the plan is for the tenant {saved.tenant.id}; this run signs in to the tenant {now}"],
                          fix="sign in to the tenant the plan was made for (--tenant, AZURE_TENANT_ID), or plan again")


def moved(saved: SavedPlan, session: "Session") -> list[str]:
    """One line per object the plan was made from that is not as it was."""
    now = fingerprints(session)
    return changed({k: (r.label, r.sha256) for k, r in saved.reads.items()}, now)


def _writes(operations: Sequence[Operation]) -> list[Operation]:
    from .graph.readonly import is_read

    return [op for op in operations if not is_read(op.method, op.path)]


def _shown(op: Operation) -> str:
    return f"{op.method} {op.path}"


def differences(saved: SavedPlan, plans: Sequence["Plan[Any]"]) -> list[str]:
    """One line per step whose writes, planned now, are not exactly the saved ones (what fingerprints do not cover:
    the saved credentials' connection test, a change in how this version plans)."""
    names, now_names = [s.step for s in saved.steps], [p.step for p in plans]
    if names != now_names:
        return [f"the plan's steps ({', '.join(names)}) are not the ones {saved.command} runs now "
                f"({', '.join(now_names)})"]
    out = []
    for s, p in zip(saved.steps, plans):
        was, now = _writes(s.operations), _writes(p.operations)
        if [canonical(o.model_dump(mode="json", by_alias=True)) for o in was] == \
                [canonical(o.model_dump(mode="json", by_alias=True)) for o in now]:
            continue
        if len(was) != len(now) or not now:
            detail = f"{len(was)} write(s) saved, {len(now)} planned now"
        else:
            detail = next(f"saved {_shown(a)}, planned now {_shown(b)}" for a, b in zip(was, now)
                          if canonical(a.model_dump(mode="json", by_alias=True))
                          != canonical(b.model_dump(mode="json", by_alias=True)))
        out.append(f"{s.step}: what it would write now differs from the saved plan ({detail})")
    return out


def with_saved_operations(saved: SavedPlan, plans: Sequence["Plan[Any]"]) -> list["Plan[Any]"]:
    """The plans made now, each running the saved writes (equal to its own: `differences` is empty) and the checks
    that write nothing as planned now (the connection test of the token given now, the wait for the roles)."""
    from .graph.readonly import is_read

    out = []
    for s, p in zip(saved.steps, plans):
        writes = iter(_writes(s.operations))
        ops = [op if is_read(op.method, op.path) else next(writes) for op in p.operations]
        out.append(p.model_copy(update={"operations": ops}))
    return out


def as_report(saved: SavedPlan) -> "Report":
    """The plan as a dry run's report shows it (`natoma-entra show FILE`)."""
    from .results import Report, Status, StepResult

    report = Report(command=saved.command, dry_run=True, app=dict(saved.app))
    for s in saved.steps:
        status: Status = "planned" if s.operations or any(c.action != "none" for c in s.changes) else "unchanged"
        report.add(StepResult(step=s.step, status=status, changes=list(s.changes), warnings=list(s.warnings),
                              info=dict(s.info)))
    return report
