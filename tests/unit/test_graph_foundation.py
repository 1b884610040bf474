"""Clouds, auth mode selection, OData quoting and error translation."""
import httpx
import pytest

from natoma_entra.graph import auth, errors
from natoma_entra.graph.clouds import CLOUDS, check_endpoint, graph_base_url
from natoma_entra.graph.odata import eq, literal


@pytest.mark.parametrize("cloud,graph,login", [
    ("global", "https://graph.microsoft.com/v1.0", "login.microsoftonline.com"),
    ("usgov", "https://graph.microsoft.us/v1.0", "login.microsoftonline.us"),
    ("usgov-dod", "https://dod-graph.microsoft.us/v1.0", "login.microsoftonline.us"),
    ("china", "https://microsoftgraph.chinacloudapi.cn/v1.0", "login.chinacloudapi.cn"),
])
def test_cloud_moves_graph_host_and_authority_together(cloud, graph, login):
    assert graph_base_url(cloud) == graph
    assert CLOUDS[cloud].authority_host == login


def test_graph_endpoint_overrides_and_drops_trailing_slash():
    assert graph_base_url("global", "http://127.0.0.1:8080/v1.0/") == "http://127.0.0.1:8080/v1.0"


@pytest.mark.parametrize("url", ["http://graph.example.com/v1.0", "graph.microsoft.com/v1.0", "ftp://x/v1.0"])
def test_graph_endpoint_http_only_on_loopback(url):
    with pytest.raises(ValueError):
        check_endpoint(url)


@pytest.mark.parametrize("url", ["http://localhost:1/v1.0", "http://127.0.0.1:8080/v1.0", "http://[::1]:9/v1.0",
                                 "https://proxy.example.com/v1.0"])
def test_graph_endpoint_accepted(url):
    assert check_endpoint(url) == url


def test_odata_literal_doubles_quotes():
    assert literal("O'Brien") == "'O''Brien'"
    assert eq("displayName", "Natoma's") == "displayName eq 'Natoma''s'"


def test_access_token_mode_reads_the_environment():
    cred = auth.build_credential("access-token", tenant=None, cloud="global",
                                 env={"NATOMA_ENTRA_ACCESS_TOKEN": "fake-access-token"})
    assert cred.get_token("https://graph.microsoft.com/.default").token == "fake-access-token"
    assert "fake-access-token" not in repr(cred)


def test_access_token_mode_without_token_is_a_usage_error():
    with pytest.raises(errors.UsageError) as e:
        auth.build_credential("access-token", tenant=None, cloud="global", env={})
    assert "NATOMA_ENTRA_ACCESS_TOKEN" in str(e.value)


def test_client_secret_mode_builds_credential_for_the_cloud_authority():
    from azure.identity import ClientSecretCredential

    cred = auth.build_credential("client-secret", tenant="contoso.onmicrosoft.us", cloud="usgov",
                                 env={"AZURE_CLIENT_ID": "00000000-0000-0000-0000-000000000001",
                                      "AZURE_CLIENT_SECRET": "fake-client-secret"})
    assert isinstance(cred.inner, ClientSecretCredential)  # wrapped: its tokens are registered for redaction
    assert cred._authority == "https://login.microsoftonline.us"  # sign-in goes to the US Gov authority


def test_client_secret_mode_names_missing_variables():
    with pytest.raises(errors.UsageError) as e:
        auth.build_credential("client-secret", tenant="t", cloud="global", env={"AZURE_CLIENT_ID": "x"})
    assert "AZURE_CLIENT_SECRET" in str(e.value)


def test_interactive_modes_need_a_tenant():
    with pytest.raises(errors.UsageError) as e:
        auth.build_credential("device-code", tenant=None, cloud="global", env={})
    assert "--tenant" in e.value.fix


@pytest.mark.parametrize("mode,cls", [("cli", "AzureCliCredential"), ("default", "DefaultAzureCredential"),
                                      ("managed-identity", "ManagedIdentityCredential"),
                                      ("device-code", "DeviceCodeCredential"), ("browser", "InteractiveBrowserCredential")])
def test_each_mode_selects_its_credential(mode, cls):
    cred = auth.build_credential(mode, tenant="contoso.onmicrosoft.com", cloud="global", env={})
    assert type(cred.inner).__name__ == cls


def test_workload_identity_mode(tmp_path):
    tok = tmp_path / "token"
    tok.write_text("x")
    cred = auth.build_credential("workload-identity", tenant="t", cloud="global",
                                 env={"AZURE_CLIENT_ID": "c", "AZURE_FEDERATED_TOKEN_FILE": str(tok)})
    assert type(cred.inner).__name__ == "WorkloadIdentityCredential"


def test_unknown_mode():
    with pytest.raises(errors.UsageError):
        auth.build_credential("kerberos", tenant=None, cloud="global", env={})


