"""App lookup through respx: by display name, appId, service principal object id, application object id;
no match and several matches list what was found."""
import asyncio

import httpx
import pytest
import respx

from natoma_entra.graph.auth import StaticTokenCredential
from natoma_entra.graph.client import GraphClient
from natoma_entra.graph.errors import GraphError
from natoma_entra.errors import UsageError
from natoma_entra.graph.lookups import find_app, find_group

BASE = "https://graph.microsoft.com/v1.0"
APP_ID = "11111111-1111-1111-1111-111111111111"
SP_ID = "22222222-2222-2222-2222-222222222222"
OBJ_ID = "33333333-3333-3333-3333-333333333333"
SP = {"id": SP_ID, "appId": APP_ID, "displayName": "Natoma", "appRoles": []}
APP = {"id": OBJ_ID, "appId": APP_ID, "displayName": "Natoma", "appRoles": []}
NOT_FOUND = {"error": {"code": "Request_ResourceNotFound", "message": "Resource does not exist",
                       "innerError": {"request-id": "r"}}}


def client():
    return GraphClient(StaticTokenCredential("fake-access-token"), BASE)


def run(coro):
    return asyncio.run(coro)


def sp_filter(request):
    return request.url.params.get("$filter", "")


@respx.mock
def test_by_display_name_resolves_sp_and_application():
    respx.get(f"{BASE}/servicePrincipals", params={"$filter": "displayName eq 'Natoma'"}).mock(
        return_value=httpx.Response(200, json={"value": [SP]}))
    by_name = respx.get(f"{BASE}/applications", params={"$filter": "displayName eq 'Natoma'"}).mock(
        return_value=httpx.Response(200, json={"value": [APP]}))
    by_app_id = respx.get(f"{BASE}/applications", params={"$filter": f"appId eq '{APP_ID}'"}).mock(
        return_value=httpx.Response(200, json={"value": [APP]}))
    app = run(find_app(client(), "Natoma"))
    assert app.sp_id == SP_ID and app.application["id"] == OBJ_ID and app.app_id == APP_ID
    # one round trip: the application is asked for by name beside the service principal, not after it
    assert by_name.called and not by_app_id.called


@respx.mock
def test_application_renamed_apart_from_its_service_principal_is_found_by_app_id():
    respx.get(f"{BASE}/servicePrincipals", params={"$filter": "displayName eq 'Natoma'"}).mock(
        return_value=httpx.Response(200, json={"value": [SP]}))
    respx.get(f"{BASE}/applications", params={"$filter": "displayName eq 'Natoma'"}).mock(
        return_value=httpx.Response(200, json={"value": [dict(APP, id="other", appId="99999999-9999-9999-9999-999999999999")]}))
    respx.get(f"{BASE}/applications", params={"$filter": f"appId eq '{APP_ID}'"}).mock(
        return_value=httpx.Response(200, json={"value": [dict(APP, displayName="Natoma (old name)")]}))
    app = run(find_app(client(), "Natoma"))
    assert app.application["id"] == OBJ_ID and app.application["displayName"] == "Natoma (old name)"


@respx.mock
def test_display_name_with_quote_is_escaped():
    route = respx.get(f"{BASE}/servicePrincipals", params={"$filter": "displayName eq 'O''Brien App'"}).mock(
        return_value=httpx.Response(200, json={"value": [dict(SP, displayName="O'Brien App")]}))
    respx.get(f"{BASE}/applications").mock(return_value=httpx.Response(200, json={"value": [APP]}))
    assert run(find_app(client(), "O'Brien App")).display_name == "O'Brien App"
    assert route.called


@respx.mock
def test_ambiguous_display_name_lists_candidates():
    other = dict(SP, id="44444444-4444-4444-4444-444444444444", appId="55555555-5555-5555-5555-555555555555")
    respx.get(f"{BASE}/servicePrincipals").mock(return_value=httpx.Response(200, json={"value": [SP, other]}))
    respx.get(f"{BASE}/applications").mock(return_value=httpx.Response(200, json={"value": []}))
    with pytest.raises(UsageError) as e:
        run(find_app(client(), "Natoma"))
    assert APP_ID in str(e.value) and other["appId"] in str(e.value) and "appId" in e.value.fix


@respx.mock
def test_unknown_name_lists_similar_apps():
    def answer(request):
        if "startswith" in sp_filter(request):
            return httpx.Response(200, json={"value": [dict(SP, displayName="Natoma Prod")]})
        return httpx.Response(200, json={"value": []})

    respx.get(f"{BASE}/servicePrincipals").mock(side_effect=answer)
    respx.get(f"{BASE}/applications").mock(return_value=httpx.Response(200, json={"value": []}))
    with pytest.raises(UsageError) as e:
        run(find_app(client(), "Natomaa"))
    assert "no enterprise app named 'Natomaa'" in str(e.value) and "Natoma Prod" in str(e.value)
    assert APP_ID in str(e.value)  # candidates are listed with their appIds


@respx.mock
def test_by_app_id():
    def sps(request):
        if f"appId eq '{APP_ID}'" in sp_filter(request):
            return httpx.Response(200, json={"value": [SP]})
        return httpx.Response(200, json={"value": []})

    respx.get(f"{BASE}/servicePrincipals").mock(side_effect=sps)
    respx.get(f"{BASE}/servicePrincipals/{APP_ID}").mock(return_value=httpx.Response(404, json=NOT_FOUND))
    respx.get(f"{BASE}/applications/{APP_ID}").mock(return_value=httpx.Response(404, json=NOT_FOUND))
    respx.get(f"{BASE}/applications").mock(return_value=httpx.Response(200, json={"value": [APP]}))
    assert run(find_app(client(), APP_ID)).sp_id == SP_ID


