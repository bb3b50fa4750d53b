"""Errors of the policy engine. Each names the policy file it is about."""

from __future__ import annotations

from pathlib import Path

from elava.exceptions import ElavaError


class PolicyError(ElavaError):
    """A policy cannot be loaded or its output cannot be used; ``path`` names its file."""

    def __init__(self, path: Path | str, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class PolicyLoadError(PolicyError):
    """A policy file or its definition is invalid (syntax, package, mode, types)."""


class PolicyOutputError(PolicyError):
    """A policy produced something the engine cannot turn into events (bad action shape,
    unknown action type, a deny message that is not a string), or failed at evaluation."""