def _err(status, code, message="m", headers=None, body=None):
    body = body if body is not None else (
        b'{"error":{"code":"%s","message":"%s","innerError":{"request-id":"rid-1"}}}' % (code.encode(), message.encode()))
    return errors.from_response(status, body, httpx.Headers(headers or {}), "POST", "/servicePrincipals/x/appRoleAssignedTo")


def test_403_names_the_permission_and_delegated_role():
    e = errors.from_response(403, b'{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the operation."}}',
                             httpx.Headers({"request-id": "r2"}), "POST", "/servicePrincipals/x/appRoleAssignedTo", delegated=True)
    assert e.status == 403 and e.code == "Authorization_RequestDenied" and e.request_id == "r2"
    assert "AppRoleAssignment.ReadWrite.All" in e.fix and "Application Administrator" in e.fix


@pytest.mark.parametrize("method,path,perm", [
    ("PATCH", "/applications/1", "Application.ReadWrite"),
    ("PUT", "/servicePrincipals/1/synchronization/jobs/j/schema", "Synchronization.ReadWrite.All"),
    ("PUT", "/servicePrincipals/1/synchronization/secrets", "Synchronization.ReadWrite.All"),
    ("GET", "/auditLogs/provisioning", "AuditLog.Read.All"),
    ("GET", "/groups", "Group.Read.All"),
    ("POST", "/applicationTemplates/t/instantiate", "Application.ReadWrite"),
])
def test_permission_table(method, path, perm):
    assert perm in errors.permission_for(method, path)


def test_401_says_how_to_sign_in():
    e = _err(401, "InvalidAuthenticationToken")
    assert "sign in" in e.fix


def test_request_id_from_inner_error():
    e = _err(404, "Request_ResourceNotFound", "Resource 'x' does not exist")
    assert e.request_id == "rid-1" and e.code == "Request_ResourceNotFound"
    assert "rid-1" in str(e) and "Request_ResourceNotFound" in str(e)


def test_message_as_object_and_details_as_object_are_parsed():
    body = b'{"error":{"code":"Request_BadRequest","message":{"value":"bad thing"},"details":{"code":"x"}}}'
    e = _err(400, "", body=body)
    assert e.message == "bad thing" and e.details == [{"code": "x"}]


def test_html_body_is_tolerated():
    e = _err(502, "", body=b"<html>Bad Gateway</html>")
    assert e.status == 502 and "Bad Gateway" in e.message and "again" in e.fix


def test_cannot_delete_enabled_entitlement_has_a_fix():
    e = _err(400, "CannotDeleteOrUpdateEnabledEntitlement")
    assert "disabled" in e.fix


def test_retry_after_is_kept():
    e = _err(429, "TooManyRequests", headers={"Retry-After": "7"})
    assert e.retry_after == 7.0


def test_network_error_names_the_host():
    e = errors.from_transport(httpx.ConnectError("connection refused"), "GET", "/applications", "graph.microsoft.us")
    assert e.code == "NetworkError" and "graph.microsoft.us" in str(e)


class RecordingCredential:
    def __init__(self):
        self.scopes = []

    def get_token(self, *scopes, **kwargs):
        from azure.core.credentials import AccessToken

        self.scopes.append(scopes)
        return AccessToken("fake-access-token", 2_000_000_000)


@pytest.mark.parametrize("cloud", ["global", "usgov", "usgov-dod", "china"])
def test_token_is_asked_for_the_cloud_graph_host(cloud):
    """With no scopes given, the SDK asks for https://<graph host>/.default (docs/dev/design-notes.md)."""
    import asyncio

    import respx

    from natoma_entra.graph.client import GraphClient

    base = graph_base_url(cloud)
    cred = RecordingCredential()
    with respx.mock:
        route = respx.get(f"{base}/servicePrincipals").mock(return_value=httpx.Response(200, json={"value": []}))
        asyncio.run(GraphClient(cred, base).list("/servicePrincipals"))
        assert route.called
    assert cred.scopes == [(f"{CLOUDS[cloud].graph_root}/.default",)]


def test_unsafe_post_is_not_retried_but_a_read_is():
    """POST jobs must not be sent twice by the SDK's retry middleware (a second job); a GET may be retried."""
    import asyncio

    import respx

    from natoma_entra.graph.client import GraphClient
    from natoma_entra.graph.errors import GraphError

    base = "https://graph.microsoft.com/v1.0"
    with respx.mock:
        post = respx.post(f"{base}/servicePrincipals/x/synchronization/jobs").mock(
            return_value=httpx.Response(503, headers={"Retry-After": "0"}, json={"error": {"code": "ServiceUnavailable", "message": "busy"}}))
        get = respx.get(f"{base}/servicePrincipals").mock(side_effect=[
            httpx.Response(429, headers={"Retry-After": "0"}, json={"error": {"code": "TooManyRequests", "message": "slow down"}}),
            httpx.Response(200, json={"value": [{"id": "1"}]})])
        client = GraphClient(RecordingCredential(), base)
        with pytest.raises(GraphError) as e:
            asyncio.run(client.post("/servicePrincipals/x/synchronization/jobs", {"templateId": "scim"}))
        assert e.value.status == 503 and post.call_count == 1
        assert asyncio.run(client.list("/servicePrincipals")) == [{"id": "1"}]
        assert get.call_count == 2


