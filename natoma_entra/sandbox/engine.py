"""The sandbox's provisioning engine: Entra's provisioning service, reduced to what the Natoma setup exercises.

Entry points (docs/dev/sandbox-contract.md; called by graph.py):

- :func:`validate_credentials` - "Test connection": ``GET /Users?filter=userName eq "<random>"`` (and the same for
  Groups) on the SCIM endpoint, as Entra docs use-scim-to-provision-users-and-groups.md describes.
- :func:`run_cycle` - one full cycle at once: users in scope are created/updated/skipped in Natoma's stand-in, users
  that left scope are disabled, the job's ``status`` is updated (or quarantined when the endpoint refuses us). With
  the tenant's ``cycle_seconds_per_user`` > 0 (SandboxOptions) the status shows the cycle running for that long in
  simulated time: ``progress`` (completedUnits of totalUnits) and a growing ``synchronizedEntryCountByType``, then
  the final lastExecution and steady state (:func:`advance_cycles`, called on each read of the job). Natoma itself
  is written at once (a simplification).
- :func:`provision_on_demand` - one user now; returns the documented stringKeyStringValuePair body.

Every per-user outcome appends a provisioningObjectSummary to ``state["provisioningLogs"]``.

Scope (Entra docs known-issues.md, "nested groups"): with SyncAll "false" a user is in scope when assigned to the service
principal directly or as a DIRECT member of an assigned group; members of nested groups are not. With SyncAll "true"
every user is in scope. A user's grants are the assignments on this SP (direct + through direct groups), de-duplicated
by appRoleId.

Simplifications (documented, deliberate): users only (the group object mapping is not run); Reference targets
(manager) are not flowed; PATCH ops are Entra-like but not byte-identical (Replace on a path; Add of a whole element
when a filtered element does not exist yet); a Natoma user is "previously provisioned" when its userName matches an
Entra user's matching value.

modifiedProperties: for an export (create/update/disable) they list the changed TARGET attributes with old and new
values; every ``roles...`` target is reported under displayName ``"roles"``. For a skip or failure they list the
source attributes, as the provisionOnDemand doc example does.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from natoma_entra.sandbox.expressions import ComplexRoles, ExpressionError, Grant, ROLE_TYPE, evaluate
from natoma_entra.sandbox.natoma import (NatomaStandIn, handles_url, is_loopback_host, probe_answer, save_standin,
                                         standin_for, standin_token)
from natoma_entra.sandbox.schema_template import default_schema
from natoma_entra.sandbox.state import GraphFault

SOURCE_SYSTEM = "Azure Active Directory"
TARGET_SYSTEM = "customappsso"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SERVICE = {"id": "", "displayName": "Azure AD Provisioning Service", "initiatorType": "system"}
ON_DEMAND = {"id": "", "displayName": "Provision on demand", "initiatorType": "user"}
QUARANTINE_RETRY = _dt.timedelta(hours=24)  # UNCONFIRMED: Entra backs off towards one attempt a day

_FILTERED = re.compile(r'^(?P<attr>\w+)\[(?P<key>\w+) eq "(?P<val>[^"]*)"\]\.(?P<sub>\w+)$')


# ==================================================================================================================
# small helpers
# ==================================================================================================================


def _now(tenant: Any) -> _dt.datetime:
    now = getattr(tenant, "now", None)
    return now() if callable(now) else _dt.datetime.now(_dt.timezone.utc)


def _iso(ts: _dt.datetime) -> str:
    return ts.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")


def _parse_iso(text: str) -> _dt.datetime:
    """Read back what :func:`_iso` wrote (7 fractional digits, as .NET writes them, and "Z"): Python 3.11's
    fromisoformat reads both."""
    return _dt.datetime.fromisoformat(text)


def _secrets(state: dict, sp_id: str) -> dict[str, str]:
    return {str(s.get("key")): str(s.get("value") or "") for s in state.get("secrets", {}).get(sp_id, [])
            if isinstance(s, dict)}


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, ComplexRoles):
        return ", ".join(value.values()) or None
    if isinstance(value, list):
        return ", ".join(str(_text(v)) for v in value) or None
    return str(value)


def _norm(value: Any) -> str | None:
    t = _text(value)
    if t is None or t == "":
        return None
    return t.lower() if t.lower() in ("true", "false") else t


# ==================================================================================================================
# validateCredentials
# ==================================================================================================================


def _connect(tenant: Any, base_address: str | None, token: str | None) -> tuple[str | None, str | None, int | None]:
    """Reach the SCIM endpoint as Test Connection does. Returns (error code, reason, HTTP status) or (None, None, 200)."""
    url = (base_address or "").strip()
    if not url:
        return "InvalidCredentials", "The Tenant URL (BaseAddress) is empty.", None
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if parts is None or not parts.scheme or not parts.hostname:
        return "InvalidCredentials", f"The Tenant URL '{url}' is not an absolute URL.", None
    if parts.scheme != "https" and not (parts.scheme == "http" and is_loopback_host(parts.hostname)):
        return (
            "InvalidCredentials",
            f"The Tenant URL '{url}' must use https:// (http:// is accepted only for a loopback address).",
            None,
        )
    if not handles_url(url):
        if is_loopback_host(parts.hostname):
            reason = f"Could not connect to the SCIM endpoint {url}: connection refused (nothing serves SCIM there)."
        else:
            reason = f"Could not connect to the SCIM endpoint {url}: name resolution failed for host {parts.hostname}."
        return "ConnectionFailure", reason, None
    # GET /Users?filter=userName eq "<random>" (then /Groups): the stand-in's answer to that probe is its token check
    # (natoma.probe_answer), read without building the SCIM server
    if probe_answer(token, standin_token(tenant)) == 401:
        return (
            "Unauthorized",
            f"The SCIM endpoint {url} answered 401 Unauthorized to GET /Users: "
            "you appear to have entered invalid credentials (check the Secret Token).",
            401,
        )
    return None, None, 200


def validate_credentials(tenant: Any, credentials: dict[str, str]) -> str | None:
    """Test connection: None when the SCIM endpoint answers with these credentials, else the reason."""
    _, reason, _ = _connect(tenant, credentials.get("BaseAddress"), credentials.get("SecretToken"))
    return reason


# ==================================================================================================================
# scope and grants
# ==================================================================================================================


def _sp_roles(state: dict, sp_id: str) -> dict[str, dict]:
    sp = state["servicePrincipals"].get(sp_id) or {}
    return {r.get("id"): r for r in sp.get("appRoles") or []}


def assignments_by_user(state: dict, sp_id: str) -> dict[str, list[dict]]:
    """User id -> the appRoleAssignments on this SP that reach the user (directly, or through a direct group)."""
    users = state.get("users", {})
    result: dict[str, list[dict]] = {}
    for a in state.get("appRoleAssignments", {}).values():
        if a.get("resourceId") != sp_id:
            continue
        principal = a.get("principalId")
        if a.get("principalType") == "User" or principal in users:
            if principal in users:
                result.setdefault(principal, []).append(a)
        else:  # a group: its direct members that are users (nested groups are not in scope)
            for member in state.get("members", {}).get(principal, []):
                if member in users:
                    result.setdefault(member, []).append(a)
    return result


def grants_for(state: dict, sp_id: str, assignments: list[dict]) -> list[Grant]:
    """The user's grants: one per distinct appRoleId, with the role's value/displayName as the SP shows it."""
    roles = _sp_roles(state, sp_id)
    grants: dict[str, Grant] = {}
    for a in sorted(assignments, key=lambda a: (a.get("createdDateTime") or "", a.get("id") or "")):
        role_id = str(a.get("appRoleId"))
        if role_id in grants:
            continue
        role = roles.get(role_id) or {}
        display = role.get("displayName") or ("Default Access" if role_id == "00000000-0000-0000-0000-000000000000" else None)
        grants[role_id] = Grant(app_role_id=role_id, value=role.get("value"), display_name=display)
    return list(grants.values())


def users_in_scope(tenant: Any, sp_id: str) -> dict[str, list[Grant]]:
    """User id -> grants, for every user the job provisions (SyncAll decides between assigned and all)."""
    state = tenant.state
    by_user = assignments_by_user(state, sp_id)
    sync_all = str(_secrets(state, sp_id).get("SyncAll", "false")).lower() == "true"
    ids = list(state.get("users", {})) if sync_all else [u for u in state.get("users", {}) if u in by_user]
    return {u: grants_for(state, sp_id, by_user.get(u, [])) for u in ids}


# ==================================================================================================================
# schema: the user mapping and SCIM documents
# ==================================================================================================================


@dataclass
class UserMapping:
    rule: dict
    mapping: dict
    target_attributes: dict[str, dict]  # name -> attributeDefinition of the target User object

    @property
    def matching(self) -> list[dict]:
        found = [m for m in self.mapping.get("attributeMappings", []) if (m.get("matchingPriority") or 0) > 0]
        return sorted(found, key=lambda m: m["matchingPriority"])


def _schema(state: dict, job_id: str) -> dict:
    return state.get("schemas", {}).get(job_id) or default_schema()


def find_user_mapping(schema: dict, rule_id: str | None = None) -> UserMapping | None:
    """The rule (``rule_id`` or the first) whose objectMappings map source ``User``, its mapping, its target attributes."""
    for rule in schema.get("synchronizationRules") or []:
        if rule_id is not None and rule.get("id") != rule_id:
            continue
        for mapping in rule.get("objectMappings") or []:
            if mapping.get("sourceObjectName") == "User" and mapping.get("enabled", True):
                target: dict[str, dict] = {}
                for d in schema.get("directories") or []:
                    if d.get("name") != rule.get("targetDirectoryName"):
                        continue
                    for o in d.get("objects") or []:
                        if o.get("name") == mapping.get("targetObjectName"):
                            target = {a["name"]: a for a in o.get("attributes") or []}
                return UserMapping(rule, mapping, target)
    return None


def source_attributes(user: dict, grants: list[Grant]) -> dict[str, Any]:
    """The Entra user as the provisioning service sees it (string values; appRoleAssignments as grants)."""
    attrs: dict[str, Any] = {k: v for k, v in user.items() if not isinstance(v, (dict, list)) and k != "id"}
    enabled = user.get("accountEnabled", True) is not False
    attrs.update(
        {
            "objectId": user.get("id"),
            "accountEnabled": "True" if enabled else "False",
            # A disabled account is provisioned as soft-deleted (active false) in the default mapping.
            "IsSoftDeleted": "False" if enabled else "True",
            "appRoleAssignments": grants,
        }
    )
    return {k: (_text(v) if not isinstance(v, list) else v) for k, v in attrs.items()}


def _source_details(attrs: dict[str, Any]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for k, v in attrs.items():
        out[k] = ", ".join(g.label for g in v) if k == "appRoleAssignments" else _text(v)
    return out


def _typed(value: Any, definition: dict | None) -> Any:
    if definition and definition.get("type") == "Boolean" and isinstance(value, str):
        return value.strip().lower() == "true"
    return value


def _filter_value(key: str, value: str) -> Any:
    return "True" if key == "primary" and value.lower() == "true" else value


def _element(items: list, key: str, value: str) -> dict | None:
    for item in items:
        if isinstance(item, dict) and str(item.get(key)).lower() == value.lower():
            return item
    return None


def get_path(doc: dict, target: str) -> Any:
    """The value a SCIM resource holds at a target attribute name (Entra's path syntax)."""
    if target.startswith("urn:"):
        urn, _, attr = target.rpartition(":")
        return (doc.get(urn) or {}).get(attr)
    m = _FILTERED.match(target)
    if m:
        el = _element(doc.get(m["attr"]) or [], m["key"], m["val"])
        return None if el is None else el.get(m["sub"])
    if "." in target:
        head, _, sub = target.partition(".")
        return (doc.get(head) or {}).get(sub)
    value = doc.get(target)
    if target == "roles" and isinstance(value, list):
        return [r.get("value") for r in value if isinstance(r, dict)]
    return value


def set_path(doc: dict, target: str, value: Any) -> None:
    """Write a value at a target attribute name into a SCIM document being built (POST body)."""
    if isinstance(value, ComplexRoles):
        doc[target] = [dict(r) for r in value.roles]
        return
    if target.startswith("urn:"):
        urn, _, attr = target.rpartition(":")
        doc.setdefault(urn, {})[attr] = value
        if urn not in doc.setdefault("schemas", [CORE_USER]):
            doc["schemas"].append(urn)
        return
    m = _FILTERED.match(target)
    if m:
        items = doc.setdefault(m["attr"], [])
        el = _element(items, m["key"], m["val"])
        if el is None:
            el = {m["key"]: _filter_value(m["key"], m["val"])}
            if m["attr"] == "roles":
                el["type"] = ROLE_TYPE
            if m["attr"] == "emails" and m["val"] == "work":
                el["primary"] = True
            items.append(el)
        el[m["sub"]] = value
        return
    if "." in target:
        head, _, sub = target.partition(".")
        doc.setdefault(head, {})[sub] = value
        return
    doc[target] = value


# ==================================================================================================================
# one user
# ==================================================================================================================


@dataclass
class Step:
    name: str
    kind: str  # Import | Scoping | Matching | Processing | Export
    status: str  # Success | Skipped | Failure
    description: str
    details: dict = field(default_factory=dict)
    timestamp: str = ""


@dataclass
class Outcome:
    action: str = "other"  # create | update | disable | other
    status: str = "success"  # success | failure | skipped
    error_code: str | None = None
    reason: str | None = None
    recommended: str | None = None
    steps: list[Step] = field(default_factory=list)
    modified: list[dict] = field(default_factory=list)
    target_id: str = ""
    target_name: str = ""
    target_details: dict = field(default_factory=dict)
    exported: bool = False
    change_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: str = ""
    ended: str = ""


@dataclass
class Run:
    tenant: Any
    sp: dict
    job_id: str
    cycle_id: str
    initiated_by: dict
    base_address: str
    token: str
    standin: NatomaStandIn
    client: httpx.Client
    mapping: UserMapping | None

    def now(self) -> str:
        return _iso(_now(self.tenant))


def _fail(out: Outcome, code: str, reason: str, recommended: str | None = None) -> Outcome:
    out.status, out.error_code, out.reason, out.recommended = "failure", code, reason, recommended
    return out


def _scim_error(response: httpx.Response) -> tuple[str, str]:
    codes = {401: "Unauthorized", 403: "NotPermitted", 409: "EntryConflict", 429: "TooManyRequests"}
    code = codes.get(response.status_code) or (
        "InternalServerError" if response.status_code >= 500 else "WebExceptionProtocolError"
    )
    try:
        detail = response.json().get("detail") or response.text
    except ValueError:
        detail = response.text
    return code, f"The SCIM endpoint returned an error response with the HTTP status code {response.status_code}: {detail}"


def _find_target(run: Run, view: dict[str, Any], out: Outcome, upn: str) -> tuple[dict | None, bool]:
    """Look the user up in Natoma by the matching attributes. Returns (resource or None, ok)."""
    matching = run.mapping.matching if run.mapping else []
    for m in matching or [{"targetAttributeName": "userName"}]:
        target = m["targetAttributeName"]
        value = view.get(target)
        if value in (None, ""):
            continue
        response = run.client.get("/Users", params={"filter": f'{target} eq "{_text(value)}"'})
        if response.status_code != 200:
            code, reason = _scim_error(response)
            out.steps.append(Step("EntryImport", "Matching", "Failure", f"Failed to query customappsso for '{upn}'", {}, run.now()))
            _fail(out, code, reason, "Check the SCIM endpoint URL and secret token, then retry.")
            return None, False
        found = response.json().get("Resources") or []
        if len(found) > 1:
            out.steps.append(Step("EntryImport", "Matching", "Failure", f"More than one '{upn}' in customappsso", {}, run.now()))
            _fail(out, "SystemForCrossDomainIdentityManagementMultipleEntriesInResponse",
                  f"The SCIM endpoint returned {len(found)} users for {target} eq \"{value}\".")
            return None, False
        if found:
            res = found[0]
            out.steps.append(
                Step("EntryImport", "Matching", "Success", f"Retrieved '{upn}' from customappsso",
                     {"id": res.get("id"), "userName": res.get("userName"), "externalId": res.get("externalId"),
                      "active": _text(res.get("active")), "displayName": res.get("displayName")}, run.now())
            )
            return res, True
    out.steps.append(Step("EntryImport", "Matching", "Success", f"No matching User found in customappsso for '{upn}'", {}, run.now()))
    return None, True


def _roles_label(target: str) -> str:
    return "roles" if target == "roles" or target.startswith("roles[") else target


def _changes(view: dict[str, Any], existing: dict, creating: bool, flow_types: dict[str, str]) -> list[tuple[str, Any, Any]]:
    """(target, old, new) for every mapped target whose value differs from what Natoma holds."""
    changes = []
    for target, new in view.items():
        if not creating and flow_types.get(target) == "ObjectAddOnly":
            continue
        old = get_path(existing, target)
        if isinstance(new, ComplexRoles):
            have = {str(v) for v in (old or [])}
            want = set(new.values())
            differs = have != want if new.assertive else not want <= have
            if differs:
                changes.append((target, sorted(have), new))
            continue
        if new is None or new == "":
            continue  # null values do not flow (flowNullValues false)
        if _norm(old) != _norm(new):
            changes.append((target, old, new))
    return changes


def _patch_ops(existing: dict, changes: list[tuple[str, Any, Any]], definitions: dict[str, dict]) -> list[dict]:
    ops: list[dict] = []
    pending_elements: dict[tuple[str, str, str], dict] = {}
    for target, _old, new in changes:
        if isinstance(new, ComplexRoles):
            if new.assertive:
                ops.append({"op": "Replace", "path": target, "value": [dict(r) for r in new.roles]})
            else:
                have = {str(v) for v in (get_path(existing, target) or [])}
                ops.append({"op": "Add", "path": target, "value": [dict(r) for r in new.roles if r["value"] not in have]})
            continue
        value = _typed(new, definitions.get(target))
        m = _FILTERED.match(target)
        if m and _element(existing.get(m["attr"]) or [], m["key"], m["val"]) is None:
            key = (m["attr"], m["key"], m["val"])
            el = pending_elements.get(key)
            if el is None:
                el = pending_elements[key] = {m["key"]: _filter_value(m["key"], m["val"])}
                if m["attr"] == "roles":
                    el["type"] = ROLE_TYPE
                ops.append({"op": "Add", "path": m["attr"], "value": [el]})
            el[m["sub"]] = value
            continue
        # Entra sends booleans on PATCH as strings ("False") unless the aadOptscim062020 flag is set.
        ops.append({"op": "Replace", "path": target, "value": _text(value) if isinstance(value, bool) else value})
    return ops


def _modified(changes: list[tuple[str, Any, Any]]) -> list[dict]:
    merged: dict[str, dict] = {}
    for target, old, new in changes:
        label = _roles_label(target)
        entry = merged.setdefault(label, {"displayName": label, "oldValue": None, "newValue": None})
        if _text(old) is not None:
            entry["oldValue"] = _text(old) if entry["oldValue"] is None else f"{entry['oldValue']}, {_text(old)}"
        if _text(new) is not None:
            entry["newValue"] = _text(new) if entry["newValue"] is None else f"{entry['newValue']}, {_text(new)}"
    return list(merged.values())


def _source_modified(attrs: dict[str, Any]) -> list[dict]:
    keys = ["objectId", "accountEnabled", "displayName", "mailNickname", "userPrincipalName", "IsSoftDeleted", "appRoleAssignments"]
    details = _source_details(attrs)
    return [{"displayName": k, "oldValue": None, "newValue": details.get(k)} for k in keys if k in details]


def _evaluate_view(run: Run, attrs: dict[str, Any], out: Outcome) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """Evaluate every attribute mapping. Returns (target view, flowType per target), or None after a failure."""
    view: dict[str, Any] = {}
    flow_types: dict[str, str] = {}
    assert run.mapping is not None
    for am in run.mapping.mapping.get("attributeMappings") or []:
        target = am.get("targetAttributeName")
        definition = run.mapping.target_attributes.get(target)
        if definition is None:
            _fail(out, "SchemaAttributeNotFound",
                  f"The attribute mapping targets '{target}', which is not defined on the User object of the "
                  f"'{run.mapping.rule.get('targetDirectoryName')}' directory in the job's schema.",
                  "Add the attribute to the target directory's User object in the schema (or fix the mapping).")
            return None, flow_types
        if definition.get("type") == "Reference":
            continue  # references (manager) are not flowed by the sandbox
        try:
            value = evaluate(am.get("source"), attrs)
        except ExpressionError as exc:
            _fail(out, exc.code, exc.message,
                  "Keep each user in one Natoma role group, or use AssertiveAppRoleAssignmentsComplex with a 'roles' "
                  "target attribute." if exc.code == "MultipleGrantsNotSupported" else None)
            out.steps.append(Step("EntrySynchronizationError", "Processing", "Failure",
                                  f"Failed to evaluate the mapping for '{target}': {exc.message}",
                                  {"TargetAttribute": target}, run.now()))
            return None, flow_types
        if (value is None or value == "") and am.get("defaultValue") not in (None, ""):
            value = am["defaultValue"]
        view[target] = value
        flow_types[target] = am.get("flowType") or "Always"
    return view, flow_types


def process_user(run: Run, user: dict, grants: list[Grant] | None) -> Outcome:
    """Provision one Entra user (``grants`` None: out of scope). Does the SCIM calls; returns the outcome."""
    out = Outcome(started=run.now())
    upn = str(user.get("userPrincipalName") or user.get("id"))
    out.target_name = upn
    attrs = source_attributes(user, grants or [])
    out.steps.append(Step("EntryImport", "Import", "Success", f"Retrieved User '{upn}' from Azure Active Directory",
                          _source_details(attrs), run.now()))
    assigned = grants is not None
    out.steps.append(Step("EntrySynchronizationScoping", "Scoping", "Success" if assigned else "Skipped",
                          "Determine if User in scope by evaluating against each scoping filter",
                          {"Assigned": _text(assigned), "IsActive": attrs["accountEnabled"],
                           "IsEffectivelyEntitledForProvisioning": _text(assigned),
                           "IsInProvisioningScopeDisplayName": _text(assigned), "ScopeEvaluationResult": "{}"},
                          run.now()))
    if run.mapping is None:
        return _fail(out, "SchemaAttributeNotFound", "The job's schema has no enabled object mapping for source object 'User'.")

    if not assigned:
        return _out_of_scope(run, user, attrs, out)

    view, flow_types = _evaluate_view(run, attrs, out)
    if view is None:
        out.modified = _source_modified(attrs) + [{"displayName": "roles", "oldValue": None, "newValue": None}]
        return out
    existing, ok = _find_target(run, view, out, upn)
    if not ok:
        out.modified = _source_modified(attrs)
        return out
    definitions = run.mapping.target_attributes

    if existing is None:
        body: dict[str, Any] = {"schemas": [CORE_USER], "meta": {"resourceType": "User"}}
        for target, value in view.items():
            if value is None or value == "" or (isinstance(value, ComplexRoles) and not value.roles):
                continue
            set_path(body, target, _typed(value, definitions.get(target)))
        body.setdefault("schemas", [CORE_USER])
        if ENTERPRISE_USER not in body["schemas"]:
            body["schemas"].append(ENTERPRISE_USER)  # Entra declares the extension on every create
        out.action = "create"
        response = run.client.post("/Users", json=body)
        if response.status_code not in (200, 201):
            code, reason = _scim_error(response)
            out.steps.append(Step("EntryExportAdd", "Export", "Failure", f"Failed to create User '{upn}' in customappsso",
                                  {"ReportableIdentifier": upn}, run.now()))
            out.modified = _modified(_changes(view, {}, True, flow_types))
            return _fail(out, code, reason)
        created = response.json()
        out.target_id = created.get("id", "")
        out.exported = True
        out.modified = _modified(_changes(view, {}, True, flow_types))
        out.steps.append(Step("EntryExportAdd", "Export", "Success", f"User '{upn}' was created in customappsso",
                              {"ReportableIdentifier": upn, "id": out.target_id}, run.now()))
        out.ended = run.now()
        return out

    out.target_id = existing.get("id", "")
    changes = _changes(view, existing, False, flow_types)
    if not changes:
        out.status, out.error_code = "skipped", "RedundantExport"
        out.reason = "The state of the user in both the source and target systems already match."
        out.modified = _source_modified(attrs)
        out.steps.append(Step("EntrySynchronizationSkip", "Export", "Skipped",
                              f"The state of the user in both the source and target systems already match. No change to "
                              f"the User '{upn}' currently needs to be made.", {"SkipReason": "RedundantExport"}, run.now()))
        out.ended = run.now()
        return out
    out.action = "update"
    out.modified = _modified(changes)
    ops = _patch_ops(existing, changes, definitions)
    response = run.client.patch(f"/Users/{out.target_id}", json={"schemas": [PATCH_OP], "Operations": ops})
    if response.status_code not in (200, 204):
        code, reason = _scim_error(response)
        out.steps.append(Step("EntryExportUpdate", "Export", "Failure", f"Failed to update User '{upn}' in customappsso",
                              {"ReportableIdentifier": upn}, run.now()))
        return _fail(out, code, reason)
    out.exported = True
    out.steps.append(Step("EntryExportUpdate", "Export", "Success", f"User '{upn}' was updated in customappsso",
                          {"ReportableIdentifier": upn, "id": out.target_id}, run.now()))
    out.ended = run.now()
    return out


def _out_of_scope(run: Run, user: dict, attrs: dict[str, Any], out: Outcome) -> Outcome:
    """A user who is not assigned: disable them in Natoma if they were provisioned and are active, else skip."""
    upn = out.target_name
    skip_deletions = str(_secrets(run.tenant.state, run.sp["id"]).get("SkipOutOfScopeDeletions", "false")).lower() == "true"
    existing = None
    view, _ = _evaluate_matching_only(run, attrs)
    if view is not None and not skip_deletions:
        existing, ok = _find_target(run, view, out, upn)
        if not ok:
            out.modified = _source_modified(attrs)
            return out
    if existing is not None and existing.get("active", True) is not False:
        out.action, out.target_id = "disable", existing.get("id", "")
        response = run.client.patch(f"/Users/{out.target_id}", json={
            "schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]})
        out.modified = [{"displayName": "active", "oldValue": "True", "newValue": "False"}]
        if response.status_code not in (200, 204):
            code, reason = _scim_error(response)
            out.steps.append(Step("EntryExportUpdateSoftDelete", "Export", "Failure",
                                  f"Failed to disable User '{upn}' in customappsso", {"ReportableIdentifier": upn}, run.now()))
            return _fail(out, code, reason)
        out.exported = True
        out.steps.append(Step("EntryExportUpdateSoftDelete", "Export", "Success",
                              f"User '{upn}' was disabled in customappsso (no longer assigned to the application)",
                              {"ReportableIdentifier": upn, "id": out.target_id}, run.now()))
        out.ended = run.now()
        return out
    out.status, out.error_code = "skipped", "NotEffectivelyEntitled"
    out.reason = (f"The User '{upn}' will be skipped: the user is not assigned to the application, directly or "
                  "through a direct member group (nested group membership is not in scope).")
    out.recommended = "Assign the user, or a security group they are a direct member of, to the app with a role."
    out.modified = _source_modified(attrs)
    out.steps.append(Step("EntrySynchronizationSkip", "Export", "Skipped", out.reason,
                          {"SkipReason": "NotEffectivelyEntitled"}, run.now()))
    out.ended = run.now()
    return out


def _evaluate_matching_only(run: Run, attrs: dict[str, Any]) -> tuple[dict[str, Any] | None, None]:
    view: dict[str, Any] = {}
    for m in run.mapping.matching if run.mapping else []:
        try:
            view[m["targetAttributeName"]] = evaluate(m.get("source"), attrs)
        except ExpressionError:
            return None, None
    return (view or None), None


# ==================================================================================================================
# provisioning log records
# ==================================================================================================================


def _record(run: Run, user: dict, out: Outcome) -> dict:
    state = run.tenant.state
    error = None
    if out.status != "success":
        error = {
            "errorCode": out.error_code,
            "reason": out.reason,
            "additionalDetails": None,
            "errorCategory": "nonServiceFailure" if out.status == "failure" else None,
            "recommendedAction": out.recommended,
        }
    ended_s = out.ended or run.now()
    duration = int((_parse_iso(ended_s) - _parse_iso(out.started)).total_seconds() * 1000) if out.started else 0
    app: dict[str, Any] = next((a for a in state.get("applications", {}).values()
                                if a.get("appId") == run.sp.get("appId")), {})
    return {
        "id": str(uuid.uuid4()),
        "activityDateTime": ended_s,
        "tenantId": state.get("tenantId"),
        "jobId": run.job_id,
        "cycleId": run.cycle_id,
        "changeId": out.change_id,
        "provisioningAction": out.action,
        "durationInMilliseconds": max(duration, 0),
        "initiatedBy": dict(run.initiated_by),
        "servicePrincipal": {"id": run.sp.get("id"), "displayName": run.sp.get("displayName")},
        "sourceSystem": {"id": None, "displayName": SOURCE_SYSTEM, "details": {}},
        "targetSystem": {
            "id": None,
            "displayName": TARGET_SYSTEM,
            "details": {"ApplicationId": app.get("appId") or run.sp.get("appId"), "ServicePrincipalId": run.sp.get("id"),
                        "ServicePrincipalDisplayName": run.sp.get("displayName")},
        },
        "sourceIdentity": {"id": user.get("id"), "displayName": user.get("displayName"), "identityType": "User",
                           "details": {"UserPrincipalName": user.get("userPrincipalName")}},
        "targetIdentity": {"id": out.target_id or "", "displayName": out.target_name or "", "identityType": "User",
                           "details": {}},
        "provisioningStatusInfo": {"status": out.status, "errorInformation": error},
        "provisioningSteps": [
            {"name": s.name, "provisioningStepType": s.kind.lower(), "status": s.status.lower(),
             "description": s.description, "details": {k: _text(v) for k, v in s.details.items()}}
            for s in out.steps
        ],
        "modifiedProperties": out.modified,
    }


# ==================================================================================================================
# run_cycle
# ==================================================================================================================


def _job(state: dict, sp_id: str, job_id: str) -> dict:
    job = state.get("jobs", {}).get(sp_id, {}).get(job_id)
    if job is None:
        raise GraphFault(404, "Request_ResourceNotFound", f"Resource '{job_id}' does not exist or one of its queried "
                         "reference-property objects are not present.")
    return job


def _open(tenant: Any, sp_id: str, job_id: str, initiated_by: dict, secrets: dict[str, str]) -> Run:
    state = tenant.state
    sp = state["servicePrincipals"].get(sp_id)
    if sp is None:
        raise GraphFault(404, "Request_ResourceNotFound", f"Resource '{sp_id}' does not exist or one of its queried "
                         "reference-property objects are not present.")
    standin = standin_for(tenant)
    base = secrets.get("BaseAddress") or ""
    return Run(tenant=tenant, sp=sp, job_id=job_id, cycle_id=str(uuid.uuid4()), initiated_by=initiated_by,
               base_address=base, token=secrets.get("SecretToken") or "", standin=standin,
               client=standin.client(secrets.get("SecretToken") or "", base_url=base if standin.handles(base) else None),
               mapping=find_user_mapping(_schema(state, job_id)))


# synchronizationTaskExecution: state is Succeeded | Failed | EntryLevelErrors
# (Graph docs api-reference/v1.0/resources/synchronization-synchronizationtaskexecution.md).
def _execution(cycle_id: str, began: str, ended: str, *, state: str, entitled: int = 0, imported: int = 0,
               exports: int = 0, exported: int = 0, escrowed: int = 0, error: dict | None = None) -> dict:
    return {
        "activityIdentifier": cycle_id,
        "countEntitled": entitled,
        "countEntitledForProvisioning": entitled,
        "countEscrowed": escrowed,
        "countEscrowedRaw": escrowed,
        "countExported": exported,
        "countExports": exports,
        "countImported": imported,
        "countImportedDeltas": imported,
        "countImportedReferenceDeltas": 0,
        "state": state,
        "timeBegan": began,
        "timeEnded": ended,
        "error": error,
    }


# synchronizationQuarantine: currentBegan, nextAttempt, reason (EncounteredQuarantineException, ...), seriesBegan,
# seriesCount, error (Graph docs api-reference/v1.0/resources/synchronization-synchronizationquarantine.md). The error
# codes used here ("Unauthorized", "ConnectionFailure") are the sandbox's; Entra's exact codes are UNCONFIRMED.
def _quarantine(tenant: Any, job: dict, cycle_id: str, began: str, code: str, reason: str) -> None:
    status = job.setdefault("status", {})
    now = _now(tenant)
    previous = status.get("quarantine") or {}
    error = {"code": code, "message": reason, "tenantActionable": True}
    status.update(
        {
            "code": "Quarantine",
            "countSuccessiveCompleteFailures": int(status.get("countSuccessiveCompleteFailures") or 0) + 1,
            "lastExecution": _execution(cycle_id, began, _iso(now), state="Failed", error=error),
            "quarantine": {
                "currentBegan": _iso(now),
                "nextAttempt": _iso(now + QUARANTINE_RETRY),
                "reason": "EncounteredQuarantineException",
                "seriesBegan": previous.get("seriesBegan") or _iso(now),
                "seriesCount": int(previous.get("seriesCount") or 0) + 1,
                "error": error,
            },
        }
    )
    status.setdefault("progress", [])


def run_cycle(tenant: Any, sp_id: str, job_id: str) -> None:
    """One full provisioning cycle (on start / restart). Natoma is written at once; with the tenant's
    ``cycle_seconds_per_user`` > 0 the job's status then reveals the cycle over simulated time (advance_cycles)."""
    state = tenant.state
    job = _job(state, sp_id, job_id)
    before = json.loads(json.dumps(job.get("status") or {}))
    _run_cycle(tenant, sp_id, job_id, job)
    per_user = float(getattr(tenant, "cycle_seconds_per_user", 0) or 0)
    status = job.get("status") or {}
    if per_user <= 0 or status.get("code") == "Quarantine":
        return
    execution = status.get("lastExecution") or {}
    total = int(execution.get("countEntitled") or 0)
    began = _now(tenant)
    state.setdefault("cycles", {})[job_id] = {
        "spId": sp_id, "began": _iso(began), "seconds": per_user * max(total, 1), "total": total,
        "final": status}
    # while it runs: what the job showed before, now Active with progress 0 of total
    job["status"] = dict(before, code="Active", quarantine=None)
    _show_progress(job, total, 0, began)


def _show_progress(job: dict, total: int, done: int, now: _dt.datetime) -> None:
    # synchronizationProgress (Graph docs api-reference/v1.0/resources/synchronization-synchronizationprogress.md)
    job["status"]["progress"] = [{"completedUnits": done, "totalUnits": total, "units": "Users",
                                  "progressObservationDateTime": _iso(now)}]


def advance_cycles(tenant: Any, sp_id: str) -> None:
    """Reveal the running cycles of this SP's jobs as far as the tenant's clock has come: progress while running,
    then the cycle's final status (lastExecution, counts, steady state) once its simulated time has passed."""
    cycles = tenant.state.get("cycles") or {}
    for job_id, cycle in list(cycles.items()):
        if cycle.get("spId") != sp_id:
            continue
        job = tenant.state.get("jobs", {}).get(sp_id, {}).get(job_id)
        if job is None:
            cycles.pop(job_id, None)
            continue
        now = _now(tenant)
        elapsed = (now - _parse_iso(cycle["began"])).total_seconds()
        if elapsed < 0:
            continue  # not begun yet: a started job's first cycle comes some time after the start
        if elapsed >= cycle["seconds"]:
            final = dict(cycle["final"])
            # the cycle ended now, in simulated time: its execution and steady state say so
            ended = _iso(now)
            for key in ("lastExecution", "lastSuccessfulExecution", "lastSuccessfulExecutionWithExports"):
                if isinstance(final.get(key), dict) and final[key].get("activityIdentifier") == \
                        (cycle["final"].get("lastExecution") or {}).get("activityIdentifier"):
                    final[key] = dict(final[key], timeEnded=ended)
            for key in ("steadyStateFirstAchievedTime", "steadyStateLastAchievedTime"):
                if final.get(key) not in (None, "0001-01-01T00:00:00Z") and final.get(key) != (
                        job["status"].get(key)):
                    final[key] = ended
            job["status"] = final
            cycles.pop(job_id, None)
            continue
        total = int(cycle["total"])
        done = min(total, int(total * elapsed / cycle["seconds"])) if cycle["seconds"] else total
        entries = ((cycle["final"].get("synchronizedEntryCountByType") or [{}])[0] or {}).get("value") or 0
        job["status"]["synchronizedEntryCountByType"] = [{"key": "User", "value": int(entries * done / max(total, 1))}]
        _show_progress(job, total, done, now)


def _run_cycle(tenant: Any, sp_id: str, job_id: str, job: dict) -> None:
    state = tenant.state
    began = _iso(_now(tenant))
    secrets = _secrets(state, sp_id)
    code, reason, _ = _connect(tenant, secrets.get("BaseAddress"), secrets.get("SecretToken"))
    cycle_id = str(uuid.uuid4())
    if code is not None:
        _quarantine(tenant, job, cycle_id, began, code, reason or "")
        return
    run = _open(tenant, sp_id, job_id, SERVICE, secrets)
    run.cycle_id = cycle_id
    in_scope = users_in_scope(tenant, sp_id)
    outcomes: list[Outcome] = []
    try:
        for uid, user in state.get("users", {}).items():
            grants = in_scope.get(uid)
            if grants is None and run.mapping is not None:
                # Unassigned users are only looked at when Natoma may hold them (to disable them).
                view, _ = _evaluate_matching_only(run, source_attributes(user, []))
                if not view or not any(v and run.standin.user(str(v)) for v in view.values()):
                    continue
            out = process_user(run, user, grants)
            if grants is None and out.status == "skipped":
                continue  # a cycle does not log unassigned users it leaves alone
            outcomes.append(out)
            state.setdefault("provisioningLogs", []).append(_record(run, user, out))
    finally:
        run.client.close()
        save_standin(tenant, run.standin)

    ended = _iso(_now(tenant))
    failures = sum(1 for o in outcomes if o.status == "failure")
    exports = sum(1 for o in outcomes if o.action in ("create", "update", "disable"))
    exported = sum(1 for o in outcomes if o.exported)
    execution = _execution(cycle_id, began, ended, state="EntryLevelErrors" if failures else "Succeeded",
                           entitled=len(in_scope), imported=len(outcomes), exports=exports, exported=exported,
                           escrowed=failures)
    status = job.setdefault("status", {})
    never = "0001-01-01T00:00:00Z"
    provisioned = sum(1 for u in run.standin.users() if u.get("active") is not False)
    status.update(
        {
            "code": "Active",
            "countSuccessiveCompleteFailures": 0,
            "escrowsPruned": False,
            "lastExecution": execution,
            "quarantine": None,
            "progress": [],
            "synchronizedEntryCountByType": [{"key": "User", "value": provisioned}],
            "troubleshootingUrl": status.get("troubleshootingUrl") or "",
        }
    )
    if not failures:
        status["lastSuccessfulExecution"] = execution
        if status.get("steadyStateFirstAchievedTime") in (None, never):
            status["steadyStateFirstAchievedTime"] = ended
        status["steadyStateLastAchievedTime"] = ended
    else:
        status.setdefault("lastSuccessfulExecution", None)
    if exported:
        status["lastSuccessfulExecutionWithExports"] = execution
    else:
        status.setdefault("lastSuccessfulExecutionWithExports", None)
    status.setdefault("steadyStateFirstAchievedTime", never)
    status.setdefault("steadyStateLastAchievedTime", never)


# ==================================================================================================================
# provisionOnDemand
# ==================================================================================================================


def _bad(message: str) -> GraphFault:
    return GraphFault(400, "BadRequest", message)


def provision_on_demand(tenant: Any, sp_id: str, job_id: str, body: dict) -> dict:
    """Provision one user now; returns the 200 body (stringKeyStringValuePair with JSON strings in key and value)."""
    state = tenant.state
    _job(state, sp_id, job_id)
    params = (body or {}).get("parameters")
    if not isinstance(params, list) or not params:
        raise _bad("The request body must carry 'parameters' with a ruleId and subjects.")
    param = params[0] or {}
    rule_id = param.get("ruleId")
    schema = _schema(state, job_id)
    if not rule_id or not any(r.get("id") == rule_id for r in schema.get("synchronizationRules") or []):
        raise _bad(f"The ruleId '{rule_id}' does not match any synchronization rule of job '{job_id}'.")
    subjects = param.get("subjects")
    if not isinstance(subjects, list) or len(subjects) != 1:
        raise _bad("Exactly one subject is expected in 'subjects'.")
    subject = subjects[0] or {}
    type_name = subject.get("objectTypeName")
    object_id = subject.get("objectId")
    if type_name != "User":
        raise _bad(f"objectTypeName '{type_name}' is not supported by the sandbox; use 'User'.")
    user = state.get("users", {}).get(object_id)
    if user is None:
        raise _bad(f"The object '{object_id}' of type 'User' was not found in the source directory.")

    secrets = _secrets(state, sp_id)
    code, reason, _ = _connect(tenant, secrets.get("BaseAddress"), secrets.get("SecretToken"))
    run = _open(tenant, sp_id, job_id, ON_DEMAND, secrets)
    run.mapping = find_user_mapping(schema, rule_id) or find_user_mapping(schema)
    try:
        if code is not None:
            out = Outcome(started=run.now(), action="other", target_name=user.get("userPrincipalName") or "")
            attrs = source_attributes(user, [])
            out.steps.append(Step("EntryImport", "Import", "Success",
                                  f"Retrieved User '{out.target_name}' from Azure Active Directory",
                                  _source_details(attrs), run.now()))
            out.modified = _source_modified(attrs)
            _fail(out, code, reason or "", "Check the Tenant URL and Secret Token, then Test Connection.")
        else:
            grants = users_in_scope(tenant, sp_id).get(str(object_id))
            out = process_user(run, user, grants)
    finally:
        run.client.close()
        save_standin(tenant, run.standin)
    out.ended = out.ended or run.now()
    state.setdefault("provisioningLogs", []).append(_record(run, user, out))
    return _on_demand_body(run, user, out)


def _on_demand_body(run: Run, user: dict, out: Outcome) -> dict:
    result = {"success": "Success", "failure": "Failure", "skipped": "Skipped"}[out.status]
    details = {} if out.status == "success" else {"errorCode": out.error_code, "errorMessage": out.reason}
    value = {
        "action": {"create": "Create", "update": "Update", "disable": "Disable"}.get(out.action, "Other"),
        "changeId": out.change_id,
        "endTime": out.ended,
        "modifiedProperties": out.modified,
        "provisioningSteps": [
            {"name": s.name, "type": s.kind, "status": s.status, "description": s.description,
             "timestamp": s.timestamp, "details": {k: _text(v) for k, v in s.details.items()}}
            for s in out.steps
        ],
        "reportableIdentifier": user.get("userPrincipalName"),
        "startTime": out.started,
        "statusInfo": {
            "status": result,
            "errorCode": out.error_code if out.status != "success" else None,
            "reason": out.reason if out.status != "success" else None,
            "additionalDetails": None,
            "errorCategory": "nonServiceFailure" if out.status == "failure" else None,
            "recommendedAction": out.recommended,
        },
        "sourceIdentity": {"id": user.get("id"), "type": "User", "displayName": user.get("displayName"), "details": None},
        "sourceSystem": {"id": None, "name": SOURCE_SYSTEM, "details": None},
        "targetIdentity": {"id": out.target_id or None, "type": ENTERPRISE_USER, "displayName": out.target_name or None,
                           "details": None},
        "targetSystem": {"id": None, "name": TARGET_SYSTEM, "details": None},
    }
    # graph.py adds "@odata.context" (it knows the request's base URL).
    return {
        "key": json.dumps({"result": result, "details": details}),
        "value": json.dumps(value),
    }
