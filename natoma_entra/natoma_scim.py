"""Reading a user back from Natoma's SCIM endpoint (`provision --verify`), with scim2-client.

scim2-client's own network engine needs the `httpx2` package; this module gives it a small engine over plain httpx
(already a dependency of msgraph), so any httpx.Client works: a real one for Natoma, or an in-process one. Which
client is used comes from a factory `(url, token) -> httpx.Client | None`: the CLI passes the sandbox's factory under
--sandbox (Natoma's stand-in answers the sandbox host in process); None, or a factory that returns None, means real
HTTP. The token goes only into the Authorization header; it is never part of a message.
"""
from __future__ import annotations

from typing import Any, Callable
from urllib.parse import urlsplit

HttpFactory = Callable[[str, str], Any]


class ScimReadError(Exception):
    def __init__(self, message: str, fix: str | None = None):
        super().__init__(message)
        self.message = message
        self.fix = fix


def http_client(url: str, token: str, timeout: float = 30.0):
    """A plain httpx client for Natoma's SCIM endpoint (base URL = the SCIM tenant URL)."""
    import httpx

    return httpx.Client(base_url=url.rstrip("/"), timeout=timeout, follow_redirects=False,
                        headers={"Authorization": f"Bearer {token}", "Accept": "application/scim+json"})


def _scim_client(http):
    from scim2_client import BaseSyncSCIMClient
    from scim2_models import EnterpriseUser, ScimProvider, User

    class HttpxSCIMClient(BaseSyncSCIMClient):
        """scim2-client over an httpx.Client (its bundled engine wants httpx2)."""

        def __init__(self, client, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.client = client

        def _stays_under_base_url(self, endpoint: str) -> bool:
            base = self.client.base_url
            if not base.is_absolute_url:
                return False
            try:
                url = self.client.build_request("GET", endpoint).url
            except Exception:  # noqa: BLE001 - an unbuildable URL is not under the base
                return False
            return (url.scheme, url.host, url.port) == (base.scheme, base.host, base.port) and \
                url.raw_path.startswith(base.raw_path)

        def _parse_json(self, response):
            return response.json()

        def request(self, method: str, url: str, **kwargs):
            import httpx
            from scim2_client import RequestNetworkException

            try:
                return self.client.request(method, url, **kwargs)
            except httpx.RequestError as exc:
                err = RequestNetworkException()
                err.add_note(f"{type(exc).__name__}: {exc}")
                raise err from exc

    return HttpxSCIMClient(http, provider=ScimProvider(models=[User, EnterpriseUser])), User


def _filter_literal(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _summary(user) -> dict:
    roles = [r for r in (user.roles or []) if getattr(r, "value", None)]
    primary = next((r.value for r in roles if r.primary), None)
    return {"id": user.id, "userName": user.user_name, "active": user.active,
            "roles": [str(r.value) for r in roles], "primary": primary}


def read_user_roles(url: str, token: str, user_name: str, factory: HttpFactory | None = None) -> dict | None:
    """The Natoma user whose userName is `user_name` ({id, userName, active, roles, primary}), or None."""
    from scim2_client import SCIMClientException
    from scim2_models import SCIMException

    host = urlsplit(url).hostname or url
    http = (factory(url, token) if factory else None) or http_client(url, token)
    try:
        scim, User = _scim_client(http)
        from scim2_models import SearchRequest

        try:
            answer = scim.query(User, query_parameters=SearchRequest(filter=f"userName eq {_filter_literal(user_name)}"))
        except (SCIMClientException, SCIMException) as e:
            status = getattr(getattr(e, "source", None), "status_code", None) or getattr(e, "status", None)
            try:
                status = int(status) if status is not None else None
            except (TypeError, ValueError):
                status = None
            notes = "; ".join(getattr(e, "__notes__", []) or [])
            if status in (401, 403):
                raise ScimReadError(f"Natoma's SCIM endpoint at {host} refused the SCIM token ({status})",
                                    fix="give the token the job uses (NATOMA_SCIM_TOKEN, --scim-token-file or "
                                        "--scim-token-stdin); natoma-entra credentials --rotate saves a new one") from None
            what = f"{type(e).__name__}" + (f" (HTTP {status})" if status else "") + (f": {notes}" if notes else "")
            raise ScimReadError(f"could not read the user from Natoma's SCIM endpoint at {host}: {what}",
                                fix="check the SCIM URL (scim.url) and the network, then run with --verify again") from None
        except Exception as e:  # noqa: BLE001 - scim2-models errors (a SCIM Error answer, an invalid payload)
            raise ScimReadError(f"Natoma's SCIM endpoint at {host} answered in a way that could not be read: "
                                f"{type(e).__name__}",
                                fix="check the SCIM URL (scim.url); run with --verbose for the HTTP trace") from None
        resources = list(getattr(answer, "resources", None) or [])
        wanted = user_name.lower()
        matching = [r for r in resources if str(getattr(r, "user_name", "") or "").lower() == wanted]
        if len(matching) > 1:
            raise ScimReadError(f"Natoma holds {len(matching)} users named {user_name}",
                                fix="remove the duplicate in Natoma's admin console")
        return _summary(matching[0]) if matching else None
    finally:
        try:
            http.close()
        except Exception:  # noqa: BLE001
            pass
