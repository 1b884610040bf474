"""The preflight's pure parts: reading a token's claims, judging needs against them (alternatives, implied reads,
OwnedBy and ownership, directory roles), and the grant instructions per kind of identity."""
import base64
import json

import pytest

from natoma_entra import preflight
from natoma_entra.token_claims import Claims, read


def jwt(payload: dict) -> str:
    """A JWT-shaped token built at runtime (unsigned: the preflight never verifies)."""
    part = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).decode().rstrip("=")  # noqa: E731
    return f"{part({'typ': 'JWT', 'alg': 'RS256'})}.{part(payload)}.c2ln"


def app(*roles: str, **kw) -> Claims:
    return Claims(sign_in="application", roles=list(roles), object_id="oid-1", app_id="app-1", **kw)


def user(*scopes: str, wids=None) -> Claims:
    return Claims(sign_in="delegated", scopes=list(scopes), wids=wids, object_id="user-1",
                  app_id=preflight.AZURE_CLI_APP_ID, user="admin@contoso.com")


def needs(*ops: tuple[str, str]) -> list[preflight.Need]:
    found, unknown = preflight.needs_of([("step", m, p) for m, p in ops])
    assert not unknown
    return found


@pytest.mark.parametrize("token,why", [
    ("sandbox-access-token", "not a JSON Web Token"),
    ("a.b.c.d.e", "an encrypted token (JWE)"),
    ("aGVhZA.!!!.c2ln", "a token whose payload is not base64url JSON"),
    (None, "no access token could be obtained"),
])
def test_unreadable_tokens_say_why(token, why):
    assert read(token) == (None, why)


def test_claims_of_app_and_user_tokens():
    c, _ = read(jwt({"roles": ["Application.ReadWrite.All"], "oid": "o", "appid": "a", "app_displayname": "CI",
                     "xms_mirid": "/subscriptions/x"}))
    assert (c.sign_in, c.roles, c.managed_identity, c.identity) == ("application", ["Application.ReadWrite.All"],
                                                                   True, "CI (appId a)")
    bare, _ = read(jwt({"oid": "o", "appid": "a"}))  # an app granted nothing has no roles claim at all
    assert bare.sign_in == "application" and bare.roles == []
    u, _ = read(jwt({"scp": "User.Read Synchronization.ReadWrite.All", "upn": "x@y", "wids": ["w"]}))
    assert (u.sign_in, u.scopes, u.wids, u.identity) == ("delegated", ["User.Read", "Synchronization.ReadWrite.All"],
                                                        ["w"], "x@y")
    no_wids, _ = read(jwt({"scp": "User.Read"}))
    assert no_wids.wids is None


def test_placeholders_of_plans_map_to_their_requests():
    found, unknown = preflight.needs_of([("mapping", "PUT", "(the new job)/schema"),
                                         ("credentials", "POST", "(the job)/validateCredentials"),
                                         ("credentials", "PUT", "(the app)/synchronization/secrets"),
                                         ("app", "PATCH", "/applications/{new}"), ("x", "GET", "/nowhere")])
    assert [n.request for n in found] == ["sync-write", "sync-write", "sync-write", "update-application"]
    assert found[3].owner_of == "new" and found[0].owner_of == "servicePrincipal"
    assert unknown == ["x: GET /nowhere"]


def test_readwrite_implies_read_and_alternatives_count():
    grant = needs(("POST", "/servicePrincipals/s/appRoleAssignedTo"))
    # the page's alternative: AppRoleAssignment.ReadWrite.All and Directory.Read.All
    assert preflight.evaluate(app("AppRoleAssignment.ReadWrite.All", "Directory.Read.All"), grant).ok
    # Application.ReadWrite.All stands for the Application.Read.All of the first option
    assert preflight.evaluate(app("AppRoleAssignment.ReadWrite.All", "Application.ReadWrite.All"), grant).ok
    short = preflight.evaluate(app("Application.Read.All"), grant)
    assert [m.permission for m in short.missing] == ["AppRoleAssignment.ReadWrite.All"]
    assert short.missing[0].alternatives == ["AppRoleAssignment.ReadWrite.All and Directory.Read.All"]


