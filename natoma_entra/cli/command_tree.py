"""The Click command natoma-entra runs, each command built from its function when it is first asked for.

typer builds a Click command from every command function's signature; built all at once that is about 15 ms of each
run, which needs one command (and the group's --help, only the commands' lines). Click's own way to load commands
lazily is a group whose `get_command` / `list_commands` answer on demand; typer's group reads its `commands`
mapping, so the mapping here builds a command the first time it is looked up, through typer's public
`typer.main.get_command` on a Typer holding that command alone (what typer builds for it inside the group).
"""
from __future__ import annotations

import copy
import inspect
from collections.abc import Iterator, MutableMapping
from typing import Any

import typer
import typer.main
from typer.models import CommandInfo


def build_one(info: CommandInfo) -> Any:
    """The Click command typer makes of one registered command, as it makes it inside the group."""
    alone = typer.Typer(add_completion=False, rich_markup_mode=None, pretty_exceptions_enable=False)
    alone.registered_commands.append(info)
    return typer.main.get_command(alone)


class LazyCommands(MutableMapping[str, Any]):
    """A group's commands by name, in typer's order (the commands, then the sub-groups); a command registered on the
    Typer app is built on its first lookup."""

    def __init__(self, pending: list[CommandInfo], built: MutableMapping[str, Any]):
        self._pending: dict[str, CommandInfo] = {}
        for info in pending:
            if not info.name:
                raise ValueError(f"{info.callback} is registered without a name")
            self._pending[info.name] = info
        self._built = dict(built)
        self._order = [*self._pending, *(name for name in built if name not in self._pending)]

    def __getitem__(self, name: str) -> Any:
        if name not in self._built:
            info = self._pending[name]  # KeyError: no such command
            self._built[name] = build_one(info)
        return self._built[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self._built[name] = command
        if name not in self._order:
            self._order.append(name)

    def __delitem__(self, name: str) -> None:
        if name not in self._order:
            raise KeyError(name)
        self._built.pop(name, None)
        self._pending.pop(name, None)
        self._order.remove(name)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._order))

    def __len__(self) -> int:
        return len(self._order)

    def listing(self, name: str, limit: int) -> tuple[str, bool]:
        """(its line in the group's --help, hidden?) without building a command whose registration says both."""
        info = self._pending.get(name) if name not in self._built else None
        if info is not None and isinstance(info.short_help, str) and not info.deprecated:
            return inspect.cleandoc(info.short_help).strip(), bool(info.hidden)
        command = self[name]
        return command.get_short_help_str(limit), bool(command.hidden)


def build(app: typer.Typer) -> Any:
    """The group of `app` (its callback, its options, its sub-groups) with its own commands built on demand."""
    group_only = copy.copy(app)  # the same app, less its commands: typer builds the group and the sub-groups
    group_only.registered_commands = []
    group: Any = typer.main.get_command(group_only)  # a TyperGroup: the app has a callback
    group.commands = LazyCommands(list(app.registered_commands), group.commands)
    return group
