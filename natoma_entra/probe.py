"""`natoma-entra probe`: the reads that settle, on a real tenant, the behaviours docs/graph-assumptions.md lists as
open, and which answer (which sandbox variant of natoma_entra/sandbox/options.py) this tenant plays.

Everything sent is a read: GETs, and the two connection tests, which Graph documents as changing nothing and which
the read-only client lets through (graph/readonly.py). The tests carry a deliberately wrong token, never a real one:
the SCIM endpoint's refusal is the answer wanted (its shape is one of the open behaviours), and the probe never
handles a secret. What only a write can show (does PUT secrets merge or replace, how long a new job takes to
replicate, which provisionOnDemand shape answers) is reported as "not settled without a write".

Two halves: `observe(session)` makes the reads (an error is kept as the answer, never raised) and the pure
`judge_*` functions turn each observation into a Finding, so every verdict is unit-testable with a hand-made answer.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

from .errors import NatomaEntraError
from .graph.errors import GraphError

# The sandbox's variant names (natoma_entra/sandbox/options.py VARIANTS), spelled here so that probing a real tenant
# does not import the simulated one (tests/cli/test_probe.py checks they match).
TEMPLATES_UNLISTED, LEGACY_TEMPLATE_ONLY = "templates-unlisted", "legacy-template-only"
COLLECTION_TEST_REFUSED, VALIDATE_SYNCFABRIC_BODY = "collection-test-refused", "validate-syncfabric-body"
SECRETS_REPLACE, SECRETS_MASKED = "secrets-replace", "secrets-masked"
SLOW_REPLICATION, POD_STATUS_INFO = "slow-replication", "pod-statusinfo-shape"
THROTTLED_WRITES, RETRY_AFTER_DATE = "throttled-writes", "retry-after-http-date"
ROLE_DISABLE_LAG, EMPTY_PAGES = "role-disable-lag", "empty-pages"
FORWARD_COMPATIBLE, SECRETS_UNREADABLE = "forward-compatible-fields", "secrets-unreadable"
GROUP_UPSERT_CONFLICT, SECRETS_CLEAR_REFUSED = "group-upsert-conflict", "secrets-clear-refused"

DEFAULT = "default"  # the answer the sandbox plays without variants (the one the CLI was first written against)
NOT_WITHOUT_A_WRITE = "not settled without a write"
WRONG_TOKEN = "natoma-entra-probe-deliberately-wrong-token"  # not a secret: a token no endpoint accepts
LEGACY_TEMPLATE = "customappsso"


class Finding(BaseModel):
    """One open behaviour and what this tenant answered."""

    key: str
    section: str  # the section of docs/graph-assumptions.md
    question: str
    settled: bool
    variant: str | None = None  # the sandbox variant this tenant plays ("default"), None when none of them
    variants: list[str] = Field(default_factory=list)  # the answers the sandbox plays for this behaviour
    answer: str  # what the tenant answered, or why it is not settled
    request: str | None = None  # the request that settled it
    status: int | None = None
    evidence: dict[str, Any] = Field(default_factory=dict)


@dataclass
class Answer:
    """One read: its 2xx status and body, or the GraphError Graph answered (or None when it was not sent)."""

    request: str
    status: int | None = None
    body: Any = None
    error: GraphError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class Observed:
    templates: Answer | None = None
    job: dict | None = None
    secrets: Answer | None = None
    scim_url: str | None = None
    collection_test: Answer | None = None
    job_test: Answer | None = None
    schema: Answer | None = None
    log_filters: list[tuple[str, Answer]] = field(default_factory=list)
    first_page: Answer | None = None  # the first page of the app's assignments, as Graph sent it
    claims: Any = None  # token_claims.Claims, or None when unreadable
    claims_why: str = ""


# -- judging (pure) ------------------------------------------------------------------------------------------------

def _failed(answer: Answer) -> str:
    e = answer.error
    assert e is not None
    from .errors import with_fix

    return with_fix(e.headline, e.fix)


def judge_templates(a: Answer) -> Finding:
    f = Finding(key="templates-listed", section="a", question="Does GET .../synchronization/templates list the "
                "'scim' template for this app?", settled=False, answer="", request=a.request,
                variants=[DEFAULT, TEMPLATES_UNLISTED, LEGACY_TEMPLATE_ONLY])
    if not a.ok:
        f.answer, f.status = f"not settled: {_failed(a)}", a.error.status if a.error else None
        return f
    ids = [t.get("id") for t in a.body or [] if isinstance(t, dict)]
    f.settled, f.status, f.evidence = True, a.status, {"templates": ids}
    if "scim" in ids:
        f.variant, f.answer = DEFAULT, f"lists scim ({', '.join(map(str, ids))})"
    elif not ids:
        f.variant, f.answer = TEMPLATES_UNLISTED, "lists no template"
    elif ids == [LEGACY_TEMPLATE]:
        f.variant, f.answer = LEGACY_TEMPLATE_ONLY, "lists only the legacy customappsso template"
    else:
        f.answer = f"lists {', '.join(map(str, ids))}, not scim: an answer the sandbox does not play"
    return f


def _is_test_failure(e: GraphError) -> bool:
    from .steps.credentials import is_test_failure

    return is_test_failure(e)


def judge_collection_test(a: Answer | None) -> Finding:
    f = Finding(key="collection-test", section="b", question="Does the connection test work before a job exists "
                "(POST .../jobs/validateCredentials with templateId scim)?", settled=False, answer="",
                variants=[DEFAULT, COLLECTION_TEST_REFUSED])
    if a is None:
        f.answer = ("not settled: no SCIM URL to test (pass --scim-url, or set scim.url; saved credentials whose "
                    "URL reads back are used too)")
        return f
    f.request = a.request
    if a.ok:
        f.settled, f.variant, f.status = True, DEFAULT, a.status
        f.answer = "supported: the test ran (and the endpoint accepted a deliberately wrong token)"
        return f
    e = a.error
    assert e is not None
    f.status, f.evidence = e.status, {"code": e.code, "message": e.message}
    if _is_test_failure(e):
        f.settled, f.variant = True, DEFAULT
        f.answer = f"supported: the SCIM endpoint's refusal of the wrong token came back ({e.status} {e.code})"
    elif e.status in (400, 404, 409, 422):
        f.settled, f.variant = True, COLLECTION_TEST_REFUSED
        f.answer = f"refused for a reason that is not the credentials: {e.status} {e.code}: {e.message}"
    else:
        f.answer = f"not settled: {_failed(a)}"
    return f


def judge_failure_body(*tests: Answer | None) -> Finding:
    f = Finding(key="test-failure-body", section="g", question="What does a failed connection test answer?",
                settled=False, answer="", variants=[DEFAULT, VALIDATE_SYNCFABRIC_BODY])
    failed = next((t for t in tests if t is not None and t.error is not None and _is_test_failure(t.error)), None)
    if failed is None:
        f.answer = "not settled: no connection test was refused by the SCIM endpoint (no SCIM URL, or no test ran)"
        return f
    e = failed.error
    assert e is not None
    f.settled, f.request, f.status, f.evidence = True, failed.request, e.status, {"code": e.code,
                                                                                   "message": e.message}
    inner = _json_object(e.message)
    if e.code == "UnknownError" and inner is not None and "Message" in inner:
        f.variant = VALIDATE_SYNCFABRIC_BODY
        f.answer = f"{e.status} UnknownError, its message the synchronization service's JSON (Code {inner.get('Code')})"
    elif "credential" in (e.code or "").lower():
        f.variant, f.answer = DEFAULT, f"{e.status} {e.code} with the portal's invalid-credentials text"
    else:
        f.answer = f"{e.status} {e.code or '(no code)'}: an answer the sandbox does not play"
    return f


def _json_object(text: str | None) -> dict | None:
    try:
        doc = json.loads(text or "")
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def judge_secrets(a: Answer) -> Finding:
    f = Finding(key="secrets-readback", section="f", question="Which saved credentials does GET .../secrets read "
                "back masked ('*')?", settled=False, answer="", request=a.request,
                variants=[DEFAULT, SECRETS_MASKED, SECRETS_UNREADABLE])
    if not a.ok:
        e = a.error
        assert e is not None
        f.status = e.status
        if e.status in (400, 404, 405):
            f.settled, f.variant = True, SECRETS_UNREADABLE
            f.answer = f"GET secrets is not offered ({e.status} {e.code}): the saved values cannot be confirmed"
        else:
            f.answer = f"not settled: {_failed(a)}"
        return f
    values = {str(it["key"]): it.get("value") for it in (a.body or {}).get("value") or []
              if isinstance(it, dict) and it.get("key")}
    f.status = a.status
    if not values:
        f.answer = "not settled: no credentials are saved yet (save them with `natoma-entra credentials`, then probe)"
        return f
    masked = sorted(k for k, v in values.items() if v == "*")
    clear = sorted(k for k, v in values.items() if v not in ("*", None, ""))
    f.settled, f.evidence = True, {"masked": masked, "in clear": clear}
    if clear == [] and masked:
        f.variant, f.answer = SECRETS_MASKED, f"every value reads back masked ({', '.join(masked)})"
    elif "BaseAddress" in clear and "SecretToken" in masked:
        f.variant, f.answer = DEFAULT, f"the token masked, the settings in clear ({', '.join(clear)})"
    else:
        f.answer = (f"masked: {', '.join(masked) or 'none'}; in clear: {', '.join(clear) or 'none'}: an answer the "
                    "sandbox does not play")
    return f


def write_only(key: str, section: str, question: str, variants: list[str], request: str) -> Finding:
    return Finding(key=key, section=section, question=question, settled=False, variants=variants,
                   answer=f"{NOT_WITHOUT_A_WRITE}: {request}")


def write_only_findings() -> list[Finding]:
    return [
        write_only("secrets-put", "f", "Does PUT .../secrets merge keys or replace the whole set?",
                   [DEFAULT, SECRETS_REPLACE], "a PUT of one key, then a GET"),
        write_only("replication", "e", "How long is a new job (its schema, a new assignment) unreadable?",
                   [DEFAULT, SLOW_REPLICATION], "a GET and a schema PUT, once a second, right after creating a job"),
        write_only("provision-on-demand-shape", "g", "Which of the two documented shapes does provisionOnDemand "
                   "answer?", [DEFAULT, POD_STATUS_INFO], "POST .../provisionOnDemand for one assigned user"),
        write_only("throttled-writes", "h", "Does Graph throttle this tenant's writes, and which Retry-After form does "
                   "it send (seconds or an HTTP-date)?", [DEFAULT, THROTTLED_WRITES, RETRY_AFTER_DATE],
                   "writes Graph answers 429 (a run with --trace shows each 429 and its Retry-After)"),
        write_only("role-disable-lag", "j", "Right after the PATCH that disables an app role, does the application "
                   "still read it enabled?", [DEFAULT, ROLE_DISABLE_LAG],
                   "a PATCH that disables a role, then a GET of the application"),
        write_only("group-upsert", "o", "Does a group upsert for a uniqueName a group holds update it (204), or refuse "
                   "(400)?", [DEFAULT, GROUP_UPSERT_CONFLICT],
                   "two PATCH /groups(uniqueName='...') with Prefer: create-if-missing"),
        write_only("secrets-clear", "p", "Does PUT .../secrets accept an empty Tenant URL and Secret Token?",
                   [DEFAULT, SECRETS_CLEAR_REFUSED], "a PUT of BaseAddress and SecretToken with empty values"),
    ]


def judge_pages(a: Answer | None) -> Finding:
    f = Finding(key="empty-pages", section="k", question="Does a collection answer an empty page that still "
                "carries @odata.nextLink?", settled=False, answer="", variants=[DEFAULT, EMPTY_PAGES])
    if a is None:
        f.answer = "not settled: nothing to list"
        return f
    f.request = a.request
    if not a.ok:
        f.status, f.answer = (a.error.status if a.error else None), f"not settled: {_failed(a)}"
        return f
    body = a.body or {}
    items = body.get("value") if isinstance(body.get("value"), list) else []
    f.status = a.status
    if not items and body.get("@odata.nextLink"):
        f.settled, f.variant, f.answer = True, EMPTY_PAGES, "the first page is empty and carries @odata.nextLink"
    elif items:
        f.settled, f.variant, f.answer = True, DEFAULT, f"the first page holds {len(items)} item(s)"
    else:
        f.answer = "not settled: the app has no assignments to list"
    return f


def judge_log_filters(job: dict | None, answers: list[tuple[str, Answer]]) -> Finding:
    f = Finding(key="log-filters", section="c", question="Does GET /auditLogs/provisioning accept the filters the "
                "CLI uses?", settled=False, answer="")
    if job is None or not answers:
        f.answer = "not settled: no provisioning job yet (its id is the filter)"
        return f
    results = {}
    for name, a in answers:
        if a.ok:
            results[name] = "accepted"
        elif a.error is not None and a.error.status in (400, 501):
            results[name] = f"refused ({a.error.status} {a.error.code})"
        else:
            f.answer, f.request = f"not settled: {_failed(a)}", a.request
            return f
    f.settled, f.request, f.evidence = True, answers[0][1].request, results
    f.answer = "; ".join(f"{k}: {v}" for k, v in results.items())
    return f


# The properties of each synchronization schema type in the Microsoft Graph v1.0 reference (synchronizationSchema,
# directoryDefinition, objectDefinition, attributeDefinition, synchronizationRule, objectMapping, attributeMapping,
# attributeMappingSource resource types): the fields the CLI knows and sends back as it read them.
SCHEMA_FIELDS: dict[str, set[str]] = {
    "schema": {"id", "directories", "synchronizationRules", "version"},
    "directory": {"id", "discoverabilities", "discoveryDateTime", "name", "objects", "readOnly", "version"},
    "object": {"attributes", "metadata", "name", "supportedApis"},
    "attribute": {"anchor", "apiExpressions", "caseExact", "defaultValue", "flowNullValues", "metadata", "multivalued",
                  "mutability", "name", "referencedObjects", "required", "type"},
    "rule": {"containerFilter", "editable", "groupFilter", "id", "metadata", "name", "objectMappings", "priority",
             "sourceDirectoryName", "targetDirectoryName"},
    "objectMapping": {"attributeMappings", "enabled", "flowTypes", "metadata", "name", "scope", "sourceObjectName",
                      "targetObjectName"},
    "attributeMapping": {"defaultValue", "exportMissingReferences", "flowBehavior", "flowType", "matchingPriority",
                         "source", "targetAttributeName"},
    "source": {"expression", "name", "parameters", "type"},
    "parameter": {"key", "value"},
}


def unknown_fields(schema: dict) -> list[str]:
    """Pure: the paths of schema properties the v1.0 reference does not document (OData annotations aside)."""
    found: set[str] = set()

    def visit(obj: Any, kind: str, path: str) -> None:
        if not isinstance(obj, dict):
            return
        for k in obj:
            if not k.startswith("@") and k not in SCHEMA_FIELDS[kind]:
                found.add(f"{path}.{k}" if path else k)
        for child_key, child_kind in CHILDREN.get(kind, ()):
            for item in obj.get(child_key) or []:
                visit(item, child_kind, f"{path}.{child_key}[]" if path else f"{child_key}[]")
        if kind == "attributeMapping":
            visit(obj.get("source"), "source", f"{path}.source")
        if kind == "parameter":
            visit(obj.get("value"), "source", f"{path}.value")

    visit(schema, "schema", "")
    return sorted(found)


CHILDREN = {"schema": (("directories", "directory"), ("synchronizationRules", "rule")),
            "directory": (("objects", "object"),), "object": (("attributes", "attribute"),),
            "rule": (("objectMappings", "objectMapping"),), "objectMapping": (("attributeMappings", "attributeMapping"),),
            "source": (("parameters", "parameter"),)}


def judge_schema(a: Answer | None) -> Finding:
    f = Finding(key="schema-fields", section="g", question="Does the schema read back with fields the CLI does not "
                "know?", settled=False, answer="", variants=[DEFAULT, FORWARD_COMPATIBLE])
    if a is None:
        f.answer = "not settled: no schema to read"
        return f
    f.request = a.request
    if not a.ok:
        f.status, f.answer = (a.error.status if a.error else None), f"not settled: {_failed(a)}"
        return f
    extra = unknown_fields(a.body or {})
    f.settled, f.status, f.evidence = True, a.status, {"unknown": extra}
    f.variant = FORWARD_COMPATIBLE if extra else DEFAULT
    f.answer = ("only the fields the v1.0 reference documents" if not extra else
                f"{len(extra)} field(s) the CLI does not know (it sends them back as read): {', '.join(extra[:8])}"
                + (" ..." if len(extra) > 8 else ""))
    return f


def judge_owned_by(claims: Any, why: str) -> Finding:
    f = Finding(key="owned-by-lookup", section="d", question="With only Application.ReadWrite.OwnedBy, does "
                "GET /applications?$filter=appId eq '...' find an app the caller owns?", settled=False, answer="")
    if claims is None:
        f.answer = f"not settled: the access token's claims cannot be read ({why})"
        return f
    held = set(claims.held)
    wider = {"Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
    if claims.sign_in != "application" or "Application.ReadWrite.OwnedBy" not in held or held & wider:
        f.answer = ("not settled by this identity: it reads applications with a wider permission (settle it with an "
                    "app that holds only Application.ReadWrite.OwnedBy and owns the Natoma app)")
        return f
    f.settled, f.answer = True, "the app was found with Application.ReadWrite.OwnedBy alone (the caller owns it)"
    return f


def judge(o: Observed) -> list[Finding]:
    """Pure: every finding, in the order of docs/graph-assumptions.md."""
    out = [judge_templates(o.templates)] if o.templates is not None else []
    out += [judge_collection_test(o.collection_test), judge_log_filters(o.job, o.log_filters),
            judge_owned_by(o.claims, o.claims_why)]
    writes = write_only_findings()
    out.append(writes[1])  # replication (e)
    if o.secrets is not None:
        out.append(judge_secrets(o.secrets))
    out += [writes[0], judge_failure_body(o.collection_test, o.job_test), writes[2], judge_schema(o.schema),
            writes[3], writes[4], judge_pages(o.first_page), writes[5], writes[6]]
    return out


# -- the reads ------------------------------------------------------------------------------------------------------

async def _ask(request: str, call: Any) -> Answer:
    try:
        body = await call
    except GraphError as e:
        return Answer(request, error=e)
    return Answer(request, status=200 if body is not None else 204, body=body)


async def observe(session: Any) -> Observed:
    """The probe's reads: nothing is written (the connection tests change nothing and carry a wrong token)."""
    from .graph.odata import eq, seg
    from .preflight import current_token
    from .steps.credentials import readable, secrets_path, validate_body
    from .steps.job import SCIM_TEMPLATE, job_path, jobs_path, read_job, template_schema_path
    from .token_claims import read

    graph = session.graph
    app = await session.app()
    sp = seg(app.sp_id)
    o = Observed()
    templates_path = f"/servicePrincipals/{sp}/synchronization/templates"
    assigned = f"/servicePrincipals/{sp}/appRoleAssignedTo"
    o.templates, o.secrets, job_or_error, o.first_page = await graph.gather(
        _ask(f"GET {templates_path}", graph.list(templates_path)),
        _ask(f"GET {secrets_path(app.sp_id)}", graph.get(secrets_path(app.sp_id))),
        _job(session, read_job),
        _ask(f"GET {assigned}", graph.get(assigned, {"$select": "id", "$top": "999"})))
    o.job = job_or_error if isinstance(job_or_error, dict) else None
    o.claims, o.claims_why = read(await current_token(graph))
    saved = {it.get("key"): it.get("value") for it in ((o.secrets.body or {}).get("value") or [])
             if isinstance(it, dict)} if o.secrets.ok else {}
    o.scim_url = session.config.scim.url or readable(saved.get("BaseAddress"))
    reads = []
    if o.scim_url:
        session.progress(f"testing the connection to {o.scim_url} with a deliberately wrong token...")
        body = {**validate_body(o.scim_url, WRONG_TOKEN), "templateId": SCIM_TEMPLATE}
        reads.append(_ask(f"POST {jobs_path(app.sp_id)}/validateCredentials",
                          graph.post(f"{jobs_path(app.sp_id)}/validateCredentials", body)))
    if o.job is not None:
        reads.append(_ask(f"GET {job_path(app.sp_id, o.job['id'])}/schema",
                          graph.get(f"{job_path(app.sp_id, o.job['id'])}/schema")))
        for name, flt in (("jobId eq", eq("jobId", o.job["id"])), ("servicePrincipal/id eq",
                                                                   eq("servicePrincipal/id", app.sp_id))):
            reads.append(_ask(f"GET /auditLogs/provisioning?$filter={flt}",
                              graph.get("/auditLogs/provisioning", {"$filter": flt, "$top": "1"})))
    else:
        path = template_schema_path(app.sp_id, SCIM_TEMPLATE)
        reads.append(_ask(f"GET {path}", graph.get(path)))
    answers = await graph.gather(*reads)
    if o.scim_url:
        o.collection_test, answers = answers[0], answers[1:]
    o.schema, filters = answers[0], answers[1:]
    o.log_filters = list(zip(("jobId eq", "servicePrincipal/id eq"), filters))
    if o.job is not None and o.scim_url and not _refused_by_endpoint(o.collection_test):
        path = f"{job_path(app.sp_id, o.job['id'])}/validateCredentials"
        o.job_test = await _ask(f"POST {path}", graph.post(path, validate_body(o.scim_url, WRONG_TOKEN)))
    return o


def _refused_by_endpoint(a: Answer | None) -> bool:
    return a is not None and a.error is not None and _is_test_failure(a.error)


async def _job(session: Any, read_job: Any) -> dict | Exception | None:
    try:
        return await read_job(session)
    except NatomaEntraError as e:  # more than one job, or the list refused: the job-dependent reads are skipped
        return e


async def run_probe(session: Any) -> Any:
    """The probe as a Report: one step per behaviour, the Finding in its info."""
    from .results import Report, StepResult

    observed = await observe(session)
    report = Report(command="probe", app=(await session.app()).summary())
    for f in judge(observed):
        report.add(StepResult(step=f.key, status="unchanged", info=f.model_dump(mode="json")))
    return report
