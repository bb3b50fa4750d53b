"""Errors of the resource-type catalogue (under elava's one root exception)."""

from __future__ import annotations

from elava.exceptions import ElavaError


class CatalogueError(ElavaError):
    """The catalogue of resource types cannot answer."""


class UnknownResourceType(CatalogueError, KeyError):
    """No resource type of that name is registered."""

    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"unknown resource type {name!r} (known: {', '.join(known) or 'none'})")
        self.name = name
        self.known = known

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class InvalidResourceType(CatalogueError):
    """A resource type declaration contradicts itself (caught when it is declared)."""
