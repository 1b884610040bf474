"""Synchronization endpoints: templates, jobs, schema, secrets, validateCredentials, start, restart,
provisionOnDemand. The provisioning engine (engine.py) is imported lazily, inside the handlers."""

from __future__ import annotations

import json
import math
from typing import Any

from natoma_entra.sandbox import options as V
from natoma_entra.sandbox.graph import ROUTER, GraphHandler, Request, Response, bad_request, entity, not_found, page
from natoma_entra.sandbox.state import NON_GALLERY_TEMPLATE_ID, GraphFault, no_dashes
from natoma_entra.json_copy import copy_json

R_SYNC = "Synchronization.Read.All"
W_SYNC = "Synchronization.ReadWrite.All"

SP = "/servicePrincipals/{sp}/synchronization"
NEVER = "P10675199DT2H48M5.4775807S"  # TimeSpan.MaxValue: a job that was never started (synchronizationJob-create)
INTERVAL = "PT40M"  # Entra docs cross-tenant doc: a started job's interval
ZERO_TIME = "0001-01-01T00:00:00Z"
POD_LIMIT, POD_WINDOW = 5, 10.0  # provisionOnDemand: 5 requests per 10 seconds (synchronization-synchronizationjob-provisionondemand.md)

# synchronizationSecret enum (Graph docs synchronization-synchronizationsecretkeystringvaluepair.md). The service parses
# keys with a case-sensitive enum parse, hence 500 "Requested value 'baseAddress' was not found." for camelCase
# (OBSERVED, msgraph-beta-sdk-java#372).
SECRET_KEYS = frozenset("""None UserName Password SecretToken AppKey BaseAddress ClientIdentifier ClientSecret
SingleSignOnType Sandbox Url Domain ConsumerKey ConsumerSecret TokenKey TokenExpiration Oauth2AccessToken
Oauth2AccessTokenCreationTime Oauth2RefreshToken SyncAll InstanceName Oauth2ClientId Oauth2ClientSecret CompanyId
UpdateKeyOnSoftDelete SynchronizationSchedule SystemOfRecord SandboxName EnforceDomain SyncNotificationSettings
SkipOutOfScopeDeletions Oauth2AuthorizationCode Oauth2RedirectUri ApplicationTemplateIdentifier
Oauth2TokenExchangeUri Oauth2AuthorizationUri AuthenticationType Server PerformInboundEntitlementGrants
HardDeletesEnabled SyncAgentCompatibilityKey SyncAgentADContainer ValidateDomain TestReferences
ConnectionString""".split())
# Values read back as "*" (terraform-provider-azuread treats "*" as masked). Which keys are
# masked exactly is UNCONFIRMED; BaseAddress/SyncAll/SyncNotificationSettings come back in clear.
MASKED_KEYS = frozenset({"SecretToken", "Password", "ClientSecret", "AppKey", "ConsumerSecret", "TokenKey",
                         "Oauth2AccessToken", "Oauth2RefreshToken", "Oauth2ClientSecret", "Oauth2AuthorizationCode",
                         "ConnectionString"})
RESET_SCOPES = frozenset({"None", "ConnectorDataStore", "Escrows", "Watermark", "QuarantineState", "Full",
                          "ForceDeletes"})

# UNCONFIRMED (synchronization-synchronizationjob-validatecredentials.md documents no failure body). The code is the one
# the Entra portal shows under "You appear to have entered invalid credentials" for a non-gallery SCIM app.
CREDENTIALS_CODE = "SystemForCrossDomainIdentityManagementCredentialValidationUnavailable"


# helpers ----------------------------------------------------------------------------------------------------------

def _sp(h: GraphHandler, req: Request) -> dict[str, Any]:
    sps = h.tenant.state["servicePrincipals"]
    key = req.params["sp"]
    for k, v in sps.items():
        if k.lower() == key.lower():
            return v
    raise not_found(key)


LEGACY_TEMPLATE = "customappsso"


