"""What a Microsoft Graph access token says about its holder: the claims of its JWT payload, decoded and never
verified (the signature is Graph's business; this is advice for a preflight, not a security decision).

Claims used ("Access token claims reference", learn.microsoft.com/entra/identity-platform/access-token-claims-reference):
- `scp`: the delegated permissions (space-separated) of a token issued to a signed-in user; an app-only token has
  no `scp`.
- `roles`: the application permissions of an app-only token (absent when none was granted).
- `wids`: the tenant-wide Entra built-in roles of the signed-in user, as role template ids (only active roles: an
  eligible PIM role shows once activated).
- `oid`: the caller's object id (the user, or the app's service principal); `appid`/`azp`: the client's app id;
  `xms_mirid`: set for a managed identity.

Microsoft warns that access tokens are opaque to clients and may change format (some are encrypted, or not JWTs at
all): such a token gives None here, and the caller carries on without the check.
"""
from __future__ import annotations

import base64
import json
from typing import Any, Literal

from pydantic import BaseModel, Field

SignIn = Literal["application", "delegated"]


class Claims(BaseModel):
    """The parts of an access token's payload the preflight reads."""

    sign_in: SignIn
    roles: list[str] = Field(default_factory=list)  # application permissions (app-only token)
    scopes: list[str] = Field(default_factory=list)  # delegated permissions (scp)
    wids: list[str] | None = None  # directory role template ids; None: the claim is absent (not checked)
    object_id: str | None = None  # oid: the caller's user or service principal object id
    app_id: str | None = None  # appid (v1) or azp (v2): the client application
    app_name: str | None = None  # app_displayname
    user: str | None = None  # upn / unique_name / preferred_username
    tenant_id: str | None = None
    managed_identity: bool = False  # xms_mirid present
    audience: str | None = None

    @property
    def held(self) -> list[str]:
        """The permissions this token carries for its kind of sign-in."""
        return self.roles if self.sign_in == "application" else self.scopes

    @property
    def identity(self) -> str:
        """Who signed in, for messages: the user, or the app (name and app id)."""
        if self.sign_in == "delegated":
            return self.user or self.object_id or "the signed-in user"
        name = self.app_name or "the app"
        return f"{name} (appId {self.app_id})" if self.app_id else name


def _b64url(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def payload(token: str) -> tuple[dict[str, Any] | None, str]:
    """(the JWT payload, "") or (None, why it cannot be read). Never raises, never verifies."""
    parts = token.strip().split(".")
    if len(parts) == 5:
        return None, "an encrypted token (JWE)"
    if len(parts) != 3 or not parts[1]:
        return None, "not a JSON Web Token"
    try:
        doc = json.loads(_b64url(parts[1]))
    except (ValueError, UnicodeDecodeError):
        return None, "a token whose payload is not base64url JSON"
    if not isinstance(doc, dict):
        return None, "a token whose payload is not a JSON object"
    return doc, ""


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [v for v in value.split() if v]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str) and v]
    return []


def claims(doc: dict[str, Any]) -> Claims:
    """Pure: the Claims of a decoded payload. A token with `scp` is delegated; without, it is app-only (an app
    granted nothing has no `roles` claim at all)."""
    scopes = _strings(doc.get("scp"))
    delegated = bool(scopes) or doc.get("idtyp") == "user" or any(k in doc for k in ("upn", "unique_name"))
    wids = doc.get("wids")
    return Claims(
        sign_in="delegated" if delegated else "application",
        roles=_strings(doc.get("roles")) if not delegated else [],
        scopes=scopes,
        wids=_strings(wids) if wids is not None else None,
        object_id=doc.get("oid") if isinstance(doc.get("oid"), str) else None,
        app_id=next((doc[k] for k in ("appid", "azp") if isinstance(doc.get(k), str)), None),
        app_name=doc.get("app_displayname") if isinstance(doc.get("app_displayname"), str) else None,
        user=next((doc[k] for k in ("upn", "unique_name", "preferred_username") if isinstance(doc.get(k), str)),
                  None),
        tenant_id=doc.get("tid") if isinstance(doc.get("tid"), str) else None,
        managed_identity="xms_mirid" in doc,
        audience=doc.get("aud") if isinstance(doc.get("aud"), str) else None,
    )


def read(token: str | None) -> tuple[Claims | None, str]:
    """(Claims, "") or (None, why the token's claims cannot be read)."""
    if not token:
        return None, "no access token could be obtained"
    doc, why = payload(token)
    if doc is None:
        return None, why
    return claims(doc), ""
