"""Sign-in: one azure-identity credential per --auth mode, for the chosen cloud's authority.

azure.identity is imported here only, inside build_credential, so `--help` stays fast.
"""
from __future__ import annotations

import os
import time

from .clouds import CLOUDS
from .errors import UsageError

AUTH_MODES = (
    "default", "cli", "client-secret", "certificate", "managed-identity", "workload-identity",
    "device-code", "browser", "access-token",
)
# Modes in which a person signs in (the fix for a 403 then also names the Entra role they need).
DELEGATED_MODES = {"cli", "device-code", "browser"}
ACCESS_TOKEN_ENV = "NATOMA_ENTRA_ACCESS_TOKEN"


class StaticTokenCredential:
    """A ready bearer token (--auth access-token, and the sandbox). Implements azure-core's TokenCredential."""

    def __init__(self, token: str, expires_in: int = 3600):
        self._token = token
        self._expires_on = int(time.time()) + expires_in

    def get_token(self, *scopes, **kwargs):
        from azure.core.credentials import AccessToken

        return AccessToken(self._token, self._expires_on)

    def __repr__(self) -> str:  # never show the token
        return "StaticTokenCredential(***)"


def _device_code_prompt(verification_uri: str, user_code: str, expires_on) -> None:
    import sys

    sys.stderr.write(f"To sign in, open {verification_uri} and enter the code {user_code}\n")
    sys.stderr.flush()


def _need(env: dict, *names: str) -> list[str]:
    missing = [n for n in names if not env.get(n)]
    if missing:
        raise UsageError(f"--auth needs the environment variable(s) {', '.join(missing)}",
                         fix=f"set {', '.join(missing)} (see docs/auth.md)")
    return [env[n] for n in names]


def build_credential(mode: str, *, tenant: str | None, cloud: str, env: dict | None = None):
    """The azure-identity credential for a mode. Secrets come from the environment, never from flags."""
    env = dict(os.environ if env is None else env)
    if mode not in AUTH_MODES:
        raise UsageError(f"unknown --auth {mode!r}", fix=f"use one of: {', '.join(AUTH_MODES)}")
    if mode == "access-token":
        (token,) = _need(env, ACCESS_TOKEN_ENV)
        return StaticTokenCredential(token)

    from azure.identity import (  # heavy import, only when signing in for real
        AzureCliCredential, CertificateCredential, ClientSecretCredential, DefaultAzureCredential,
        DeviceCodeCredential, InteractiveBrowserCredential, ManagedIdentityCredential, WorkloadIdentityCredential,
    )

    authority = CLOUDS[cloud].authority_host
    tenant = tenant or env.get("AZURE_TENANT_ID")
    kw = {"authority": authority}
    if mode == "default":
        # DefaultAzureCredential refuses tenant_id; each of its chained credentials takes its own tenant keyword
        tenants = {k: tenant for k in ("interactive_browser_tenant_id", "workload_identity_tenant_id",
                                       "shared_cache_tenant_id", "visual_studio_code_tenant_id")} if tenant else {}
        return DefaultAzureCredential(authority=authority, **tenants)
    if mode == "cli":
        return AzureCliCredential(**({"tenant_id": tenant} if tenant else {}))
    if mode == "managed-identity":
        client_id = env.get("AZURE_CLIENT_ID")
        return ManagedIdentityCredential(**({"client_id": client_id} if client_id else {}))
    if mode == "workload-identity":
        # reads AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_FEDERATED_TOKEN_FILE (set by the workload identity webhook)
        client_id, token_file = _need(env, "AZURE_CLIENT_ID", "AZURE_FEDERATED_TOKEN_FILE")
        tenant = tenant or _need(env, "AZURE_TENANT_ID")[0]
        return WorkloadIdentityCredential(tenant_id=tenant, client_id=client_id, token_file_path=token_file, **kw)
    if not tenant:
        raise UsageError(f"--auth {mode} needs a tenant", fix="pass --tenant (or set tenant in the config file, or AZURE_TENANT_ID)")
    if mode == "client-secret":
        client_id, secret = _need(env, "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET")
        return ClientSecretCredential(tenant, client_id, secret, **kw)
    if mode == "certificate":
        client_id, path = _need(env, "AZURE_CLIENT_ID", "AZURE_CLIENT_CERTIFICATE_PATH")
        password = env.get("AZURE_CLIENT_CERTIFICATE_PASSWORD")
        return CertificateCredential(tenant, client_id, path, **({"password": password} if password else {}), **kw)
    client_id = env.get("AZURE_CLIENT_ID")
    extra = {"client_id": client_id} if client_id else {}
    if mode == "device-code":
        # the sign-in instructions go to stderr: azure-identity prints them to stdout, which would break --output json
        return DeviceCodeCredential(tenant_id=tenant, prompt_callback=_device_code_prompt, **extra, **kw)
    return InteractiveBrowserCredential(tenant_id=tenant, **extra, **kw)