@pytest.mark.parametrize("owns,missing,notes", [
    (True, [], 0), (None, [], 1), (False, ["owner of the app's servicePrincipal"], 0),
])
def test_owned_by_counts_only_with_ownership(owns, missing, notes):
    n = needs(("PUT", "/servicePrincipals/s/synchronization/jobs/j/schema"))
    r = preflight.evaluate(app("Application.ReadWrite.OwnedBy"), n, owns={"servicePrincipal": owns})
    assert [m.permission for m in r.missing] == missing and len(r.notes) == notes
    if missing:
        assert r.missing[0].kind == "ownership"
        assert r.missing[0].alternatives == ["grant Synchronization.ReadWrite.All"]


def test_an_app_the_caller_creates_is_its_own_with_owned_by():
    n = needs(("POST", "/applicationTemplates/t/instantiate"), ("PATCH", "/applications/{new}"))
    assert preflight.evaluate(app("Application.ReadWrite.OwnedBy"), n).ok


def test_delegated_needs_the_scope_and_a_role_or_ownership():
    n = needs(("POST", "/servicePrincipals/s/synchronization/jobs/j/start"))
    role = preflight.ROLE_IDS["Application Administrator"]
    assert preflight.evaluate(user("Synchronization.ReadWrite.All", wids=[role]), n).ok
    assert preflight.evaluate(user("Synchronization.ReadWrite.All", wids=[preflight.ROLE_IDS["Global Administrator"]]),
                              n).ok
    none = preflight.evaluate(user("Synchronization.ReadWrite.All", wids=[]), n)
    assert [(m.permission, m.kind) for m in none.missing] == [("Cloud Application Administrator", "directory-role")]
    assert preflight.evaluate(user("Synchronization.ReadWrite.All", wids=[]), n,
                              owns={"servicePrincipal": True}).ok  # an owner may manage the app
    unknown = preflight.evaluate(user("Synchronization.ReadWrite.All"), n)  # no wids claim
    assert unknown.ok and unknown.notes == ["the token carries no wids claim: the Entra role of the signed-in user "
                                            "is not checked"]
    scope = preflight.evaluate(user("User.Read", wids=[role]), n)
    assert [(m.permission, m.kind) for m in scope.missing] == [("Synchronization.ReadWrite.All", "delegated")]


def test_grants_per_kind_of_identity():
    perm = "Synchronization.ReadWrite.All"
    a = preflight.grant_for(perm, "application", app(), graph_url="https://graph.microsoft.us/v1.0")
    assert a.az == ["az ad app permission add --id app-1 --api 00000003-0000-0000-c000-000000000000 "
                    "--api-permissions 9b50c33d-700f-43b1-b2eb-87e89b703581=Role",
                    "az ad app permission admin-consent --id app-1"]
    mi = preflight.grant_for(perm, "application", app(managed_identity=True), graph_url="https://graph.microsoft.us/v1.0")
    assert mi.az[1].startswith("az rest --method POST --uri https://graph.microsoft.us/v1.0/servicePrincipals/oid-1/"
                               "appRoleAssignments")
    assert "9b50c33d-700f-43b1-b2eb-87e89b703581" in mi.az[1] and "portal" not in mi.az[1]
    assert "managed identity" in mi.portal
    d = preflight.grant_for(perm, "delegated", user())
    assert d.az[0] == f"az ad app permission grant --id {preflight.AZURE_CLI_APP_ID} --api " \
                      f"00000003-0000-0000-c000-000000000000 --scope {perm}"
    own_app = preflight.grant_for(perm, "delegated", Claims(sign_in="delegated", app_id="mine", app_name="Ops"))
    assert own_app.az[0].endswith("--api-permissions 7bb27fa3-ea8f-4d67-a916-87715b6188bd=Scope")
    role = preflight.grant_for("Cloud Application Administrator", "directory-role", user())
    assert "roleManagement/directory/roleAssignments" in role.az[0] and "158c047a-c907-4556-b7ef-446551a6b5f7" in role.az[0]


def test_every_permission_the_table_names_has_its_ids():
    """A grant command never carries a placeholder for a permission permissions.py asks for."""
    from natoma_entra import permissions

    named = {n for r in permissions.REQUESTS for text in (r.application, *r.alternatives) for n in permissions.names(text)}
    assert named <= set(preflight.APP_ROLE_IDS)
    delegated = {n for r in permissions.REQUESTS for n in permissions.names(r.delegated)}
    assert delegated <= set(preflight.SCOPE_IDS)
    assert {r for req in permissions.REQUESTS for r in req.roles} <= set(preflight.ROLE_IDS)
