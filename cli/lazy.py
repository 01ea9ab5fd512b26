"""Click pieces that import the library only when a command runs, so `--version` and `--help` start in
well under a second: the library's modules import torch and pynwb (several seconds)."""

from __future__ import annotations

import functools
from importlib import import_module
from typing import Any

import click


def attribute(where: str) -> Any:
    """The object at 'package.module:name', imported now."""
    module, name = where.split(":")
    return getattr(import_module(module), name)


class LazyGroup(click.Group):
    """A group whose subcommands are imported when one is invoked (or asked for its own --help).

    `lazy_commands`: name -> ('module:click object', the line --help lists it with), so that listing
    the commands imports none of them.
    """

    def __init__(self, *args: Any, lazy_commands: dict[str, tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = lazy_commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*super().list_commands(ctx), *self.lazy_commands]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands:
            return attribute(self.lazy_commands[cmd_name][0])
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, summary) for name, (_, summary) in self.lazy_commands.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


class LazyChoice(click.Choice):
    """`click.Choice` over a library constant ('module:NAME', any iterable of names) imported on first
    use (parsing, or the command's own --help), so a command's module imports without the library."""

    def __init__(self, where: str) -> None:  # click.Choice's __init__ would read the choices now
        self.where = where
        self.case_sensitive = True

    @functools.cached_property
    def choices(self) -> tuple[str, ...]:  # type: ignore[override]
        return tuple(attribute(self.where))
