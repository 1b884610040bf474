"""Step 3: the provisioning job's user mapping sends the user's Natoma role (guide step 3).

Single role (the guide's way):  SingleAppRoleAssignment([appRoleAssignments]) -> roles[primary eq "True"].value
Multi role (--multi-role):      AssertiveAppRoleAssignmentsComplex([appRoleAssignments]) -> roles

Graph facts (Microsoft Graph docs synchronization-synchronizationschema-update.md,
synchronization-attributemapping.md, synchronization-directorydefinition.md; Entra docs
customize-application-attributes.md):
- PUT .../jobs/{id}/schema fully replaces the schema, so the GET body goes back as the same JSON value with only our
  change in it: other mappings, their order, metadata, explicit nulls and fields we do not know. The schema is read
  and written as raw JSON (the SDK's typed models drop fields: docs/dev/architecture.md), and there is no PATCH for
  it (msgraph-sdk-python#820). Top-level annotations
  (`@odata.context`, `@microsoft.graph.tips`) are not part of the resource and are not sent back.
- The user object mapping is the one whose sourceObjectName is "User" (its name differs between tenants).
- A mapping's target attribute must be defined on the target directory's object; `roles` (for the complex mapping)
  is not in the scim template's default list, so its attributeDefinition is added in the same PUT.
- SingleAppRoleAssignment and a complex role mapping must not both target roles: switching mode removes the other.
"""
from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Union

from pydantic import ConfigDict, Field

from ..graph.errors import GraphError
from ..graph.lookups import App
from ..graph.retry import AFTER_CREATE
from ..json_copy import copy_json
from ..natoma_roles import MULTI_ROLE_EXPRESSION, MULTI_ROLE_TARGET, SINGLE_ROLE_EXPRESSION, SINGLE_ROLE_TARGET
from ..results import Change, StepResult
from .base import (JSON, Applied, ApplyContext, Desired, ExistingJob, Facts, JobRef, NewJob, Operation, Options, Plan,
                   Step, job_id_of, shown_job_id)
from .common import failed
from .job import (SCIM_TEMPLATE, CreateJob, create_job, job_path, read_job, read_schema, read_templates,
                  template_choice, template_schema_path)

if TYPE_CHECKING:
    from ..session import Session

NAME = "mapping"
ROLE_SOURCE_ATTRIBUTE = "appRoleAssignments"
SINGLE_ROLE_FUNCTION = "SingleAppRoleAssignment"
MULTI_ROLE_FUNCTION = "AssertiveAppRoleAssignmentsComplex"
# Functions over appRoleAssignments that write roles (Entra docs functions-for-customizing-application-data.md).
ROLE_FUNCTIONS = {"singleapproleassignment", "approleassignmentscomplex", "assertiveapproleassignmentscomplex"}


class SchemaError(Exception):
    """The schema cannot take the mapping (no user object mapping, no target directory)."""

    def __init__(self, message: str, fix: str | None = None):
        super().__init__(message)
        self.message = message
        self.fix = fix


# -- the documented shapes (synchronization-objectmapping.md, synchronization-attributemapping.md) -------------------------------------------------------------------

def role_source(function: str) -> dict:
    """attributeMappingSource of `function([appRoleAssignments])`, as in the Graph docs' objectMapping example."""
    return {
        "expression": f"{function}([{ROLE_SOURCE_ATTRIBUTE}])",
        "name": function,
        "parameters": [
            {"key": "source",
             "value": {"expression": f"[{ROLE_SOURCE_ATTRIBUTE}]", "name": ROLE_SOURCE_ATTRIBUTE, "parameters": [],
                       "type": "Attribute"}},
        ],
        "type": "Function",
    }


def role_mapping(function: str, target: str) -> dict:
    return {
        "defaultValue": None,
        "exportMissingReferences": False,
        "flowBehavior": "FlowWhenChanged",
        "flowType": "Always",
        "matchingPriority": 0,
        "source": role_source(function),
        "targetAttributeName": target,
    }


def attribute_definition(name: str, multivalued: bool) -> dict:
    return {
        "anchor": False,
        "caseExact": False,
        "defaultValue": None,
        "flowNullValues": False,
        "multivalued": multivalued,
        "mutability": "ReadWrite",
        "name": name,
        "required": False,
        "type": "String",
        "apiExpressions": [],
        "metadata": [],
        "referencedObjects": [],
    }


@dataclass(frozen=True)
class Mode:
    name: str
    function: str
    expression: str
    target: str
    multivalued: bool
    other_target: str  # the other mode's target: its role mapping is removed