def _templates(h: GraphHandler, sp: dict[str, Any]) -> list[dict[str, Any]]:
    """Templates a job can be created from, for apps made from the non-gallery template: "scim", and the legacy
    "customappsso" ("You can still choose it", Entra docs application-provisioning-config-problem-scim-compatibility.md)."""
    if sp.get("applicationTemplateId") != NON_GALLERY_TEMPLATE_ID:
        return []
    from natoma_entra.sandbox import schema_template

    scim = schema_template.template(sp["appId"])
    legacy = schema_template.template(sp["appId"])  # each call parses afresh: nothing is shared with the caller
    legacy["id"] = LEGACY_TEMPLATE
    legacy["factoryTag"] = LEGACY_TEMPLATE
    return [scim, legacy]


def _listed_templates(h: GraphHandler, sp: dict[str, Any]) -> list[dict[str, Any]]:
    """What GET .../templates lists. Which templates Graph lists for a non-gallery app is undocumented (Microsoft
    documents POST jobs {"templateId": "scim"} for them, not the list), so the variants play the other answers."""
    known = _templates(h, sp)
    if V.TEMPLATES_UNLISTED in h.tenant.variants:
        return []
    if V.LEGACY_TEMPLATE_ONLY in h.tenant.variants:
        return [t for t in known if t["id"] == LEGACY_TEMPLATE]
    return [t for t in known if t["id"] != LEGACY_TEMPLATE]


def _template(h: GraphHandler, sp: dict[str, Any], template_id: str) -> dict[str, Any] | None:
    for t in _templates(h, sp):
        if t["id"].lower() == template_id.lower():
            return t
    return None


