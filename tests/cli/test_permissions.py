"""A missing Graph permission: the run stops naming the permission, and the tenant is left as it was. With a token
whose claims can be read, the preflight stops it before any write (exit 2); a permission whose lack shows in the
reads (the connection test needs Synchronization.ReadWrite.All) stops it there (exit 1); with an opaque token the
first write's 403 names it (exit 1)."""
import pytest



def snapshot(tenant) -> dict:
    st = dict(tenant.state)
    st.pop("provisioningLogs", None)
    return st


@pytest.mark.parametrize("sign_in", ["application", "opaque"])
@pytest.mark.parametrize("command,denied,named,code", [
    ("roles", "Application.ReadWrite.All", "Application.ReadWrite", 2),
    ("assign", "AppRoleAssignment.ReadWrite.All", "AppRoleAssignment.ReadWrite.All", 2),
    ("mapping", "Synchronization.ReadWrite.All", "Synchronization.ReadWrite.All", 2),
    ("credentials", "Synchronization.ReadWrite.All", "Synchronization.ReadWrite.All", 1),
    ("setup", "Synchronization.ReadWrite.All", "Synchronization.ReadWrite.All", 1),
])
def test_missing_permission_is_named_and_nothing_changes(sandbox, monkeypatch, command, denied, named, code,
                                                          sign_in):
    if command in ("assign", "credentials"):  # get the earlier steps in place first
        assert sandbox.cli("roles").code == 0
    before = snapshot(sandbox.tenant())
    sandbox.options.denied_permissions = {denied}
    sandbox.options.sign_in = sign_in
    r = sandbox.cli(command, "--output", "json")
    assert r.code == (code if sign_in == "application" else 1), r.out + r.err
    text = r.out + r.err
    assert named in text and "admin-consent" in text
    # setup too: its up-front connection test needs the permission, so it stops before roles/assign write
    assert snapshot(sandbox.tenant()) == before


def test_delegated_sign_in_names_the_entra_role_too():
    import httpx

    from natoma_entra.graph.errors import from_response

    e = from_response(403, b'{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges"}}',
                      httpx.Headers(), "PUT", "/servicePrincipals/x/synchronization/jobs/j/schema", delegated=True)
    assert "Synchronization.ReadWrite.All" in e.fix and "Cloud Application Administrator" in e.fix