SINGLE = Mode("single-role", SINGLE_ROLE_FUNCTION, SINGLE_ROLE_EXPRESSION, SINGLE_ROLE_TARGET, False, MULTI_ROLE_TARGET)
MULTI = Mode("multi-role", MULTI_ROLE_FUNCTION, MULTI_ROLE_EXPRESSION, MULTI_ROLE_TARGET, True, SINGLE_ROLE_TARGET)


# -- reading a source -------------------------------------------------------------------------------------------------

def _squash(expr: Any) -> str:
    return re.sub(r"\s+", "", expr).lower() if isinstance(expr, str) else ""


def expression_of(source: Any) -> str | None:
    """The readable expression of an attributeMappingSource (None for a constant-default mapping with no source)."""
    if not isinstance(source, dict):
        return None
    if source.get("expression"):
        return source["expression"]
    kind, name = source.get("type"), source.get("name")
    if kind == "Attribute":
        return f"[{name}]"
    if kind == "Constant":
        return json.dumps(name)
    if kind == "Function":
        args = [expression_of((p or {}).get("value")) or "" for p in source.get("parameters") or []]
        return f"{name}({', '.join(args)})"
    return None


def function_over_assignments(source: Any) -> str | None:
    """Lower-cased function name when `source` is F([appRoleAssignments]) (by structure or by expression text)."""
    if not isinstance(source, dict):
        return None
    if source.get("type") == "Function" and isinstance(source.get("name"), str):
        params = source.get("parameters") or []
        if (len(params) == 1 and isinstance(params[0], dict) and isinstance(params[0].get("value"), dict)
                and params[0]["value"].get("type") == "Attribute"
                and params[0]["value"].get("name") == ROLE_SOURCE_ATTRIBUTE):
            return source["name"].lower()
    m = re.fullmatch(r"([a-z]+)\(\[approleassignments\]\)", _squash(source.get("expression")))
    return m.group(1) if m else None


def is_role_source(source: Any, mode: Mode) -> bool:
    return function_over_assignments(source) == mode.function.lower()


def _is_role_function(source: Any) -> bool:
    return function_over_assignments(source) in ROLE_FUNCTIONS


# -- finding the parts of the schema ----------------------------------------------------------------------------------

@dataclass
class Where:
    rule_index: int
    mapping_index: int
    rule: dict
    object_mapping: dict
    target_directory: str
    target_object: dict
    directory_index: int
    object_index: int
    warnings: list[str] = field(default_factory=list)

    @property
    def mappings_path(self) -> str:
        return f"synchronizationRules[{self.rule_index}].objectMappings[{self.mapping_index}].attributeMappings"


def locate(schema: dict) -> Where:
    """The rule and objectMapping whose source object is User, and the target directory's object it maps to."""
    found = []
    for ri, rule in enumerate(schema.get("synchronizationRules") or []):
        if not isinstance(rule, dict):
            continue
        for mi, om in enumerate(rule.get("objectMappings") or []):
            if isinstance(om, dict) and om.get("sourceObjectName") == "User":
                found.append((ri, mi, rule, om))
    if not found:
        raise SchemaError("the provisioning job's schema has no object mapping for users (sourceObjectName 'User')",
                          fix="restore the default mappings (Provisioning -> Mappings -> Restore default mappings), "
                              "then run the command again")
    warnings = []
    if len(found) > 1:
        names = ", ".join(repr(f[3].get("name")) for f in found)
        warnings.append(f"the schema has {len(found)} user object mappings ({names}); the first one is changed")
    ri, mi, rule, om = found[0]
    target_dir_name = rule.get("targetDirectoryName")
    directories = schema.get("directories") or []
    di = next((i for i, d in enumerate(directories) if isinstance(d, dict) and d.get("name") == target_dir_name), None)
    if di is None:
        raise SchemaError(f"the schema has no directory {target_dir_name!r} (the target of rule {rule.get('name')!r})",
                          fix="restore the default schema (Provisioning -> Mappings -> Restore default mappings)")
    directory = directories[di]
    objects = directory.get("objects") or []
    oi = next((i for i, o in enumerate(objects)
               if isinstance(o, dict) and o.get("name") == om.get("targetObjectName")), None)
    if oi is None:
        raise SchemaError(f"directory {target_dir_name!r} defines no object {om.get('targetObjectName')!r} "
                          f"(the target of object mapping {om.get('name')!r})",
                          fix="restore the default schema (Provisioning -> Mappings -> Restore default mappings)")
    return Where(ri, mi, rule, om, str(target_dir_name), objects[oi], di, oi, warnings)


# -- the plan ---------------------------------------------------------------------------------------------------------