@respx.mock
def test_by_service_principal_object_id():
    respx.get(f"{BASE}/servicePrincipals").mock(
        side_effect=lambda r: httpx.Response(200, json={"value": [SP] if "appId eq '1111" in sp_filter(r) else []}))
    respx.get(f"{BASE}/servicePrincipals/{SP_ID}").mock(return_value=httpx.Response(200, json=SP))
    respx.get(f"{BASE}/applications/{SP_ID}").mock(return_value=httpx.Response(404, json=NOT_FOUND))
    respx.get(f"{BASE}/applications").mock(return_value=httpx.Response(200, json={"value": [APP]}))
    assert run(find_app(client(), SP_ID)).sp_id == SP_ID


@respx.mock
def test_by_application_object_id():
    respx.get(f"{BASE}/servicePrincipals").mock(
        side_effect=lambda r: httpx.Response(200, json={"value": [SP] if f"appId eq '{APP_ID}'" in sp_filter(r) else []}))
    respx.get(f"{BASE}/servicePrincipals/{OBJ_ID}").mock(return_value=httpx.Response(404, json=NOT_FOUND))
    respx.get(f"{BASE}/applications/{OBJ_ID}").mock(return_value=httpx.Response(200, json=APP))
    respx.get(f"{BASE}/applications").mock(return_value=httpx.Response(200, json={"value": [APP]}))
    app = run(find_app(client(), OBJ_ID))
    assert app.sp_id == SP_ID and app.application["id"] == OBJ_ID


@respx.mock
def test_app_registration_without_enterprise_app_says_how_to_fix():
    respx.get(f"{BASE}/servicePrincipals").mock(return_value=httpx.Response(200, json={"value": []}))
    respx.get(f"{BASE}/servicePrincipals/{OBJ_ID}").mock(return_value=httpx.Response(404, json=NOT_FOUND))
    respx.get(f"{BASE}/applications/{OBJ_ID}").mock(return_value=httpx.Response(200, json=APP))
    respx.get(f"{BASE}/applications").mock(return_value=httpx.Response(200, json={"value": []}))
    with pytest.raises(UsageError) as e:
        run(find_app(client(), OBJ_ID))
    assert "no enterprise application" in str(e.value) and "non-gallery" in e.value.fix


@respx.mock
def test_unknown_guid():
    respx.get(f"{BASE}/servicePrincipals").mock(return_value=httpx.Response(200, json={"value": []}))
    respx.get(url__regex=rf"{BASE}/(servicePrincipals|applications)/{APP_ID}").mock(
        return_value=httpx.Response(404, json=NOT_FOUND))
    respx.get(f"{BASE}/applications").mock(return_value=httpx.Response(200, json={"value": []}))
    with pytest.raises(UsageError) as e:
        run(find_app(client(), APP_ID))
    assert APP_ID in str(e.value)


@respx.mock
def test_multi_tenant_app_without_local_application():
    respx.get(f"{BASE}/servicePrincipals").mock(return_value=httpx.Response(200, json={"value": [SP]}))
    respx.get(f"{BASE}/applications").mock(return_value=httpx.Response(200, json={"value": []}))
    app = run(find_app(client(), "Natoma"))
    assert app.application is None and app.sp_id == SP_ID


@respx.mock
def test_permission_error_on_lookup_is_a_graph_error_naming_the_permission():
    respx.get(f"{BASE}/servicePrincipals").mock(return_value=httpx.Response(403, json={
        "error": {"code": "Authorization_RequestDenied", "message": "Insufficient privileges to complete the operation."}}))
    with pytest.raises(GraphError) as e:
        run(find_app(client(), "Natoma"))
    assert e.value.status == 403 and "Application.Read.All" in e.value.fix


@respx.mock
def test_paging_follows_next_link():
    page2 = f"{BASE}/groups?$skiptoken=abc"
    respx.get(f"{BASE}/groups", params={"$skiptoken": "abc"}).mock(
        return_value=httpx.Response(200, json={"value": [{"id": "b", "displayName": "X", "securityEnabled": True}]}))
    respx.get(f"{BASE}/groups", params={"$filter": "displayName eq 'X'"}).mock(
        return_value=httpx.Response(200, json={"value": [{"id": "a", "displayName": "X", "securityEnabled": True}],
                                               "@odata.nextLink": page2}))
    with pytest.raises(UsageError) as e:  # two groups named X across two pages: ambiguous
        run(find_group(client(), "X"))
    assert "2 groups are named 'X'" in str(e.value)


@respx.mock
def test_bearer_token_is_sent_and_base_url_has_no_double_slash():
    route = respx.get(f"{BASE}/servicePrincipals").mock(return_value=httpx.Response(200, json={"value": [SP]}))
    respx.get(f"{BASE}/applications").mock(return_value=httpx.Response(200, json={"value": [APP]}))
    run(find_app(client(), "Natoma"))
    req = route.calls[0].request
    assert req.headers["authorization"] == "Bearer fake-access-token"
    assert "//servicePrincipals" not in str(req.url)
