"""The sandbox's access tokens: shaped like Entra's (a JWT whose payload carries `roles`, or `scp` and `wids`), so the
CLI's permission preflight reads them as it reads a real tenant's, and built at runtime from the sandbox's options.

Unsigned (`"alg": "none"`, empty signature): nothing verifies them but the sandbox itself, which accepts a token it
minted (its issuer) as it accepts its well-known plain token. The claims follow what the sandbox enforces: the
default grant (what docs/permissions.md asks a pipeline to grant for every command) minus
`SandboxOptions.denied_permissions`, plus `also_granted`. Claim names: "Access token claims reference"
(learn.microsoft.com/entra/identity-platform/access-token-claims-reference).
"""
from __future__ import annotations

import base64
import json
from typing import Any

from .state import ACCESS_TOKEN, TENANT_DOMAIN, det_id

ISSUER = "https://sts.sandbox.natoma-entra.invalid/"  # marks a token the sandbox minted
AUDIENCE = "https://graph.microsoft.com"
EXPIRES = 4102444800  # 2100-01-01: a sandbox token does not expire (the state file is not a clock)
CALLER_APP_ID = det_id("caller-app", "natoma-entra pipeline")
CALLER_OID = det_id("caller-sp", "natoma-entra pipeline")  # the pipeline app's service principal
USER_OID = det_id("caller-user", "admin")
USER_UPN = f"admin@{TENANT_DOMAIN}"
AZURE_CLI_APP_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"  # a person signs in with `az login` (--auth cli)
DEFAULT_USER_ROLE = "b79fbf4d-3ef9-4689-8143-76b194e85509"  # every member user's wids entry
SIGN_INS = ("application", "delegated", "opaque")

# What the sandbox grants by default: every command runs (docs/permissions.md, "a pipeline that runs every command",
# and Group.ReadWrite.All for --create-groups and teardown --delete-groups).
DEFAULT_GRANT = ("Application.ReadWrite.All", "AppRoleAssignment.ReadWrite.All", "Synchronization.ReadWrite.All",
                 "GroupMember.Read.All", "Group.ReadWrite.All", "User.Read.All", "Directory.Read.All",
                 "AuditLog.Read.All")
ROLE_TEMPLATE_IDS = {  # Entra built-in role template ids ("Microsoft Entra built-in roles")
    "Application Administrator": "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
    "Cloud Application Administrator": "158c047a-c907-4556-b7ef-446551a6b5f7",
    "Global Administrator": "62e90394-69f5-4237-9190-012177145e10",
    "Global Reader": "f2ef992c-3afb-46b9-b7cf-a126ee74c451",
}


def _b64(doc: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(doc, separators=(",", ":")).encode()).decode().rstrip("=")


def granted(options: Any) -> list[str]:
    """The permissions a token of these options carries."""
    denied = set(getattr(options, "denied_permissions", ()) or ())
    extra = set(getattr(options, "also_granted", ()) or ())
    return sorted((set(DEFAULT_GRANT) - denied) | extra)


def claims_for(options: Any) -> dict[str, Any]:
    """The payload of the sandbox's token for these options (SandboxOptions)."""
    sign_in = getattr(options, "sign_in", "application")
    tid = det_id("tenant", TENANT_DOMAIN)
    base: dict[str, Any] = {"aud": AUDIENCE, "iss": ISSUER, "tid": tid, "exp": EXPIRES, "ver": "1.0"}
    if sign_in == "delegated":
        roles = getattr(options, "directory_roles", ()) or ()
        return {**base, "idtyp": "user", "appid": AZURE_CLI_APP_ID, "app_displayname": "Microsoft Azure CLI",
                "oid": USER_OID, "sub": USER_OID, "upn": USER_UPN, "scp": " ".join(granted(options)),
                "wids": sorted(ROLE_TEMPLATE_IDS[r] for r in roles) + [DEFAULT_USER_ROLE]}
    return {**base, "idtyp": "app", "appid": CALLER_APP_ID, "app_displayname": "natoma-entra pipeline",
            "oid": CALLER_OID, "sub": CALLER_OID, "roles": granted(options)}


def access_token(options: Any = None) -> str:
    """The bearer token a run against this sandbox signs with: JWT-shaped with the options' claims, or the plain
    well-known token for `sign_in="opaque"` (claims that cannot be read)."""
    if getattr(options, "sign_in", "application") == "opaque":
        return ACCESS_TOKEN
    return ".".join((_b64({"typ": "JWT", "alg": "none"}), _b64(claims_for(options)), ""))


def is_minted(token: str) -> bool:
    """Did this sandbox mint the token (its issuer in the payload)?"""
    parts = token.split(".")
    if len(parts) != 3:
        return False
    try:
        doc = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(doc, dict) and doc.get("iss") == ISSUER
