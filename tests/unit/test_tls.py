"""Behind a TLS-inspecting proxy (natoma_entra/tls.py): the proxy answers with a certificate of its own CA. One
variable, REQUESTS_CA_BUNDLE (the one sign-in reads, as az does), lets the whole run through: sign-in and the Graph
client; SSL_CERT_FILE still wins for the connections that are natoma-entra's. Without it, each side says so in one
line naming the variable. Played by a local HTTPS server whose certificate a CA of the test's own signs, and the real
libraries: azure-identity's ClientSecretCredential, the Graph client over the msgraph-sdk adapter."""
from __future__ import annotations

import asyncio
import datetime
import http.server
import ipaddress
import ssl
import threading
from pathlib import Path
from typing import Iterator

import pytest

from natoma_entra import tls
from natoma_entra.graph import errors
from natoma_entra.graph.auth import StaticTokenCredential
from natoma_entra.graph.client import GraphClient


class Proxy:
    """An HTTPS server on 127.0.0.1 answering every request 404 (Graph's JSON error), its certificate signed by `ca`."""

    def __init__(self, tmp: Path) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        now = datetime.datetime.now(datetime.timezone.utc)
        ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "a TLS-inspecting proxy's CA")])
        ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
              .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
              .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
              .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                           content_commitment=False, key_encipherment=False, data_encipherment=False,
                                           key_agreement=False, encipher_only=False, decipher_only=False),
                             critical=True)
              .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
              .sign(ca_key, hashes.SHA256()))
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
                .issuer_name(ca_name).public_key(key.public_key()).serial_number(2).not_valid_before(now)
                .not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                            x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                               critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                               critical=False)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .sign(ca_key, hashes.SHA256()))
        self.ca = tmp / "proxy-ca.pem"
        self.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        chain = tmp / "proxy.pem"
        chain.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(chain)

        class Answer(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = b'{"error": {"code": "Request_ResourceNotFound", "message": "not here"}}'
                self.send_response(404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answer)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://localhost:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Proxy]:
    for name in tls.CA_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    p = Proxy(tmp_path)
    yield p
    p.close()


def graph_get(url: str) -> tuple[int | None, str, str]:
    """GET /applications through the run's Graph client: (status, error code, fix)."""
    async def get() -> tuple[int | None, str, str]:
        graph = GraphClient(StaticTokenCredential("a-token"), f"{url}/v1.0", deadline=30)
        try:
            await graph.get("/applications")
        except errors.GraphError as e:
            return e.status, e.code, e.fix or ""
        finally:
            await graph.close()
        return 200, "", ""

    return asyncio.run(get())


def sign_in(url: str) -> BaseException:
    """A client-secret sign-in at `url` as its authority (no instance discovery, no retries): what it raised."""
    from azure.identity import ClientSecretCredential

    credential = ClientSecretCredential("contoso.onmicrosoft.com", "client-id", "client-secret", authority=url,
                                        disable_instance_discovery=True, retry_total=0)
    with pytest.raises(Exception) as raised:
        credential.get_token("https://graph.microsoft.com/.default")
    return raised.value


def test_without_the_proxys_ca_graph_and_sign_in_say_which_variable_to_set(proxy):
    status, code, fix = graph_get(proxy.url)
    assert (status, code) == (None, "NetworkError") and "REQUESTS_CA_BUNDLE" in fix
    failure = errors.from_sign_in(sign_in(proxy.url), "client-secret")
    assert "CERTIFICATE_VERIFY_FAILED" in failure.message and "REQUESTS_CA_BUNDLE" in (failure.fix or "")


def test_requests_ca_bundle_lets_both_sign_in_and_graph_through(proxy, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(proxy.ca))
    assert graph_get(proxy.url)[:2] == (404, "Request_ResourceNotFound")  # Graph's own answer: TLS held
    failure = sign_in(proxy.url)  # past TLS: the proxy has no sign-in to offer
    assert not errors.untrusted_certificate(failure), failure


def test_natomas_scim_endpoint_is_reached_through_the_same_ca(proxy, monkeypatch):
    """`provision --verify` and `audit` read Natoma over SCIM (scim2-client's httpx2): the same trust as Graph's."""
    import httpx2

    from natoma_entra.natoma_scim import network_client

    with pytest.raises(httpx2.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        network_client(f"{proxy.url}/scim/v2", "a-scim-token").client.get("/Users")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(proxy.ca))
    assert network_client(f"{proxy.url}/scim/v2", "a-scim-token").client.get("/Users").status_code == 404


def test_ssl_cert_file_wins_for_natoma_entras_own_connections(proxy, monkeypatch, tmp_path):
    import certifi

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(proxy.ca))
    monkeypatch.setenv("SSL_CERT_FILE", certifi.where())  # names a bundle without the proxy's CA
    assert graph_get(proxy.url)[1] == "NetworkError"
    monkeypatch.setenv("SSL_CERT_FILE", str(proxy.ca))
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    assert graph_get(proxy.url)[0] == 404


def test_a_sign_in_host_that_does_not_answer_is_a_network_fix_not_a_secret_fix(proxy):
    closed = proxy.url
    proxy.close()  # nothing listens there any more
    failure = errors.from_sign_in(sign_in(closed), "client-secret")
    assert "HTTPS_PROXY" in (failure.fix or "") and "AZURE_CLIENT_SECRET" not in (failure.fix or "")
    # a managed identity's endpoint is not the sign-in host: its own fix stays
    assert "managed identity" in (errors.from_sign_in(sign_in(closed), "managed-identity").fix or "")
