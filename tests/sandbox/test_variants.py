"""The variants (sandbox/options.py VARIANTS): each plays one answer Microsoft's documentation leaves open."""
from __future__ import annotations

import json

import httpx
import pytest

from natoma_entra.sandbox import options as V
from natoma_entra.sandbox.graph import GraphHandler
from natoma_entra.sandbox.options import SandboxOptions, UnknownVariant, parse_variants
from natoma_entra.sandbox.state import NATOMA_TOKEN, NATOMA_URL, Tenant
from natoma_entra.sandbox.transport import SandboxSyncTransport

CREDS = [{"key": "BaseAddress", "value": NATOMA_URL}, {"key": "SecretToken", "value": NATOMA_TOKEN}]


@pytest.fixture
def make(clock, helpers):
    """make(*variants, **options) -> (client, tenant) over a fresh tenant playing those variants."""
    clients = []

    def make_(*variants, **options):
        tenant = Tenant.initial(**SandboxOptions(variants=frozenset(variants), clock=clock, **options).tenant_options())
        client = httpx.Client(transport=SandboxSyncTransport(GraphHandler(tenant)), base_url=helpers.BASE,
                              headers=helpers.AUTH)
        clients.append(client)
        return client, tenant

    yield make_
    for c in clients:
        c.close()


def sync(ids):
    return f"/servicePrincipals/{ids.sp}/synchronization"


def test_every_variant_is_named_and_described():
    assert len(V.VARIANTS) >= 8 and all(isinstance(d, str) and len(d) > 20 for d in V.VARIANTS.values())
    assert parse_variants("secrets-masked, slow-replication") == {"secrets-masked", "slow-replication"}
    assert parse_variants(["all"]) == set(V.VARIANTS)
    with pytest.raises(UnknownVariant) as e:
        parse_variants(["secrets-masked", "nope"])
    assert e.value.names == ["nope"]
    with pytest.raises(UnknownVariant):
        SandboxOptions(variants=frozenset({"nope"}))


@pytest.mark.parametrize("variant, listed", [(None, ["scim"]), (V.TEMPLATES_UNLISTED, []),
                                             (V.LEGACY_TEMPLATE_ONLY, ["customappsso"])])
def test_template_list_varies_but_post_jobs_with_scim_works(make, ids, variant, listed):
    g, tenant = make(*([variant] if variant else []))
    assert [t["id"] for t in g.get(f"{sync(ids)}/templates").json()["value"]] == listed
    r = g.post(f"{sync(ids)}/jobs", json={"templateId": "scim"})
    assert r.status_code == 201 and r.json()["templateId"] == "scim"
    assert g.get(f"{sync(ids)}/jobs/{r.json()['id']}/schema").status_code == 200


def test_collection_level_test_refused_for_a_non_credential_reason(make, ids, helpers):
    g, tenant = make(V.COLLECTION_TEST_REFUSED)
    body = {"templateId": "scim", "useSavedCredentials": False, "credentials": CREDS}
    status, code, message = helpers.error(g.post(f"{sync(ids)}/jobs/validateCredentials", json=body))
    assert (status, code) == (400, "BadRequest") and "without a synchronization job" in message
    assert "CredentialValidation" not in code  # not the credential failure's code
    job = g.post(f"{sync(ids)}/jobs", json={"templateId": "scim"}).json()["id"]
    ok = g.post(f"{sync(ids)}/jobs/{job}/validateCredentials", json={"useSavedCredentials": False, "credentials": CREDS})
    assert ok.status_code == 204  # the job-level test works


def secrets(g, ids):
    return {s["key"]: s["value"] for s in g.get(f"{sync(ids)}/secrets").json()["value"]}


def test_secrets_put_replaces_the_whole_set(make, ids):
    g, t = make(V.SECRETS_REPLACE)
    assert g.put(f"{sync(ids)}/secrets", json={"value": CREDS + [{"key": "SyncAll", "value": "false"}]}).status_code == 204
    assert g.put(f"{sync(ids)}/secrets", json={"value": [{"key": "SyncAll", "value": "true"}]}).status_code == 204
    assert {s["key"]: s["value"] for s in t.state["secrets"][ids.sp]} == {"SyncAll": "true"}
    merged, t2 = make()
    merged.put(f"{sync(ids)}/secrets", json={"value": CREDS})
    merged.put(f"{sync(ids)}/secrets", json={"value": [{"key": "SyncAll", "value": "true"}]})
    assert set(s["key"] for s in t2.state["secrets"][ids.sp]) == {"BaseAddress", "SecretToken", "SyncAll"}


def test_secrets_masked_hides_base_address_and_sync_all(make, ids):
    body = {"value": CREDS + [{"key": "SyncAll", "value": "false"}]}
    plain, _ = make()
    plain.put(f"{sync(ids)}/secrets", json=body)
    assert secrets(plain, ids) == {"BaseAddress": NATOMA_URL, "SecretToken": "*", "SyncAll": "false"}
    masked, t = make(V.SECRETS_MASKED)
    masked.put(f"{sync(ids)}/secrets", json=body)
    assert secrets(masked, ids) == {"BaseAddress": "*", "SecretToken": "*", "SyncAll": "*"}
    assert {s["key"]: s["value"] for s in t.state["secrets"][ids.sp]}["BaseAddress"] == NATOMA_URL  # stored in clear


