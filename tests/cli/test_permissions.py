"""A missing Graph permission: the step fails (exit 1) naming the permission, and the tenant is left as it was."""
import pytest



def snapshot(tenant) -> dict:
    st = dict(tenant.state)
    st.pop("provisioningLogs", None)
    return st


@pytest.mark.parametrize("command,denied,named", [
    ("roles", "Application.ReadWrite.All", "Application.ReadWrite"),
    ("assign", "AppRoleAssignment.ReadWrite.All", "AppRoleAssignment.ReadWrite.All"),
    ("mapping", "Synchronization.ReadWrite.All", "Synchronization.ReadWrite.All"),
    ("credentials", "Synchronization.ReadWrite.All", "Synchronization.ReadWrite.All"),
    ("setup", "Synchronization.ReadWrite.All", "Synchronization.ReadWrite.All"),
])
def test_missing_permission_is_named_and_nothing_changes(sandbox, monkeypatch, command, denied, named):
    if command in ("assign", "credentials"):  # get the earlier steps in place first
        assert sandbox.cli("roles").code == 0
    before = snapshot(sandbox.tenant())
    sandbox.options.denied_permissions = {denied}
    r = sandbox.cli(command, "--output", "json")
    assert r.code == 1, r.out + r.err
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