@dataclass
class SchemaChange:
    changes: list[Change]
    new_schema: dict | None  # the whole PUT body; None when nothing needs writing
    rule_id: str | None
    warnings: list[str] = field(default_factory=list)
    mode: str = SINGLE.name


def sendable(schema: dict) -> dict:
    """A deep copy without the answer's own annotations (`@odata.context`, `@microsoft.graph.tips`: top-level keys
    that start with "@" describe the answer, not the resource). Everything else goes back as read, properties and
    annotations the CLI does not know included (the PUT replaces the whole schema)."""
    return {k: copy_json(v) for k, v in schema.items() if not k.startswith("@")}


def _pretty(value: Any) -> list[str]:
    return json.dumps(value, indent=2, ensure_ascii=False).splitlines()


def _diff_lines(path: str, old: Any, new: Any) -> list[str]:
    if old is None:
        return [f"+ {path} ="] + ["+   " + line for line in _pretty(new)]
    if new is None:
        return [f"- {path} ="] + ["-   " + line for line in _pretty(old)]
    body = list(difflib.unified_diff(_pretty(old), _pretty(new), lineterm="", n=2))[2:]  # drop the ---/+++ header
    return [f"~ {path}"] + ["  " + line for line in body]


def _target_label(mode: Mode) -> str:
    return f"user mapping {mode.expression} -> {mode.target}"


def schema_change(schema: dict, multi_role: bool = False) -> SchemaChange:
    """Pure: the PUT body that makes `schema` map the user's role, with everything else as read. Never mutates input."""
    mode = MULTI if multi_role else SINGLE
    new = sendable(schema)
    where = locate(new)
    warnings = list(where.warnings)
    om, obj = where.object_mapping, where.target_object
    changes: list[Change] = []
    rule_id = where.rule.get("id")

    # 1. the target attribute is defined on the target directory's object
    attributes = obj.get("attributes")
    if not isinstance(attributes, list):
        attributes = obj["attributes"] = []
    defined = {a.get("name"): a for a in attributes if isinstance(a, dict)}
    if mode.target not in defined:
        definition = attribute_definition(mode.target, mode.multivalued)
        path = f"directories[{where.directory_index}].objects[{where.object_index}].attributes[{len(attributes)}]"
        attributes.append(definition)
        changes.append(Change(action="create", target=f"attribute {mode.target} on {where.target_directory} "
                                                       f"{obj.get('name')}",
                              detail={"path": path, "why": "not defined on the target directory's user object",
                                      "definition": definition, "diff": _diff_lines(path, None, definition)}))
    elif mode.multivalued and defined[mode.target].get("multivalued") is False:
        warnings.append(f"attribute {mode.target!r} on {where.target_directory} {obj.get('name')} is single-valued; "
                        "AssertiveAppRoleAssignmentsComplex sends several roles (the definition is left as it is)")

    # 2. mappings that go: the other mode's role mapping (two role mappings must not both write roles), and a
    #    second mapping to our target (it would fight the first). Their paths index the schema as read.
    mappings = om.get("attributeMappings")
    if not isinstance(mappings, list):
        mappings = om["attributeMappings"] = []
    drop: list[int] = []
    first_same = None
    for j, m in enumerate(mappings):
        if not isinstance(m, dict):
            continue
        target, source = m.get("targetAttributeName"), m.get("source")
        if target == mode.target:
            if first_same is None:
                first_same = j
            else:
                drop.append(j)
        elif target == mode.other_target:
            if mode is MULTI or _is_role_function(source):
                drop.append(j)
            else:
                warnings.append(f"the user mapping {expression_of(source)} -> {target!r} also writes roles; "
                                "it is left as it is")
        elif _is_role_function(source):
            warnings.append(f"the user mapping {expression_of(source)} -> {target!r} also maps app role "
                            "assignments; it is left as it is")
    for j in drop:
        old = mappings[j]
        path = f"{where.mappings_path}[{j}]"
        old_expr = expression_of(old.get("source"))
        why = (f"a second mapping to {mode.target}" if old.get("targetAttributeName") == mode.target
               else f"{mode.name} mode maps roles with {mode.function}")
        changes.append(Change(action="delete", target=f"user mapping {old_expr} -> {old.get('targetAttributeName')}",
                              detail={"path": path, "why": why, "old": old, "oldExpression": old_expr,
                                      "diff": _diff_lines(path, old, None)}))
    mappings[:] = [m for j, m in enumerate(mappings) if j not in set(drop)]
    if first_same is not None:
        first_same -= sum(1 for j in drop if j < first_same)

    # 3. the role mapping itself. Paths index the schema as written.
    desired = role_mapping(mode.function, mode.target)
    label = _target_label(mode)
    if first_same is None:
        path = f"{where.mappings_path}[{len(mappings)}]"
        mappings.append(desired)
        changes.append(Change(action="create", target=label,
                              detail={"path": path, "expression": mode.expression, "mapping": desired,
                                      "diff": _diff_lines(path, None, desired)}))
    else:
        i = first_same
        old = mappings[i]
        path = f"{where.mappings_path}[{i}]"
        if is_role_source(old.get("source"), mode):
            fixes: dict[str, Any] = {}
            if (old.get("flowType") or "Always") != "Always":
                fixes["flowType"] = "Always"
            if (old.get("matchingPriority") or 0) != 0:
                fixes["matchingPriority"] = 0
            if fixes:
                updated = {**old, **fixes}
                mappings[i] = updated
                why = "; ".join(f"{k} {old.get(k)!r} -> {v!r}" for k, v in fixes.items())
                changes.append(Change(action="update", target=label,
                                      detail={"path": path, "why": why, "diff": _diff_lines(path, old, updated)}))
            else:
                changes.append(Change(action="none", target=label, detail={"path": path}))
        else:
            # another expression to the same target: replace it (keeping fields we do not know), report the old one
            replacement = {**old, **desired}
            mappings[i] = replacement
            old_expr = expression_of(old.get("source"))
            why = f"replaces {old_expr}" if old_expr else f"replaces the constant default {old.get('defaultValue')!r}"
            changes.append(Change(action="update", target=label,
                                  detail={"path": path, "why": why, "old": old, "oldExpression": old_expr,
                                          "diff": _diff_lines(path, old, replacement)}))

    pending = any(c.action != "none" for c in changes)
    return SchemaChange(changes=changes, new_schema=new if pending else None, rule_id=rule_id, warnings=warnings,
                       mode=mode.name)