def test_validate_failure_body_variant(make, ids, helpers):
    bad = {"useSavedCredentials": False, "credentials": [CREDS[0], {"key": "SecretToken", "value": "wrong"}]}
    g, _ = make()
    status, code, _ = helpers.error(g.post(f"{sync(ids)}/jobs/validateCredentials", json={"templateId": "scim", **bad}))
    assert (status, code) == (400, "SystemForCrossDomainIdentityManagementCredentialValidationUnavailable")
    g2, _ = make(V.VALIDATE_SYNCFABRIC_BODY)
    status, code, message = helpers.error(g2.post(f"{sync(ids)}/jobs/validateCredentials",
                                                  json={"templateId": "scim", **bad}))
    assert (status, code) == (400, "UnknownError")
    assert "401" in json.loads(message)["Message"]  # the SCIM endpoint's answer, inside syncfabric's JSON


def test_slow_replication_in_seconds_on_the_tenant_clock(make, ids, clock, helpers):
    g, t = make(V.SLOW_REPLICATION, replication_seconds=10)
    job = g.post(f"{sync(ids)}/jobs", json={"templateId": "scim"}).json()["id"]
    for _ in range(5):  # reads alone change nothing
        assert g.get(f"{sync(ids)}/jobs/{job}").status_code == 404
    assert g.get(f"{sync(ids)}/jobs").json()["value"] == []
    clock.t += 5  # half way: readable, not yet usable
    assert g.get(f"{sync(ids)}/jobs/{job}").status_code == 200
    assert g.get(f"{sync(ids)}/jobs/{job}/schema").status_code == 200
    schema = g.get(f"{sync(ids)}/jobs/{job}/schema").json()
    assert g.put(f"{sync(ids)}/jobs/{job}/schema", json=schema).status_code == 409
    assert g.put(f"{sync(ids)}/secrets", json={"value": CREDS}).status_code == 403
    assert g.post(f"{sync(ids)}/jobs/{job}/start").status_code == 409
    clock.t += 5
    assert g.put(f"{sync(ids)}/jobs/{job}/schema", json=schema).status_code == 204
    assert g.put(f"{sync(ids)}/secrets", json={"value": CREDS}).status_code == 204


def test_slow_replication_of_assignments_and_service_principals(make, ids, clock, helpers):
    g, t = make(V.SLOW_REPLICATION)  # 20 s by default
    roles = g.get(f"/applications/{ids.app}").json()["appRoles"]
    g.patch(f"/applications/{ids.app}", json={"appRoles": helpers.natoma_roles(roles)})
    body = {"principalId": ids.admins, "resourceId": ids.sp, "appRoleId": helpers.ADMIN}
    assert g.post(f"/servicePrincipals/{ids.sp}/appRoleAssignedTo", json=body).status_code == 201
    assert g.get(f"/servicePrincipals/{ids.sp}/appRoleAssignedTo").json()["value"] == []  # not listed yet
    again = g.post(f"/servicePrincipals/{ids.sp}/appRoleAssignedTo", json=body)
    assert helpers.error(again)[2] == "Permission being assigned already exists on the object."
    new = g.post("/applicationTemplates/8adf8e6e-67b2-4cf2-a259-e3dc5476c621/instantiate",
                 json={"displayName": "Other"}).json()["servicePrincipal"]["id"]
    assert g.get(f"/servicePrincipals/{new}").status_code == 404
    clock.t += 20
    assert len(g.get(f"/servicePrincipals/{ids.sp}/appRoleAssignedTo").json()["value"]) == 1
    assert g.get(f"/servicePrincipals/{new}").status_code == 200
    assert t.state["replicating"] == {}


def test_no_replication_delay_by_default(make, ids):
    g, _ = make()
    job = g.post(f"{sync(ids)}/jobs", json={"templateId": "scim"}).json()["id"]
    assert g.get(f"{sync(ids)}/jobs/{job}").status_code == 200


def test_provision_on_demand_second_shape(make, ids, helpers):
    from natoma_entra.sandbox import schema_template
    from natoma_entra.steps.provision import STATUS_INFO_KEY, parse_response

    g, t = make(V.POD_STATUS_INFO)
    roles = g.get(f"/applications/{ids.app}").json()["appRoles"]
    g.patch(f"/applications/{ids.app}", json={"appRoles": helpers.natoma_roles(roles)})
    g.post(f"/servicePrincipals/{ids.sp}/appRoleAssignedTo",
           json={"principalId": ids.admins, "resourceId": ids.sp, "appRoleId": helpers.ADMIN})
    job = g.post(f"{sync(ids)}/jobs", json={"templateId": "scim"}).json()["id"]
    g.put(f"{sync(ids)}/secrets", json={"value": CREDS})
    body = {"parameters": [{"ruleId": schema_template.USER_RULE_ID,
                            "subjects": [{"objectId": ids.adele, "objectTypeName": "User"}]}]}
    r = g.post(f"{sync(ids)}/jobs/{job}/provisionOnDemand", json=body)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["key"] == STATUS_INFO_KEY
    records = json.loads(doc["value"])
    assert isinstance(records, list) and records[0]["statusInfo"]["status"] == "Success"
    assert parse_response(doc).outcome == "provisioned"  # the CLI reads this shape too
