"""Policy files: ``<name>.rego`` (package ``elava.<name>``) and an optional ``<name>.yaml``.

The definition says what the policy is for (description, severity), how far it may
go (mode), which resource types it looks at, and ``params``: data the policy reads
as ``data.params.<name>`` (e.g. the list of required tags), so that changing a list
is a YAML edit, not a Rego one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from elava.events import ActionMode
from streams.policy.exceptions import PolicyLoadError
from streams.policy.syntax import v0_problems

NAME = re.compile(r"^[a-z][a-z0-9_]*$")  # a Rego package segment
RESERVED_NAMES = frozenset({"constants"})  # data.elava.constants: the shared constants (streams.policy.bundle)
TEST_SUFFIX = "_test"  # <name>_test.rego / <name>_test.yaml hold tests, not policies
DEFAULT_MODE: ActionMode = "notify"  # a policy without a definition never enforces


class Definition(BaseModel):
    """The YAML definition of one policy; unknown keys are errors (a typo must not pass)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    description: str = ""
    severity: Literal["info", "low", "medium", "high", "critical"] = "medium"
    mode: ActionMode = DEFAULT_MODE
    resource_types: list[str] = Field(default_factory=list)  # empty: every type
    params: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True)
class Policy:
    name: str
    path: Path
    source: str
    definition: Definition = field(default_factory=Definition)

    @property
    def mode(self) -> str:
        return self.definition.mode

    @property
    def description(self) -> str:
        return self.definition.description

    @property
    def resource_types(self) -> list[str]:
        return self.definition.resource_types

    def applies_to(self, resource_type: str) -> bool:
        return not self.resource_types or resource_type in self.resource_types


def policy_files(directory: Path) -> list[Path]:
    """The policies of a directory, sorted by name; test files are not policies."""
    return sorted(p for p in directory.glob("*.rego") if not p.stem.endswith(TEST_SUFFIX))


def load_policy(path: Path) -> Policy:
    name = path.stem
    if not NAME.match(name):
        raise PolicyLoadError(path, f"policy name {name!r} must be lowercase letters, digits and _")
    if name in RESERVED_NAMES:
        raise PolicyLoadError(path, f"policy name {name!r} is reserved: data.elava.{name} is Elava's own data")
    source = _read(path)
    _check_package(path, name, source)
    _check_v1(path, source)
    return Policy(name=name, path=path, source=source, definition=load_definition(path.with_suffix(".yaml")))


def load_definition(path: Path) -> Definition:
    if not path.exists():
        return Definition()
    try:
        data = yaml.safe_load(_read(path)) or {}
    except yaml.YAMLError as exc:
        raise PolicyLoadError(path, f"not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise PolicyLoadError(path, "a policy definition must be a mapping")
    try:
        return Definition(**data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise PolicyLoadError(path, f"invalid definition: {problems}") from exc


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise PolicyLoadError(path, f"cannot read: {exc.strerror}") from exc


_PACKAGE = re.compile(r"^\s*package\s+([A-Za-z0-9_.]+)\s*$", re.MULTILINE)


def _check_package(path: Path, name: str, source: str) -> None:
    # The engine queries data.elava.<name>: another package would silently never fire.
    match = _PACKAGE.search(source)
    found = match.group(1) if match else None
    if found != f"elava.{name}":
        raise PolicyLoadError(path, f"package must be 'elava.{name}' (found {found!r})")


def _check_v1(path: Path, source: str) -> None:
    # regopy reads some v0 heads as something else, and the policy fails on every change.
    problems = v0_problems(source)
    if problems:
        raise PolicyLoadError(path, "; ".join(str(p) for p in problems[:5]))