def _replicating(h: GraphHandler, kind: str, object_id: str, status: int) -> None:
    """A new object answers like one Graph has not replicated yet (Terraform's
    azuread provider retries synchronization calls on 403 and 409 for this reason). Reads (404) recover after half
    the delay, calls acting on the object (403/409) only at its end."""
    if not h.tenant.replicating(kind, object_id, part=0.5 if status == 404 else 1.0):
        return
    if status == 404:
        raise not_found(object_id)
    if status == 403:
        raise GraphFault(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
    raise GraphFault(409, "Conflict", f"The object '{object_id}' is being updated; retry the request later.")


def _job(h: GraphHandler, req: Request, replicating: int = 409) -> tuple[dict[str, Any], dict[str, Any]]:
    """The addressed job; a job still replicating answers ``replicating`` (404 for reads, 409 for actions)."""
    sp = _sp(h, req)
    _advance(h, sp)
    jobs = h.tenant.state["jobs"].get(sp["id"], {})
    job = jobs.get(req.params["job"])
    if job is None:
        raise not_found(req.params["job"])
    _replicating(h, "job", job["id"], replicating)
    return sp, job


def _secrets(h: GraphHandler, sp_id: str) -> dict[str, str]:
    return {s["key"]: s["value"] for s in h.tenant.state["secrets"].get(sp_id, [])}


def _ctx(req: Request, sp: dict[str, Any], tail: str) -> str:
    return f"servicePrincipals('{sp['id']}')/synchronization/{tail}"


# templates ----------------------------------------------------------------------------------------------------------

@ROUTER.add("GET", SP + "/templates", R_SYNC)
def list_templates(h: GraphHandler, req: Request) -> Response:
    sp = _sp(h, req)
    return page(h, _listed_templates(h, sp), req, _ctx(req, sp, "templates"))


@ROUTER.add("GET", SP + "/templates/{tid}", R_SYNC)
def get_template(h: GraphHandler, req: Request) -> Response:
    sp = _sp(h, req)
    t = _template(h, sp, req.params["tid"])
    if t is None:
        raise not_found(req.params["tid"])
    return entity(t, req, _ctx(req, sp, "templates/$entity"))


@ROUTER.add("GET", SP + "/templates/{tid}/schema", R_SYNC)
def get_template_schema(h: GraphHandler, req: Request) -> Response:
    sp = _sp(h, req)
    t = _template(h, sp, req.params["tid"])
    if t is None:
        raise not_found(req.params["tid"])
    return entity(t["schema"], req, _ctx(req, sp, f"templates('{t['id']}')/schema/$entity"))


# jobs ---------------------------------------------------------------------------------------------------------------

def _advance(h: GraphHandler, sp: dict[str, Any]) -> None:
    """A running cycle shows its progress as the tenant's clock moves (engine.advance_cycles)."""
    from natoma_entra.sandbox import engine

    advance = getattr(engine, "advance_cycles", None)  # an engine stand-in (the Graph-surface tests) has no cycles
    if advance is not None:
        advance(h.tenant, sp["id"])


@ROUTER.add("GET", SP + "/jobs", R_SYNC)
def list_jobs(h: GraphHandler, req: Request) -> Response:
    sp = _sp(h, req)
    _advance(h, sp)
    jobs = [j for j in h.tenant.state["jobs"].get(sp["id"], {}).values()
            if not h.tenant.replicating("job", j["id"], part=0.5)]
    return page(h, jobs, req, _ctx(req, sp, "jobs"))


@ROUTER.add("POST", SP + "/jobs", W_SYNC)
def create_job(h: GraphHandler, req: Request) -> Response:
    """Graph docs synchronization-synchronization-post-jobs.md: templateId required; the job is created disabled."""
    sp = _sp(h, req)
    body = req.json()
    template_id = body.get("templateId") if isinstance(body, dict) else None
    if not isinstance(template_id, str) or not template_id:
        raise bad_request("The templateId property is required.", "BadRequest")
    tpl = _template(h, sp, template_id)
    if tpl is None:
        raise bad_request(f"The template '{template_id}' is not valid for this service principal: GET "
                          ".../synchronization/templates lists the valid ones.", "BadRequest")
    job_id = f"{tpl['id']}.{no_dashes(h.tenant.state['tenantId'])}.{no_dashes(sp['appId'])}"
    jobs = h.tenant.state["jobs"].setdefault(sp["id"], {})
    if job_id in jobs:
        # UNCONFIRMED: what Graph answers for a second job from the same template.
        raise GraphFault(409, "Conflict", f"A synchronization job from template '{tpl['id']}' already exists: "
                                          f"'{job_id}'.")
    job = {
        "id": job_id,
        "templateId": tpl["id"],
        "schedule": {"expiration": None, "interval": NEVER, "state": "Disabled"},
        "status": {
            "code": "NotConfigured",
            "countSuccessiveCompleteFailures": 0,
            "escrowsPruned": False,
            "lastExecution": None,
            "lastSuccessfulExecution": None,
            "lastSuccessfulExecutionWithExports": None,
            "progress": [],
            "quarantine": None,
            "steadyStateFirstAchievedTime": ZERO_TIME,
            "steadyStateLastAchievedTime": ZERO_TIME,
            "synchronizedEntryCountByType": [],
            "troubleshootingUrl": None,
        },
        "synchronizationJobSettings": [
            {"name": "QuarantineTooManyDeletesThreshold", "value": "500"},
            {"name": "AzureIngestionAttributeOptimization", "value": "False"},
            {"name": "LookaheadQueryEnabled", "value": "False"},
        ],
    }
    jobs[job_id] = job
    schema = tpl["schema"]  # the template is parsed afresh for this request: the job's schema may own it
    schema["id"] = job_id
    h.tenant.state["schemas"][job_id] = schema
    h.tenant.created("job", job_id)
    h.tenant.created("schema", job_id)
    return Response(201, {"@odata.context": f"{req.base}/$metadata#{_ctx(req, sp, 'jobs/$entity')}",
                          **copy_json(job)})


@ROUTER.add("GET", SP + "/jobs/{job}", R_SYNC)
def get_job(h: GraphHandler, req: Request) -> Response:
    sp, job = _job(h, req, replicating=404)
    return entity(job, req, _ctx(req, sp, "jobs/$entity"))


@ROUTER.add("DELETE", SP + "/jobs/{job}", W_SYNC)
def delete_job(h: GraphHandler, req: Request) -> Response:
    """Stops the job and deletes its state (synchronization-synchronizationjob-delete.md)."""
    sp, job = _job(h, req)
    del h.tenant.state["jobs"][sp["id"]][job["id"]]
    h.tenant.state["schemas"].pop(job["id"], None)
    h.pod_calls.pop(job["id"], None)
    return Response(204)


# schema ---------------------------------------------------------------------------------------------------------------

@ROUTER.add("GET", SP + "/jobs/{job}/schema", R_SYNC)
def get_schema(h: GraphHandler, req: Request) -> Response:
    sp, job = _job(h, req, replicating=404)
    _replicating(h, "schema", job["id"], 404)
    schema = h.tenant.state["schemas"].get(job["id"])
    if schema is None:
        raise not_found(job["id"])
    return entity(schema, req, _ctx(req, sp, f"jobs('{job['id']}')/schema/$entity"))


@ROUTER.add("PUT", SP + "/jobs/{job}/schema", W_SYNC)
def put_schema(h: GraphHandler, req: Request) -> Response:
    """Graph docs synchronization-synchronizationschema-update.md: "fully replaces the current schema"; 204.

    (PATCH on this path is refused by the service with 404; see GraphHandler._route.)"""
    sp, job = _job(h, req)
    _replicating(h, "schema", job["id"], 409)
    body = req.json()
    if not isinstance(body, dict):
        raise bad_request("The schema must be a JSON object.", "BadRequest")
    schema = {k: copy_json(v) for k, v in body.items() if not k.startswith("@")}  # the answer's annotations
    _validate_schema(schema)
    schema["id"] = job["id"]
    h.tenant.state["schemas"][job["id"]] = schema
    return Response(204)


@ROUTER.add("DELETE", SP + "/jobs/{job}/schema", W_SYNC)
def reset_schema(h: GraphHandler, req: Request) -> Response:
    """Reset to the template's schema (the "Reset schema" method in synchronization-synchronizationschema.md)."""
    sp, job = _job(h, req)
    tpl = _template(h, sp, job["templateId"])
    if tpl is None:
        raise not_found(job["templateId"])
    schema = tpl["schema"]  # parsed afresh for this request
    schema["id"] = job["id"]
    h.tenant.state["schemas"][job["id"]] = schema
    return Response(204)


def _validate_schema(schema: dict[str, Any]) -> None:
    """Every objectMapping's attributes must exist in the directory definitions: "In order for a particular object
    and attribute to be used in synchronization rules/object mappings, they have to be defined as part of the
    directory definition" (synchronization-directorydefinition.md). The real error text is UNCONFIRMED."""
    directories = schema.get("directories")
    rules = schema.get("synchronizationRules")
    if not isinstance(directories, list) or not isinstance(rules, list):
        raise bad_request("The schema needs 'directories' and 'synchronizationRules' arrays.", "BadRequest")
    by_name: dict[str, dict[str, Any]] = {}
    for d in directories:
        if not isinstance(d, dict) or not isinstance(d.get("name"), str):
            raise bad_request("Every directory definition needs a 'name'.", "BadRequest")
        by_name[d["name"]] = d
    for rule in rules:
        if not isinstance(rule, dict):
            raise bad_request("Invalid synchronizationRule.", "BadRequest")
        names = {}
        for side in ("sourceDirectoryName", "targetDirectoryName"):
            name = rule.get(side)
            if name not in by_name:
                raise bad_request(f"Synchronization rule '{rule.get('name')}' refers to directory '{name}' "
                                  f"({side}), which is not defined in 'directories'.", "BadRequest")
            names[side] = name
        for om in rule.get("objectMappings") or []:
            objects = {}
            for side, obj_key in (("sourceDirectoryName", "sourceObjectName"), ("targetDirectoryName", "targetObjectName")):
                directory = by_name[names[side]]
                obj = next((o for o in directory.get("objects") or [] if o.get("name") == om.get(obj_key)), None)
                if obj is None:
                    raise bad_request(f"Object mapping '{om.get('name')}' refers to object '{om.get(obj_key)}', "
                                      f"which is not defined in directory '{directory['name']}'.", "BadRequest")
                objects[side] = obj
            target_obj = objects["targetDirectoryName"]
            defined = {a.get("name") for a in target_obj.get("attributes") or []}
            for am in om.get("attributeMappings") or []:
                target = am.get("targetAttributeName")
                if target not in defined:
                    raise bad_request(
                        f"Attribute mapping target '{target}' in object mapping '{om.get('name')}' is not defined on "
                        f"object '{target_obj.get('name')}' of directory '{names['targetDirectoryName']}': add an "
                        "attributeDefinition with that name to the directory's object first.", "BadRequest")


# secrets --------------------------------------------------------------------------------------------------------------

@ROUTER.add("PUT", SP + "/secrets", W_SYNC)
def put_secrets(h: GraphHandler, req: Request) -> Response:
    """Graph docs synchronization-serviceprincipal-put-synchronization.md: 204.

    Keys are MERGED into what is stored (a key sent again replaces its value; keys not sent are kept). Whether the
    real service merges or replaces the whole set is UNCONFIRMED (synchronization-serviceprincipal-put-synchronization.md does not say): clients should always send
    every key they want kept, which works under both behaviours. The ``secrets-replace`` variant replaces the set.

    While the SP's new job replicates, the secrets answer 403 like the job (Terraform retries secrets on 403/409)."""
    sp = _sp(h, req)
    for job_id in list(h.tenant.state["jobs"].get(sp["id"], {})):
        _replicating(h, "job", job_id, 403)
    body = req.json()
    items = body.get("value") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise bad_request("The body must be {\"value\": [{\"key\": ..., \"value\": ...}]}.", "BadRequest")
    for it in items:
        if not isinstance(it, dict) or not isinstance(it.get("key"), str):
            raise bad_request("Every secret needs a string 'key'.", "BadRequest")
        if it["key"] not in SECRET_KEYS:
            raise GraphFault(500, "InternalError", f"Requested value '{it['key']}' was not found.")
        if it.get("value") is not None and not isinstance(it.get("value"), str):
            raise bad_request(f"The value of secret '{it['key']}' must be a string.", "BadRequest")
    if V.SECRETS_CLEAR_REFUSED in h.tenant.variants and any(
            it["key"] in ("BaseAddress", "SecretToken") and not it.get("value") for it in items):
        # UNCONFIRMED: whether Graph accepts an empty value (the page shows none); this variant plays a refusal
        raise bad_request("The value of secret 'BaseAddress' and 'SecretToken' must not be empty.", "BadRequest")
    if V.SECRETS_REPLACE in h.tenant.variants:
        h.tenant.state["secrets"][sp["id"]] = []
    stored = h.tenant.state["secrets"].setdefault(sp["id"], [])
    index = {s["key"]: s for s in stored}
    for it in items:
        value = it.get("value") or ""
        if it["key"] in index:
            index[it["key"]]["value"] = value
        else:
            entry = {"key": it["key"], "value": value}
            stored.append(entry)
            index[it["key"]] = entry
    return Response(204)


@ROUTER.add("GET", SP + "/secrets", R_SYNC)
def get_secrets(h: GraphHandler, req: Request) -> Response:
    """Not in the documented method table but in the OpenAPI (go-azure-sdk ListSynchronizationSecrets); secret
    values come back as "*" (docs/graph-assumptions.md); with ``secrets-masked`` every non-empty value does."""
    sp = _sp(h, req)
    if V.SECRETS_UNREADABLE in h.tenant.variants:
        # msgraph-metadata#347: Graph v1.0's API description marks the secrets update-only; a service that does not
        # offer the read answers as syncfabric answers a method it lacks (see GraphHandler._route)
        inner = json.dumps({"Message": "No HTTP resource was found that matches the request URI "
                            f"'https://syncfabric.windowsazure.com/api{req.path}?api-version=2.0'."})
        raise GraphFault(404, "UnknownError", inner)
    masked = (lambda key: True) if V.SECRETS_MASKED in h.tenant.variants else (lambda key: key in MASKED_KEYS)
    value = [{"key": s["key"], "value": "*" if masked(s["key"]) and s["value"] else s["value"]}
             for s in h.tenant.state["secrets"].get(sp["id"], [])]
    return Response(200, {"@odata.context": f"{req.base}/$metadata#{_ctx(req, sp, 'secrets')}", "value": value})


# validateCredentials --------------------------------------------------------------------------------------------------

def _validate(h: GraphHandler, sp: dict[str, Any], body: Any) -> Response:
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.", "BadRequest")
    if body.get("useSavedCredentials"):
        creds = _secrets(h, sp["id"])
    else:
        items = body.get("credentials") or []
        if not isinstance(items, list):
            raise bad_request("'credentials' must be an array of {key, value}.", "BadRequest")
        creds = {str(it.get("key")): str(it.get("value") or "") for it in items if isinstance(it, dict)}
        for key in creds:
            if key not in SECRET_KEYS:
                raise GraphFault(500, "InternalError", f"Requested value '{key}' was not found.")
    reason: str | None
    if not creds.get("BaseAddress"):
        reason = "The Tenant URL (BaseAddress) is missing."
    else:
        from natoma_entra.sandbox import engine

        reason = engine.validate_credentials(h.tenant, {"BaseAddress": creds.get("BaseAddress") or "",
                                                        "SecretToken": creds.get("SecretToken") or ""})
    if reason is None:
        return Response(204)
    if V.VALIDATE_SYNCFABRIC_BODY in h.tenant.variants:
        # UNCONFIRMED alternative: syncfabric's own error shape passed through Graph (as its 404s are, see
        # GraphHandler._route): code UnknownError, the message a JSON string carrying the SCIM endpoint's answer.
        inner = json.dumps({"Message": f"Credential validation failed. Details: {reason}",
                            "Code": "CredentialValidationFailed"})
        raise GraphFault(400, "UnknownError", inner)
    raise GraphFault(400, CREDENTIALS_CODE,
                     "You appear to have entered invalid credentials. Please confirm you are using the correct "
                     f"information for an administrative account. Error code: {CREDENTIALS_CODE} Details: {reason}")


@ROUTER.add("POST", SP + "/jobs/validateCredentials", W_SYNC, write=False)
def validate_without_job(h: GraphHandler, req: Request) -> Response:
    """Entra docs cross-tenant-synchronization-configure-graph.md step 7: templateId in the body, no job needed."""
    sp = _sp(h, req)
    body = req.json()
    tid = body.get("templateId") if isinstance(body, dict) else None
    if not isinstance(tid, str) or _template(h, sp, tid) is None:
        raise bad_request(f"The templateId '{tid}' is not valid for this service principal.", "BadRequest")
    if V.COLLECTION_TEST_REFUSED in h.tenant.variants:
        # UNCONFIRMED: Microsoft documents the job-less test only with other templates (cross-tenant sync). A refusal
        # that has nothing to do with the credentials would plausibly be a plain 400 BadRequest naming the request,
        # never the credential-validation code, and before the SCIM endpoint is contacted.
        raise bad_request(f"Validating credentials without a synchronization job is not supported for template "
                          f"'{tid}'. Create the job first, then validate its credentials.", "BadRequest")
    return _validate(h, sp, body)


@ROUTER.add("POST", SP + "/jobs/{job}/validateCredentials", W_SYNC, write=False)
def validate_with_job(h: GraphHandler, req: Request) -> Response:
    sp, _job_obj = _job(h, req)
    return _validate(h, sp, req.json())


# start / pause / restart ------------------------------------------------------------------------------------------

def _require_credentials(h: GraphHandler, sp: dict[str, Any]) -> None:
    secrets = _secrets(h, sp["id"])
    missing = [k for k in ("BaseAddress", "SecretToken") if not secrets.get(k)]
    if missing:
        # UNCONFIRMED: the real service's answer for starting a job without admin credentials.
        raise bad_request(f"The job cannot start: no admin credentials saved ({', '.join(missing)} missing). "
                          "PUT .../synchronization/secrets with BaseAddress and SecretToken first.", "BadRequest")


def _activate(job: dict[str, Any]) -> None:
    job["schedule"] = {"expiration": None, "interval": INTERVAL, "state": "Active"}
    status = job["status"]
    status["quarantine"] = None
    status["code"] = "Active" if status.get("lastSuccessfulExecution") else "NotRun"


@ROUTER.add("POST", SP + "/jobs/{job}/start", W_SYNC)
def start_job(h: GraphHandler, req: Request) -> Response:
    """synchronization-synchronizationjob-start.md: 204; resumes a paused job and clears quarantine. Starting an
    already active job (not quarantined) changes nothing here: the doc says not to call start then."""
    sp, job = _job(h, req)
    _require_credentials(h, sp)
    if job["schedule"].get("state") == "Active" and job["status"].get("code") not in ("Quarantine", "Paused"):
        return Response(204)
    _activate(job)
    from natoma_entra.sandbox import engine

    engine.run_cycle(h.tenant, sp["id"], job["id"])
    return Response(204)


@ROUTER.add("POST", SP + "/jobs/{job}/restart", W_SYNC)
def restart_job(h: GraphHandler, req: Request) -> Response:
    """synchronization-synchronizationjob-restart.md: body {"criteria": {"resetScope": "Watermark, Escrows, ..."}}."""
    sp, job = _job(h, req)
    body = req.json_or_empty()
    criteria = body.get("criteria") if isinstance(body, dict) else None
    scope = (criteria or {}).get("resetScope") if isinstance(criteria, dict) else None
    if scope:
        parts = [p.strip() for p in str(scope).split(",") if p.strip()]
        bad = [p for p in parts if p not in RESET_SCOPES]
        if bad:
            raise bad_request(f"Invalid resetScope value(s): {', '.join(bad)}.", "BadRequest")
    _require_credentials(h, sp)
    _activate(job)
    job["status"]["countSuccessiveCompleteFailures"] = 0
    from natoma_entra.sandbox import engine

    engine.run_cycle(h.tenant, sp["id"], job["id"])
    return Response(204)


# provisionOnDemand ----------------------------------------------------------------------------------------------

@ROUTER.add("POST", SP + "/jobs/{job}/provisionOnDemand", W_SYNC)
def provision_on_demand(h: GraphHandler, req: Request) -> Response:
    """synchronization-synchronizationjob-provisionondemand.md: 200 stringKeyStringValuePair; 5 requests / 10 s."""
    sp, job = _job(h, req)
    body = req.json()
    now = h.tenant.clock()
    calls = [t for t in h.pod_calls.get(job["id"], []) if now - t < POD_WINDOW]
    if len(calls) >= POD_LIMIT:
        wait = max(1, math.ceil(POD_WINDOW - (now - calls[0])))
        h.pod_calls[job["id"]] = calls
        raise GraphFault(429, "TooManyRequests", "Too many requests: provisionOnDemand allows 5 requests per 10 "
                                                 "seconds per job.", {"Retry-After": str(wait)})
    calls.append(now)
    h.pod_calls[job["id"]] = calls
    from natoma_entra.sandbox import engine

    result = engine.provision_on_demand(h.tenant, sp["id"], job["id"], body)
    if V.POD_STATUS_INFO in h.tenant.variants:
        result = _status_info_shape(result)
    return Response(200, {"@odata.context": f"{req.base}/$metadata#microsoft.graph.stringKeyStringValuePair",
                          **result})


POD_STATUS_INFO_KEY = "Microsoft.Identity.Health.CPP.Common.DataContracts.SyncFabric.StatusInfo"


def _status_info_shape(result: dict[str, Any]) -> dict[str, Any]:
    """The second documented answer (Entra docs cross-tenant-synchronization-configure-graph.md, "Provision on demand"):
    key names the StatusInfo contract, value is a JSON array of records; the verdict lives in each record's
    statusInfo and steps, not in key."""
    try:
        record = json.loads(result.get("value") or "{}")
    except ValueError:
        record = {}
    return {"key": POD_STATUS_INFO_KEY, "value": json.dumps([record])}
