"""Start-up: rich.markdown and rich.traceback loaded only when something uses them.

typer's help formatter (typer.rich_utils) imports both at its top: rich.markdown pulls in markdown-it and
rich.traceback pulls in pygments and attrs, some 70 modules and most of `--help`'s import time. Yet the CLI's help is
rich markup, never Markdown, and typer's pretty tracebacks are off (main.py). Until something builds a Markdown or a
Traceback, or asks the module for anything else, a stand-in holds its place; the first real use imports the real
module (and puts it in the stand-in's place), so behaviour is unchanged.
"""
from __future__ import annotations

import importlib
import sys
import types


def _real(name: str) -> types.ModuleType:
    if isinstance(sys.modules.get(name), _StandIn):
        del sys.modules[name]
    module = importlib.import_module(name)
    package, _, attr = name.rpartition(".")
    setattr(sys.modules[package], attr, module)  # the package attribute too, as a normal import sets it
    return module


def _deferred(module: str, name: str) -> type:
    """A class standing for module.name: building one, or any of its class attributes, imports the real one."""

    class Meta(type):
        def __getattr__(cls, attr: str):
            if attr.startswith("__"):
                raise AttributeError(attr)
            return getattr(getattr(_real(module), name), attr)

    def new(cls, *args, **kwargs):
        return getattr(_real(module), name)(*args, **kwargs)

    return Meta(name, (), {"__new__": new, "__module__": module})


class _StandIn(types.ModuleType):
    def __getattr__(self, name: str):
        if name.startswith("__"):  # the import system's own questions (__path__, ...): a plain module's answers
            raise AttributeError(name)
        return getattr(_real(self.__name__), name)


STAND_INS = {"rich.markdown": ("Markdown",), "rich.traceback": ("Traceback",)}


def install() -> None:
    for module, names in STAND_INS.items():
        if module not in sys.modules:
            stand_in = _StandIn(module)
            for name in names:
                setattr(stand_in, name, _deferred(module, name))
            sys.modules[module] = stand_in


install()
