"""What drift leaves out: AWS-managed churn (by default) and the user's own ignore rules.

Each rule has a name, carried in ``DriftEvent.ignored`` so a user can see why a field
change was not drift, and documented with its field in docs/analyzers.md:

- ``aws-tag``: ``tags.aws:*``, tags AWS services write (CloudFormation, Auto Scaling);
  nobody else can set or change them;
- ``empty-value``: a field going between ``""``, missing, ``null``, ``[]`` and ``{}``
  (nothing to nothing: an API that answers an empty list one day and nothing the next);
- ``rekeyed-secret``: a redacted secret whose digest changed only because the redaction
  key was rotated;
- ``settling-state``: the type's state attribute leaving a settling state (``pending``
  to ``running``): AWS finishing what a caller began, who was seen beginning it;
- ``aws-initiated-state``: the state entering or leaving one AWS enters on its own (an
  RDS automated backup, a maintenance window);
- ``churn``: an attribute the type's declaration says moves without a change of
  configuration (a desired capacity moved by scaling policies, a time stamped at every
  start, a bucket's emptiness);
- ``ignore[<n>]``: the user's rule ``analyzer.drift.ignore[n]``.

The per-type facts live in the type's declaration (elava/catalogue: ``lifecycle``,
``churn``), not here.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import Any

from elava.analyzer_events import IgnoredChange
from elava.catalogue.exceptions import UnknownResourceType
from elava.catalogue.registry import get as resource_type
from elava.catalogue.types import ResourceType
from elava.events import FieldChange
from elava.redaction import only_rekeyed
from elava.settings import DriftIgnoreRule, DriftSettings

AWS_TAGS = "tags.aws:*"
_AWS_TAG_PREFIX = AWS_TAGS.removesuffix("*")  # fnmatch's "*" matches all the rest, dots too: a prefix
_GLOB = frozenset("*?[")


@dataclass(frozen=True)
class Split:
    kept: list[FieldChange]
    ignored: list[IgnoredChange]


@lru_cache(maxsize=256)
def declared_type(type_name: str) -> ResourceType | None:
    try:
        return resource_type(type_name)
    except UnknownResourceType:
        return None


def _path_matches(path: str, pattern: str) -> bool:
    """A glob matches a path or anything under it (``attributes.public_access_block`` its fields)."""
    return fnmatchcase(path, pattern) or fnmatchcase(path, pattern + ".*")


def _tags_match(tags: dict[str, str], wanted: dict[str, str]) -> bool:
    return all(any(fnmatchcase(k, key) and fnmatchcase(v, value) for k, v in tags.items())
               for key, value in wanted.items())


def user_rule_matches(rule: DriftIgnoreRule, type_name: str, tags: dict[str, str], path: str) -> bool:
    return (fnmatchcase(type_name, rule.type) and _tags_match(tags, rule.tags)
            and any(_path_matches(path, pattern) for pattern in rule.fields))


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | dict) and not value)


def _is_empty_change(change: FieldChange) -> bool:
    if change.op == "add":
        return _empty(change.new)
    if change.op == "remove":
        return _empty(change.old)
    return _empty(change.old) and _empty(change.new)


def _state_rule(declared: ResourceType | None, change: FieldChange) -> str | None:
    lifecycle = declared.lifecycle if declared else None
    if lifecycle is None or change.path != f"attributes.{lifecycle.attribute}" or change.op != "replace":
        return None
    if change.old in lifecycle.settling:
        return "settling-state"
    if change.old in lifecycle.aws_initiated or change.new in lifecycle.aws_initiated:
        return "aws-initiated-state"
    return None


def _churn_rule(declared: ResourceType | None, change: FieldChange) -> str | None:
    if declared is None or not declared.churn:
        return None
    exact, under = _churn_paths(tuple(declared.churn))
    path = change.path
    if exact is None:  # a name with glob characters: matched as a glob
        return "churn" if any(_path_matches(path, f"attributes.{name}") for name in declared.churn) else None
    return "churn" if path in exact or path.startswith(under) else None


@lru_cache(maxsize=256)
def _churn_paths(names: tuple[str, ...]) -> tuple[frozenset[str] | None, tuple[str, ...]]:
    """The paths of a type's churn attributes and the prefix of what is under each: what
    ``_path_matches`` matches for a name without glob characters, by a set and a prefix test."""
    if any(_GLOB & set(name) for name in names):
        return None, ()
    return frozenset(f"attributes.{name}" for name in names), tuple(f"attributes.{name}." for name in names)


def default_rule(declared: ResourceType | None, change: FieldChange) -> str | None:
    """The default rule that leaves ``change`` out, if any."""
    if change.path.startswith(_AWS_TAG_PREFIX):
        return "aws-tag"
    if _is_empty_change(change):
        return "empty-value"
    return _state_rule(declared, change) or _churn_rule(declared, change)


def rekeyed(diff: list[FieldChange]) -> set[int]:
    """Indexes of the changes that are only a secret redacted again under a rotated key.

    A redacted value in a dict changes in place (``replace``); one inside a list item
    reads as that item removed and an item added at the same path.
    """
    found = {i for i, c in enumerate(diff) if c.op == "replace" and only_rekeyed(c.old, c.new)}
    removed = [i for i, c in enumerate(diff) if c.op == "remove" and i not in found]
    for i, added in enumerate(diff):
        if added.op != "add":
            continue
        twin = next((r for r in removed if diff[r].path == added.path and only_rekeyed(diff[r].old, added.new)), None)
        if twin is not None:
            removed.remove(twin)
            found |= {twin, i}
    return found


class IgnoreRules:
    """The rules of ``analyzer.drift``: defaults (unless ``default_ignores: false``), then the user's."""

    def __init__(self, settings: DriftSettings | None = None) -> None:
        settings = settings or DriftSettings()
        self.defaults = settings.default_ignores
        self.user = list(settings.ignore)

    def rule_for(self, type_name: str, tags: dict[str, str], change: FieldChange) -> str | None:
        if self.defaults:
            found = default_rule(declared_type(type_name), change)
            if found is not None:
                return found
        return next((f"ignore[{n}]" for n, rule in enumerate(self.user)
                     if user_rule_matches(rule, type_name, tags, change.path)), None)

    def split(self, type_name: str, tags: dict[str, str], diff: list[FieldChange]) -> Split:
        """The changes drift reports, and those it leaves out with the rule that did."""
        kept, ignored = [], []
        again = rekeyed(diff)  # always: a rotated key is Elava's own doing, never drift
        for index, change in enumerate(diff):
            rule = "rekeyed-secret" if index in again else self.rule_for(type_name, tags, change)
            if rule is None:
                kept.append(change)
            else:
                ignored.append(IgnoredChange(path=change.path, rule=rule))
        return Split(kept, ignored)
