"""The CA certificates a run's HTTPS connections trust: Graph's (httpx) and Natoma's SCIM endpoint's (httpx2).

Sign-in is azure-identity's, over requests, which reads REQUESTS_CA_BUNDLE (or CURL_CA_BUNDLE), as az does
(https://learn.microsoft.com/cli/azure/use-cli-effectively#work-behind-a-proxy). httpx reads SSL_CERT_FILE and
SSL_CERT_DIR instead. Behind a TLS-inspecting proxy a person sets one of them, and half of the run failed: here the
connections that are ours use SSL_CERT_FILE or SSL_CERT_DIR when set, else requests' variables, else httpx's default
(certifi). One context per process and setting: reading a bundle takes ~20 ms, and a process that runs the CLI many
times (the test suite) made one per client.
"""
from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ssl

# the variables, in the order they are honoured (docs/configuration.md)
CA_VARIABLES = ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


def context() -> "ssl.SSLContext":
    env = os.environ
    return context_for(env.get("SSL_CERT_FILE") or None, env.get("SSL_CERT_DIR") or None,
                       env.get("REQUESTS_CA_BUNDLE") or env.get("CURL_CA_BUNDLE") or None)


@functools.lru_cache(maxsize=4)
def context_for(cert_file: str | None, cert_dir: str | None, requests_bundle: str | None) -> "ssl.SSLContext":
    import httpx

    if cert_file or cert_dir or not requests_bundle:
        return httpx.create_ssl_context()  # reads SSL_CERT_FILE / SSL_CERT_DIR itself (trust_env)
    import ssl

    # a file, or (as requests allows) a directory of hashed certificates
    if os.path.isdir(requests_bundle):
        return ssl.create_default_context(capath=requests_bundle)
    return ssl.create_default_context(cafile=requests_bundle)
