"""Parametrized SCIM messages built once per process.

scim2-client and scim2-server parametrize their generic messages at run time, on every request
(`ListResponse[Union[User, ...]]`, `PatchOp[User]`, `Path[User]`). pydantic caches a parametrized class only while
something references it (a WeakValueDictionary), so between two requests the class is collected and the next request
builds it again: some 20-60 ms each (pydantic reads the docstrings of the class's source, walking every loaded
module, and msgraph loads thousands). An audit reads a page per request; the sandbox's Natoma answers one. Memoizing
the parametrization keeps each class alive, so it is built once. The classes are the ones pydantic would have built:
nothing else changes. A scim2 release without these helpers is left as it is (only slower).
"""
from __future__ import annotations

import functools
import sys
from typing import Any

_DONE: set[str] = set()


@functools.lru_cache(maxsize=256)
def _parametrized(generic: Any, parameter: Any) -> Any:
    return generic[parameter]


def _server_parametrize(generic: Any, parameter: Any) -> Any:
    try:
        return _parametrized(generic, parameter)
    except TypeError:  # an unhashable parameter: build it as scim2-server would
        return generic[parameter]


def _client_parametrize(generic: Any, models: Any) -> Any:
    from typing import Union

    return _server_parametrize(generic, Union[tuple(models)])  # noqa: UP007 (as scim2-client writes it)


def keep_server_generics() -> None:
    """scim2-server's modules call `parametrize` by the name they imported: replace it where it is used."""
    if "server" in _DONE:
        return
    _DONE.add("server")
    for name in ("scim2_server.service", "scim2_server.memory", "scim2_server.utils"):
        __import__(name)
        module = sys.modules[name]
        if callable(getattr(module, "parametrize", None)):
            setattr(module, "parametrize", _server_parametrize)


def keep_client_generics() -> None:
    """scim2-client calls its module-level `_parametrize(generic, models)`."""
    if "client" in _DONE:
        return
    _DONE.add("client")
    import scim2_client.client as client

    if callable(getattr(client, "_parametrize", None)):
        client._parametrize = _client_parametrize