# -- the step ---------------------------------------------------------------------------------------------------------

class PutSchema(Operation):
    """PUT the job's whole schema. `schema` None: the job is created by this run and its own schema could not be read
    beforehand; the mapping is then made on that schema once the job exists (the same pure schema_change)."""

    kind: Literal["put-schema"] = "put-schema"
    sp_id: str
    job: JobRef
    schema_: JSON | None = Field(default=None, alias="schema")
    multi_role: bool = False

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @property
    def method(self) -> str:
        return "PUT"

    @property
    def path(self) -> str:
        return f"{job_path(self.sp_id, shown_job_id(self.job))}/schema"

    @property
    def body(self) -> JSON | None:
        return self.schema_


MappingOperation = Union[CreateJob, PutSchema]


@dataclass
class Current:
    app: App
    job: dict | None
    schema: dict | None  # the job's schema; with no job yet, the template's default schema (None: unreadable)
    template_id: str  # with no job yet: the template the job is created from
    fallbacks: list[str] = field(default_factory=list)  # listed templates to try when Graph refuses it
    schema_unreadable: str | None = None  # why the template's schema could not be read


class MappingStep(Step[Current, MappingOperation, Options]):
    name = NAME
    reading = "reading the provisioning job"

    async def read(self, session: "Session", desired: Desired[Options]) -> Current:
        return await read(session)

    def plan(self, current: Current, desired: Desired[Options], facts: Facts) -> Plan[MappingOperation]:
        return plan(current, desired, facts)

    async def apply(self, context: ApplyContext, plan: Plan[MappingOperation]) -> Applied:
        return await apply(context, plan)


async def read(session: "Session") -> Current:
    app = await session.app()
    job = await read_job(session)
    if job is not None:
        return Current(app=app, job=job, schema=await read_schema(session, job), template_id=job.get("templateId") or "")
    if app.planned:
        return Current(app=app, job=None, schema=None, template_id=SCIM_TEMPLATE,
                       schema_unreadable="the app does not exist yet")

    # "scim" is tried first whatever the list says (template_choice), so its schema is asked for beside the list
    async def templates() -> list[dict]:
        try:
            return await read_templates(session)
        except GraphError as e:
            if e.status not in (400, 404):
                raise
            return []

    async def scim_schema() -> tuple[dict | None, str | None]:
        try:
            return await session.cached(f"template-schema:{SCIM_TEMPLATE}", lambda: session.graph.get(
                template_schema_path(app.sp_id, SCIM_TEMPLATE))), None
        except GraphError as e:  # not offered for this app (docs/graph-assumptions.md): planned once the job exists
            if e.status not in (400, 403, 404):
                raise
            return None, e.headline

    listed, (schema, why) = await session.graph.gather(templates(), scim_schema())
    template_id, fallbacks = template_choice(listed)
    return Current(app=app, job=None, schema=schema, template_id=template_id, fallbacks=fallbacks,
                   schema_unreadable=why)


