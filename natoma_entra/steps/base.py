"""The shape every setup step has: read(session) -> Current, plan(current, desired, facts) -> Plan (pure, no I/O),
apply(session, plan, facts) -> StepResult. A step never looks at dry-run and never prints: the runner decides
whether to apply, and the CLI renders.

A Plan holds the changes shown to people, the operations apply executes, its warnings and the facts it provides to
later steps (the job about to be created, the credentials about to be saved): fields of the typed Facts, which the
runner passes on, not string keys in a cache. apply returns the facts as they turned out (the job it created).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from ..results import Change, StepResult

# Step states as `status` shows them (docs/status.md): nothing pending; only creations pending; anything else.
IN_PLACE, DRIFTED, MISSING, FAILED = "in place", "drifted", "missing", "failed"


@dataclass(frozen=True)
class Options:
    """What the commands may ask of the steps beyond the config (flags such as --prune)."""

    prune: bool = False  # roles: remove roles that are not Natoma's; assign: remove grants of our roles to others
    replace: bool = False  # assign: remove a configured group's other assignments
    multi_role: bool = False  # mapping: AssertiveAppRoleAssignmentsComplex -> roles
    rotate: bool = False  # credentials: save the given token even when the saved one passes
    restart: bool = False  # start: a fresh cycle
    reset_scope: str | None = None  # start --restart: what to reset
    token_given: bool = False  # credentials: the user pointed at a token (flag, file or variable)
    create_app: bool = False  # setup --create-app / app create: create the app when none matches
    create_groups: bool = False  # setup/assign --create-groups: create a configured group that does not exist
    delete_app: bool = False  # teardown --delete-app: delete the app, when `app create` made it
    delete_groups: bool = False  # teardown --delete-groups: delete configured groups --create-groups made


@dataclass(frozen=True)
class Facts:
    """What a later step needs from an earlier plan, passed on by the runner (planned first, then as applied)."""

    role_ids: dict[str, str] = field(default_factory=dict)  # role value -> app role id, as the roles step leaves them
    job: dict | None = None  # the provisioning job as read, or as created by an earlier step's apply
    job_planned: bool = False  # an earlier step creates the job when applied
    template_id: str | None = None  # the template that job is (to be) created from
    credentials_planned: bool = False  # an earlier step saves credentials when applied
    credentials_saved: bool | None = None  # admin credentials are saved (None: the secrets cannot be read)

    def but(self, **changes: Any) -> "Facts":
        return replace(self, **changes)


class Operation(BaseModel):
    """One write that apply executes, as data: what the plan shows is what apply runs."""

    model_config = ConfigDict(extra="forbid")

    kind: str  # e.g. "patch-app-roles", "create-assignment", "put-schema"
    method: str
    path: str
    body: Any = Field(default=None, exclude=True)  # a schema can be large, and a secrets body is filled in at apply
    why: str = ""


class Plan(BaseModel):
    """A step's decision: pure data, printable as text or JSON."""

    step: str
    changes: list[Change] = Field(default_factory=list)
    operations: list[Operation] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    info: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None  # the step cannot be applied: why ...
    fix: str | None = None  # ... and what to do
    # what only a real run needs: an input (the SCIM token; missing -> exit 2), or an earlier step's result (the
    # roles, for assign alone; missing -> the step fails). A dry run shows the plan and says so.
    needs: str | None = None
    needs_fix: str | None = None
    needs_input: bool = True
    state: str | None = None  # what status shows, when the changes alone do not say it (a quarantined job)
    provides: dict[str, Any] = Field(default_factory=dict, exclude=True)  # Facts fields this step adds for later ones
    extra: dict[str, Any] = Field(default_factory=dict, exclude=True)  # step-private data for apply (never shown)

    model_config = ConfigDict(arbitrary_types_allowed=True)

    @property
    def pending(self) -> list[Change]:
        return [c for c in self.changes if c.action != "none"]

    @property
    def blocked(self) -> bool:
        return self.error is not None

    def status_state(self) -> str:
        if self.blocked:
            return FAILED
        if self.state:
            return self.state
        pending = self.pending
        if not pending:
            return IN_PLACE
        return MISSING if all(c.action == "create" for c in pending) else DRIFTED

    def result(self, status: str, **kw: Any) -> StepResult:
        """The plan as a StepResult: planned (dry run, status), changed / unchanged (applied), failed."""
        data = dict(step=self.step, status=status, changes=list(self.changes), warnings=list(self.warnings),
                    info=dict(self.info), error=self.error, fix=self.fix)
        data.update(kw)
        return StepResult(**data)


class Step(Protocol):
    """A module of natoma_entra.steps seen as a step (roles, assignments, mapping, credentials, start)."""

    NAME: str

    async def read(self, session) -> Any: ...

    def plan(self, current: Any, desired: Any, facts: Facts) -> Plan: ...

    async def apply(self, session, plan: Plan, facts: Facts) -> tuple[StepResult, dict]: ...



@dataclass(frozen=True)
class Desired:
    """What the user asked for: the merged config and the command's options."""

    config: Any  # config.Config
    options: Options = field(default_factory=Options)