@pytest.mark.parametrize("status,code,needle", [
    (404, "Directory_ObjectNotFound", "replicating"),
    (404, "Request_ResourceNotFound", "replicating"),
    (409, "Request_MultipleObjectsWithSameKeyValue", "already exists"),
    (400, "Request_MultipleObjectsWithSameKeyValue", "already exists"),
])
def test_not_found_and_conflict_carry_a_fix(status, code, needle):
    e = _err(status, code, "A conflicting object with one or more of the specified property values is present")
    assert e.code == code and e.status == status and needle in e.fix


def test_certificate_mode_builds_a_certificate_credential(tmp_path):
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "natoma-entra-test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    pem = tmp_path / "cert.pem"
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()) + cert.public_bytes(serialization.Encoding.PEM))
    cred = auth.build_credential("certificate", tenant="contoso.onmicrosoft.com", cloud="china",
                                 env={"AZURE_CLIENT_ID": "c", "AZURE_CLIENT_CERTIFICATE_PATH": str(pem)})
    assert type(cred.inner).__name__ == "CertificateCredential"
    assert cred._authority == "https://login.chinacloudapi.cn"


def test_certificate_mode_names_the_missing_path():
    with pytest.raises(errors.UsageError) as e:
        auth.build_credential("certificate", tenant="t", cloud="global", env={"AZURE_CLIENT_ID": "c"})
    assert "AZURE_CLIENT_CERTIFICATE_PATH" in str(e.value)


@pytest.mark.parametrize("over", ["in-process", "http"])
def test_an_answer_is_freed_as_soon_as_its_reader_is_done(over, tmp_path):
    """httpx binds a response and its stream to each other; the client unbinds them once the body is read, so a page
    (its body and parsed JSON) is freed by reference counting, not at the next cyclic collection: a walk of thousands
    of member pages does not keep hundreds of them alive (docs/performance.md, audit). In process (the sandbox's
    transport) and over real HTTP (httpx's network transport, against `sandbox serve`)."""
    import asyncio
    import gc
    import threading
    import weakref

    import natoma_entra.graph.client as client_module
    from natoma_entra.graph.auth import StaticTokenCredential
    from natoma_entra.graph.client import GraphClient
    from natoma_entra.sandbox.serve import make_server
    from natoma_entra.sandbox.state import ACCESS_TOKEN, Tenant
    from natoma_entra.sandbox.transport import SandboxTransport

    seen = []
    checked = client_module._checked_answer

    def keep_a_weak_reference(method, shown, resp):
        seen.append(weakref.ref(resp))
        return checked(method, shown, resp)

    async def main(base, transport):
        graph = GraphClient(StaticTokenCredential(ACCESS_TOKEN), base, transport=transport)
        try:
            for _ in range(3):
                users = await graph.get("/users")
                assert users["value"]  # the parsed answer is the caller's
        finally:
            await graph.close()

    srv = None
    if over == "http":
        srv = make_server(tmp_path / "served.json", port=0)
        threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        base, transport = f"http://127.0.0.1:{srv.server_address[1]}/v1.0", None
    else:
        base, transport = "https://graph.microsoft.com/v1.0", SandboxTransport(Tenant.initial())
    client_module._checked_answer = keep_a_weak_reference
    gc.disable()  # only reference counting frees anything now
    try:
        asyncio.run(main(base, transport))
        assert len(seen) == 3
        assert [r() for r in seen] == [None, None, None]
    finally:
        gc.enable()
        client_module._checked_answer = checked
        if srv is not None:
            srv.shutdown()
            srv.server_close()


def test_the_tls_context_is_made_once_per_ca_setting_and_honours_ssl_cert_file(tmp_path, monkeypatch):
    import ssl
    from pathlib import Path

    import certifi

    from natoma_entra.tls import CA_VARIABLES, context as tls_context

    for name in CA_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    default = tls_context()
    assert tls_context() is default  # one per process: reading the CA bundle is not repeated per client
    assert default.verify_mode == ssl.CERT_REQUIRED and default.check_hostname
    assert default.cert_store_stats()["x509_ca"] > 50  # the whole bundle
    bundle = Path(certifi.where()).read_text()
    end = "-----END CERTIFICATE-----"
    one = tmp_path / "one-ca.pem"
    one.write_text(bundle[bundle.index("-----BEGIN CERTIFICATE-----"):bundle.index(end) + len(end)] + "\n")
    monkeypatch.setenv("SSL_CERT_FILE", str(one))  # a corporate CA bundle, as httpx reads it
    mine = tls_context()
    assert mine is not default and mine.cert_store_stats()["x509_ca"] == 1
    monkeypatch.delenv("SSL_CERT_FILE")
    assert tls_context() is default
