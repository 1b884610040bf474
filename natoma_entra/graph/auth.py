"""Sign-in: one azure-identity credential per --auth mode, for the chosen cloud's authority.

azure.identity is imported here only, inside build_credential, so `--help` stays fast.
"""
from __future__ import annotations

import inspect
import os
import time

from .clouds import CLOUDS
from ..errors import UsageError
from ..interrupts import ctrl_c_stops_here
from ..redact import clean_token, register

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

    from ..inert import clean  # the sign-in service's words: shown, never acted on by the terminal

    sys.stderr.write(clean(f"To sign in, open {verification_uri} and enter the code {user_code}") + "\n")
    sys.stderr.flush()


def _need(env: dict, *names: str) -> list[str]:
    missing = [n for n in names if not env.get(n)]
    if missing:
        raise UsageError(f"--auth needs the environment variable(s) {', '.join(missing)}",
                         fix=f"set {', '.join(missing)} "
                             "(natoma-entra docs auth; https://natoma.github.io/natoma-entra/auth/)")
    return [env[n] for n in names]


class RegisteringCredential:
    """Wraps any TokenCredential (sync or async) so every token it hands out is registered for redaction the moment
    it exists: a server that echoes the Authorization header in an error body cannot leak it, whatever --auth mode
    obtained it."""

    def __init__(self, inner):
        self.inner = inner

    @staticmethod
    def _seen(result):
        if inspect.isawaitable(result):
            async def registered():
                return RegisteringCredential._seen(await result)
            return registered()
        register(getattr(result, "token", None))
        return result

    # A synchronous credential blocks the event loop's thread while it signs in (a device code, a browser: minutes):
    # Ctrl-C stops it there and then (natoma_entra/interrupts.py)
    def get_token(self, *scopes, **kwargs):
        with ctrl_c_stops_here():
            return self._seen(self.inner.get_token(*scopes, **kwargs))

    def get_token_info(self, *scopes, **kwargs):
        with ctrl_c_stops_here():
            return self._seen(self.inner.get_token_info(*scopes, **kwargs))

    def close(self):
        close = getattr(self.inner, "close", None)
        return close() if close else None

    def __getattr__(self, name):  # anything else (e.g. __enter__ helpers) goes to the real credential
        return getattr(self.inner, name)

    def __repr__(self) -> str:
        return f"RegisteringCredential({type(self.inner).__name__})"


def access_token_from(env: dict) -> str:
    """NATOMA_ENTRA_ACCESS_TOKEN, stripped (a `$(cat file)` or CI secret often ends with a newline) and checked:
    a value with inner whitespace, a control or a non-ASCII character is refused, never echoed."""
    (raw,) = _need(env, ACCESS_TOKEN_ENV)
    return clean_token(raw, what="the access token", where=f"${ACCESS_TOKEN_ENV}",
                       fix=f"set {ACCESS_TOKEN_ENV} to the bearer token alone (no quotes, spaces or line breaks)")


def build_credential(mode: str, *, tenant: str | None, cloud: str, env: dict | None = None):
    """The azure-identity credential for a mode, wrapped so every token it returns is registered for redaction.
    Secrets come from the environment, never from flags."""
    env = dict(os.environ if env is None else env)
    if mode not in AUTH_MODES:
        raise UsageError(f"unknown --auth {mode!r}", fix=f"use one of: {', '.join(AUTH_MODES)}")
    register(env.get("AZURE_CLIENT_SECRET"))
    register(env.get("AZURE_CLIENT_CERTIFICATE_PASSWORD"))
    return RegisteringCredential(_credential(mode, tenant=tenant, cloud=cloud, env=env))


def _credential(mode: str, *, tenant: str | None, cloud: str, env: dict):
    if mode == "access-token":
        return StaticTokenCredential(access_token_from(env))

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