def plan(current: Current, desired: Desired[Options], facts: Facts) -> Plan[MappingOperation]:
    """Pure: the job to create (when there is none) and the schema PUT that maps the user's role."""
    multi = desired.options.multi_role
    changes: list[Change] = []
    ops: list[MappingOperation] = []
    info: dict[str, Any] = {}
    app = current.app
    job_ref: ExistingJob | NewJob
    if current.job is None:
        changes.append(Change(action="create", target=f"provisioning job (template {current.template_id})",
                              detail={"templateId": current.template_id}))
        ops.append(CreateJob(sp_id=app.sp_id, template_id=current.template_id, fallbacks=list(current.fallbacks)))
        after = facts.but(job_planned=True, template_id=current.template_id)
        job_ref = NewJob()
    else:
        info["jobId"] = current.job.get("id")
        after = facts.but(job=current.job, template_id=current.job.get("templateId"))
        job_ref = ExistingJob(id=current.job["id"])
    mode = MULTI if multi else SINGLE
    if current.schema is None:
        info["note"] = ("the template's default schema cannot be read before the job exists "
                        f"({current.schema_unreadable}): the mapping is planned and checked once the job is created")
        changes.append(Change(action="create", target=_target_label(mode), detail={"expression": mode.expression}))
        ops.append(PutSchema(sp_id=app.sp_id, job=job_ref, schema=None, multi_role=multi))
        return Plan(step=NAME, changes=changes, operations=ops, info={**info, "mode": mode.name}, facts=after)
    try:
        p = schema_change(current.schema, multi_role=multi)
    except SchemaError as e:
        return Plan(step=NAME, changes=changes, error=e.message, fix=e.fix, facts=after)
    if current.job is None:
        info["note"] = f"no provisioning job yet: planned against the {current.template_id!r} template's default schema"
    info["ruleId"] = p.rule_id
    info["mode"] = p.mode
    if current.job is None or p.new_schema is not None:
        # a job created by this run: its own schema is the one written (the template's is only the plan's preview)
        ops.append(PutSchema(sp_id=app.sp_id, job=job_ref, schema=p.new_schema if current.job is not None else None,
                             multi_role=multi))
    return Plan(step=NAME, changes=changes + p.changes, operations=ops, warnings=p.warnings, info=info, facts=after)


async def apply(context: ApplyContext, plan: Plan[MappingOperation]) -> Applied:
    session = context.session
    result = plan.result("changed")
    facts = context.facts
    created = next((op for op in plan.operations if isinstance(op, CreateJob)), None)
    if created is not None:
        try:
            job, template_id, warnings = await create_job(session, created.template_id, created.fallbacks)
        except GraphError as e:
            return Applied([failed(NAME, e, plan.changes, "creating the provisioning job")], context.facts)
        result.warnings.extend(warnings)
        result.changes[0].detail["jobId"] = job.get("id")
        result.info["jobId"] = job.get("id")
        result.info.pop("note", None)  # planned against the template: the job now exists
        facts = facts.but(job=job, template_id=template_id, job_planned=False)
    put = next((op for op in plan.operations if isinstance(op, PutSchema)), None)
    if put is None:
        return Applied([result], facts)
    job_id = job_id_of(put.job, facts)
    path = f"{job_path(put.sp_id, job_id)}/schema"
    body = put.body
    # right after the job was created by this run, its schema may answer 403/404/409 a while (replication)
    put_policy = AFTER_CREATE.but(what="writing the new job's schema") if created is not None else None
    try:
        if body is None:
            # the new job's own schema: it is what is written
            schema = await session.graph.get(path, policy=AFTER_CREATE.but(what="reading the new job's schema"))
            session.known("schema", schema)
            try:
                p = schema_change(schema, multi_role=put.multi_role)
            except SchemaError as e:
                return Applied([StepResult(step=NAME, status="failed", changes=result.changes,
                                           warnings=result.warnings, error=e.message, fix=e.fix)], facts)
            body = p.new_schema
            result.info.update(ruleId=p.rule_id, mode=p.mode)
        if body is not None:
            session.progress("writing the provisioning schema...")
            await session.graph.put(path, body, policy=put_policy)
            session.known("schema", body)
    except GraphError as e:
        session.forget("schema")
        return Applied([failed(NAME, e, result.changes, "writing the provisioning schema")], facts)
    return Applied([result], facts)


STEP = MappingStep()
