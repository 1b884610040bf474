"""The contract every step keeps (the five setup steps, the app, teardown's steps, provision on demand):

    read(session, desired) -> Current          every Graph read the step needs (the connection tests count as reads)
    plan(current, desired, facts) -> Plan      pure: the changes shown to people and the operations apply runs
    apply(context, plan) -> Applied            runs the plan's operations as they are, confirms what Graph answered

Only the executor (natoma_entra/executor.py) calls apply, and it alone decides whether anything is written: no step
looks at dry-run and no step prints. Operations are typed data (one model per kind of write, with the ids it
needs); what a later step needs from an earlier one (the role ids, the job this run creates) travels as typed Facts.
Options reach a step one way only: `desired.options`.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Annotated, Any, Awaitable, Callable, ClassVar, Generic, Literal, TypeVar, Union

from pydantic import BaseModel, ConfigDict, Field

from ..config import Config
from ..results import Change, StepResult

if TYPE_CHECKING:
    from ..session import Session

JSON = dict[str, Any]

# Step states as `status` shows them (docs/status.md): nothing pending; only creations pending; anything else.
IN_PLACE, DRIFTED, MISSING, FAILED = "in place", "drifted", "missing", "failed"


@dataclass(frozen=True)
class Options:
    """What the commands may ask of the steps beyond the config (flags such as --prune)."""

    prune: bool = False  # roles: remove enabled roles that are not Natoma's; assign: remove grants of our roles to
    # principals that are not configured, never a user's own grant
    prune_users: tuple[str, ...] = ()  # assign --prune-user: these users' own grants of our roles go too
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
    delete: tuple[str, ...] = ()  # teardown --delete ID: delete these although not shown to be ours (named)


OptionsT = TypeVar("OptionsT")


@dataclass(frozen=True)
class Desired(Generic[OptionsT]):
    """What the user asked for: the merged config and the command's own options."""

    config: Config
    options: OptionsT


# -- references to objects that may not exist before this run's writes --------------------------------------------

