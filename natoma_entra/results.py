"""Results of a run as data: each step's changes, warnings and facts, printed as text for people or as one JSON document
for machines."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, PrivateAttr

Action = Literal["create", "update", "delete", "none"]
Status = Literal["unchanged", "changed", "planned", "failed", "skipped"]


class Change(BaseModel):
    action: Action
    target: str
    detail: dict[str, Any] = Field(default_factory=dict)


class StepResult(BaseModel):
    step: str
    status: Status
    changes: list[Change] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    info: dict[str, Any] = Field(default_factory=dict)  # step facts: job state, verified credentials, ...
    error: str | None = None
    fix: str | None = None

    @property
    def pending(self) -> list[Change]:
        return [c for c in self.changes if c.action != "none"]

    @property
    def made(self) -> list[Change]:
        """The changes made (or, in a dry run, planned): a failed or skipped step's pending changes are what it set
        out to do, and nothing says they were made."""
        return self.pending if self.status in ("changed", "planned") else []


class Report(BaseModel):
    command: str
    app: dict[str, Any] = Field(default_factory=dict)
    dry_run: bool = False
    steps: list[StepResult] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    ok: bool = True  # agrees with the exit code: false exactly when the run exits non-zero for a failure
    exit_code: int = 0
    error: str | None = None  # when not ok: what stopped the run (the failed step's error) ...
    fix: str | None = None  # ... and what to do
    # a dry run that planned around bad input (a configured group that does not exist): it exits 2, as the real run
    # would; the failed step says what and the fix (not a field of the JSON document: exit_code says it)
    _bad_input: bool = PrivateAttr(default=False)

    @property
    def bad_input(self) -> bool:
        return self._bad_input

    @bad_input.setter
    def bad_input(self, value: bool) -> None:
        self._bad_input = value

    def add(self, result: StepResult) -> StepResult:
        self.steps.append(result)
        self.warnings.extend(w for w in result.warnings if w not in self.warnings)
        if result.status == "failed":
            self.ok = False
        return result

    @property
    def pending(self) -> bool:
        return any(s.pending for s in self.steps if s.status in ("planned",)) or any(
            s.info.get("state") in ("missing", "drifted") for s in self.steps)
