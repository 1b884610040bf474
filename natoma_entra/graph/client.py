"""GraphClient: one per run, raw JSON through the msgraph-sdk's own request adapter.

Why raw JSON (design.md section 4, graph-api.md section 13): the SDK's typed models cost over a second on first use,
drop fields on a schema round trip, and cannot send flags enums. The SDK still signs every request and runs its
default middleware (retry on 429/503/504 honouring Retry-After, redirects, telemetry).
"""
from __future__ import annotations

import asyncio
import json
import logging
from typing import Any
from urllib.parse import urlsplit

from . import errors

log = logging.getLogger("natoma_entra.graph")

JSON = dict[str, Any]


class GraphClient:
    """get/list/post/patch/put/delete/batch on paths relative to the Graph base URL ("/servicePrincipals/...")."""

    def __init__(self, credential, base_url: str, *, transport=None, delegated: bool = False,
                 allowed_hosts: list[str] | None = None, timeout: float = 60.0, auth: str = "access-token"):
        import httpx
        from kiota_authentication_azure.azure_identity_authentication_provider import (
            AzureIdentityAuthenticationProvider,
        )
        from msgraph.graph_request_adapter import GraphRequestAdapter, options
        from msgraph_core import GraphClientFactory

        self.base_url = base_url.rstrip("/")
        self.host = urlsplit(self.base_url).hostname or ""
        self.delegated = delegated
        self.auth = auth  # the --auth mode, named when sign-in fails
        http = httpx.AsyncClient(transport=transport, timeout=timeout) if transport else httpx.AsyncClient(timeout=timeout)
        http = GraphClientFactory.create_with_default_middleware(client=http, options=options)
        # With no scopes the provider asks for https://<graph host>/.default, so national clouds work as they are.
        auth = AzureIdentityAuthenticationProvider(credential, allowed_hosts=allowed_hosts or [self.host])
        self.adapter = GraphRequestAdapter(auth, client=http)
        self.adapter.base_url = self.base_url  # no trailing slash: avoids '/v1.0//applications'
        self.requests: list[tuple[str, str, int | None]] = []  # (method, path, status): counts for benchmarks
        self.transport = transport
        self.read_only = False  # set for dry runs and read-only commands: any write raises WriteRefused

    # -- the one place a request is sent ---------------------------------------------------------------------
    async def request(self, method: str, path: str, body: Any = None, *, params: dict | None = None,
                      retry: bool = True, headers: dict | None = None):
        """Send one request; return the httpx.Response on 2xx, raise GraphError otherwise."""
        from kiota_abstractions.method import Method
        from kiota_abstractions.native_response_handler import NativeResponseHandler
        from kiota_abstractions.request_information import RequestInformation
        from kiota_http.middleware.options import ResponseHandlerOption, RetryHandlerOption

        url = path if path.startswith(("http://", "https://")) else self.base_url + path
        if self.read_only:
            from .readonly import WriteRefused, is_read

            if not is_read(method, _shown_path(url, self.base_url)):
                raise WriteRefused(method.upper(), _shown_path(url, self.base_url))
        if params:
            from urllib.parse import urlencode, quote
            url += ("&" if "?" in url else "?") + urlencode(params, quote_via=quote, safe="$,'()/ ").replace(" ", "%20")
        info = RequestInformation(Method[method.upper()])
        info.url = url
        info.headers.try_add("Accept", "application/json")
        for k, v in (headers or {}).items():
            info.headers.try_add(k, v)
        if body is not None:
            info.headers.try_add("Content-Type", "application/json")
            info.content = json.dumps(body).encode()
        opts = [ResponseHandlerOption(NativeResponseHandler())]
        if not retry:  # a POST that is not safe to repeat (instantiate would create a second app)
            opts.append(RetryHandlerOption(max_retries=0, should_retry=False))
        info.add_request_options(opts)
        shown = _shown_path(url, self.base_url)
        try:
            resp = await self.adapter.send_async(info, None, {})  # NativeResponseHandler: the raw httpx.Response
        except errors.GraphError:
            raise
        except Exception as exc:  # httpx errors surface unwrapped through the middleware
            import httpx
            from azure.core.exceptions import ClientAuthenticationError

            if isinstance(exc, ClientAuthenticationError):  # includes CredentialUnavailableError
                raise errors.from_sign_in(exc, self.auth) from None
            if isinstance(exc, (httpx.HTTPError, OSError)):
                self.requests.append((method.upper(), shown, None))
                raise errors.from_transport(exc, method.upper(), shown, urlsplit(url).hostname or self.host) from None
            raise
        self.requests.append((method.upper(), shown, resp.status_code))
        log.debug("%s %s -> %s", method.upper(), shown, resp.status_code)
        if resp.status_code >= 400:
            raise errors.from_response(resp.status_code, resp.content, resp.headers, method.upper(), shown, self.delegated)
        return resp

    # -- verbs -----------------------------------------------------------------------------------------------
    async def get(self, path: str, params: dict | None = None) -> JSON:
        return _json(await self.request("GET", path, params=params))

    async def list(self, path: str, params: dict | None = None, *, limit: int | None = None) -> list[JSON]:
        """Every item of a collection, following @odata.nextLink (an absolute URL, sent as given)."""
        items: list[JSON] = []
        page = await self.get(path, params)
        while True:
            items.extend(page.get("value", []))
            nxt = page.get("@odata.nextLink")
            if not nxt or (limit and len(items) >= limit):
                return items[:limit] if limit else items
            page = await self.get(nxt)

    async def post(self, path: str, body: Any = None, *, retry: bool = True) -> JSON | None:
        return _json(await self.request("POST", path, body, retry=retry))

    async def patch(self, path: str, body: Any) -> JSON | None:
        return _json(await self.request("PATCH", path, body))

    async def put(self, path: str, body: Any) -> JSON | None:
        return _json(await self.request("PUT", path, body))

    async def delete(self, path: str) -> None:
        await self.request("DELETE", path)

    async def gather(self, *calls):
        """Reads that do not depend on each other go out together."""
        return await asyncio.gather(*calls)

    async def close(self) -> None:
        try:
            await self.adapter._http_client.aclose()
        except Exception:  # closing must never hide the run's own outcome
            pass


def _json(resp) -> Any:
    if resp.status_code == 204 or not resp.content:
        return None
    try:
        return resp.json()
    except ValueError:
        return None


def _shown_path(url: str, base: str) -> str:
    return url[len(base):] if url.startswith(base) else url