class ExistingJob(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["existing"] = "existing"
    id: str


class NewJob(BaseModel):
    """The provisioning job an earlier operation of this run creates (the mapping step's create-job)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["new"] = "new"


JobRef = Annotated[Union[ExistingJob, NewJob], Field(discriminator="kind")]
NEW_ID = "{new}"  # how a path shows an object this run creates


def job_id_of(ref: ExistingJob | NewJob, facts: "Facts") -> str:
    """The id of the job an operation names: as planned, or the one this run created (facts.job)."""
    if isinstance(ref, ExistingJob):
        return ref.id
    if facts.job is None or not facts.job.get("id"):
        raise RuntimeError("an operation names the job this run creates, and no earlier operation created it")
    return str(facts.job["id"])


def shown_job_id(ref: ExistingJob | NewJob) -> str:
    return ref.id if isinstance(ref, ExistingJob) else NEW_ID


class Operation(BaseModel):
    """One write apply executes, as data. Subclasses name their kind and hold exactly what the write needs;
    `method`, `path` and `body` are what goes to Graph (permissions.py judges what each needs)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: str
    why: str = ""
    # other requests apply sends for it (permissions.py keys), so the preflight asks for them too (creating a job
    # also records it on the app registration: natoma_entra/marks.py)
    also: ClassVar[tuple[str, ...]] = ()

    @property
    def method(self) -> str:
        raise NotImplementedError

    @property
    def path(self) -> str:
        raise NotImplementedError

    @property
    def body(self) -> Any:
        return None

    @property
    def asks(self) -> bool:
        """A write that removes or replaces something that exists (an assignment, a role, a saved token, a job):
        the executor asks before it, at a terminal, and needs --yes without one (docs/teardown.md)."""
        return self.method == "DELETE"


OpT = TypeVar("OpT", bound=Operation)


@dataclass(frozen=True)
class Facts:
    """What a later step needs from an earlier one: planned first, then as applied. The executor passes them on."""

    role_ids: dict[str, str] = field(default_factory=dict)  # role value -> app role id, as the roles step leaves them
    job: JSON | None = None  # the provisioning job as read, or as created by an earlier step's apply
    job_planned: bool = False  # an earlier step creates the job when applied
    template_id: str | None = None  # the template that job is (to be) created from
    credentials_planned: bool = False  # an earlier step saves credentials when applied
    credentials_saved: bool | None = None  # admin credentials are saved (None: the secrets cannot be read)
    app_planned: bool = False  # the app step creates the app: later steps are read and planned again once it exists

    def but(self, **changes: Any) -> "Facts":
        return replace(self, **changes)


class Plan(BaseModel, Generic[OpT]):
    """A step's decision: pure data, printable as text or JSON."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    step: str
    changes: list[Change] = Field(default_factory=list)
    operations: list[OpT] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    info: dict[str, Any] = Field(default_factory=dict)  # shown to people: never read by apply
    error: str | None = None  # the step cannot be applied: why ...
    fix: str | None = None  # ... and what to do
    # what only a real run needs: an input (the SCIM token; missing -> exit 2), or an earlier step's result (the
    # roles, for assign alone; missing -> the step fails). A dry run shows the plan and says so.
    needs: str | None = None
    needs_fix: str | None = None
    needs_input: bool = True
    state: str | None = None  # what status shows, when the changes alone do not say it (a quarantined job)
    facts: Facts = Field(default_factory=Facts, exclude=True)  # the facts later steps plan with, this plan included

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
        data: dict[str, Any] = dict(step=self.step, status=status, changes=list(self.changes),
                                    warnings=list(self.warnings), info=dict(self.info), error=self.error, fix=self.fix)
        data.update(kw)
        return StepResult(**data)


@dataclass
class Applied:
    """What apply did: its results (one for most steps, one per user for provision) and the facts as they turned
    out (the job it created)."""

    results: list[StepResult]
    facts: Facts


Pace = Callable[[Operation], Awaitable[None]]


async def _no_pace(op: Operation) -> None:
    return None


@dataclass
class ApplyContext:
    """What the executor hands apply: the run, the facts of the steps applied before, and its pacing policy (awaited
    before each request a rate limit applies to: provision on demand's 5 per 10 s)."""

    session: "Session"
    facts: Facts
    pace: Pace = _no_pace
    on_progress: Callable[[int, int, str], None] = lambda done, total, label: None


CurrentT = TypeVar("CurrentT")


class Step(ABC, Generic[CurrentT, OpT, OptionsT]):
    """read -> plan -> apply. `name` is what reports and the JSON document call the step."""

    name: ClassVar[str]
    reading: ClassVar[str] = "reading"  # what read does, named when it fails ("reading the app roles")
    reads_first: ClassVar[bool] = False  # read before the others (the app step: their reads need the app)
    needs_app: ClassVar[bool] = True  # its read needs the app to exist (teardown's steps cope with none)

    @abstractmethod
    async def read(self, session: "Session", desired: Desired[OptionsT]) -> CurrentT: ...

    @abstractmethod
    def plan(self, current: CurrentT, desired: Desired[OptionsT], facts: Facts) -> Plan[OpT]: ...

    @abstractmethod
    async def apply(self, context: ApplyContext, plan: Plan[OpT]) -> Applied: ...

    def planned(self, plan: Plan[OpT]) -> list[StepResult]:
        """The plan as shown by a dry run (one result; provision shows one per user)."""
        return [plan.result("failed" if plan.blocked else ("planned" if plan.pending else "unchanged"))]

    def done(self, plan: Plan[OpT], facts: Facts) -> Applied:
        """Applied with nothing to run."""
        return Applied([plan.result("changed" if plan.pending else "unchanged")], facts)


AnyStep = Step[Any, Any, Any]
