"""Every setting does something: a field of Settings that no code reads fails here.

How "read" is decided (static, so it covers code paths no test runs): a field counts as
read where non-test code accesses it as an attribute of something that names its section
— ``settings.analyzer.drift.enabled``, ``drift.enabled``, ``drift_settings.enabled``, a
parameter annotated ``DriftSettings`` — or through ``getattr(<that>, "<field>")``. A bare
name match would not do: ``enabled``, ``path`` or ``app_id`` are read in many sections,
and one of them being read says nothing of another. In elava/settings.py only the
methods of the settings' classes count (``TierSettings.has_account``), not validators:
checking a value is not using it.
"""

from __future__ import annotations

import ast
from pathlib import Path

from pydantic import BaseModel

from elava.settings import Settings

ROOT = Path(__file__).parents[3]
SOURCES = ("elava", "streams", "collectors")
# Settings read by nothing yet, each with why it stays.
ALLOWED_UNREAD: dict[str, str] = {}


def fields(model: type[BaseModel], path: str = "", section: str = "settings") -> list[tuple[str, str, type]]:
    """(dotted path, the attribute naming its section, the section's model) of every leaf setting."""
    found = []
    for name, info in model.model_fields.items():
        dotted = f"{path}{name}"
        inner = _model_of(info.annotation)
        found.append((dotted, section, model))
        if inner is not None:
            found.extend(fields(inner, dotted + ".", name))
    return found


def _model_of(annotation) -> type[BaseModel] | None:
    for candidate in (annotation, *getattr(annotation, "__args__", ())):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _names_of(section: str, model: type) -> set[str]:
    """Words that name a section: its attribute, its class (``policies``, ``policysettings``)."""
    return {section.lower(), model.__name__.lower()}


def _annotations(tree: ast.AST) -> dict[str, str]:
    """Name -> what says what it holds, over a whole module (good enough here): its annotation,
    the attribute it was assigned from (``trail = settings.cloudtrail``), or the annotation of
    what a loop walks (``for tier in tiers`` with ``tiers: list[TierSettings]``)."""
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.arg) and node.annotation is not None:
            found[node.arg] = ast.unparse(node.annotation)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            found[node.target.id] = ast.unparse(node.annotation)
        elif (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
              and isinstance(node.value, ast.Attribute)):
            found.setdefault(node.targets[0].id, node.value.attr)
    for node in ast.walk(tree):
        if isinstance(node, (ast.For, ast.comprehension)) and isinstance(node.target, ast.Name) \
                and isinstance(node.iter, ast.Name):
            found.setdefault(node.target.id, found.get(node.iter.id, node.iter.id))
    return found


def reads() -> list[tuple[str, str, str]]:
    """(attribute, receiver's last word, receiver's annotation) of every attribute read in the sources."""
    found = []
    for folder in SOURCES:
        for path in (ROOT / folder).rglob("*.py"):
            tree = ast.parse(path.read_text())
            if path == ROOT / "elava" / "settings.py":
                found.extend(_method_reads(tree))
                continue
            annotated = _annotations(tree)
            for node in ast.walk(tree):
                if isinstance(node, ast.Attribute):
                    found.append((node.attr, *_receiver(node.value, annotated)))
                elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"
                      and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant)):
                    found.append((str(node.args[1].value), *_receiver(node.args[0], annotated)))
    return found


def _method_reads(tree: ast.AST) -> list[tuple[str, str, str]]:
    """``self.<field>`` in the methods of the settings' own classes (``TierSettings.has_account``),
    not in their validators: checking a value is not using it."""
    found = []
    for cls in [node for node in ast.walk(tree) if isinstance(node, ast.ClassDef)]:
        for method in [node for node in cls.body if isinstance(node, ast.FunctionDef)]:
            if any("validator" in ast.unparse(decorator) for decorator in method.decorator_list):
                continue
            found.extend((node.attr, cls.name.lower(), "") for node in ast.walk(method)
                         if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                         and node.value.id == "self")
    return found


def _receiver(node: ast.AST, annotated: dict[str, str]) -> tuple[str, str]:
    if isinstance(node, ast.Attribute):
        return node.attr.lower(), ""
    if isinstance(node, ast.Name):
        return node.id.lower(), annotated.get(node.id, "")
    return "", ""


def unread(root: type[BaseModel] = Settings) -> list[str]:
    seen = reads()
    missing = []
    for dotted, section, model in fields(root):
        attr, names = dotted.rsplit(".", 1)[-1], _names_of(section, model)
        if not any(name == attr and any(word in receiver or word in annotation.lower() for word in names)
                   for name, receiver, annotation in seen):
            missing.append(dotted)
    return missing


def test_every_setting_is_read_by_some_code():
    assert sorted(set(unread()) - set(ALLOWED_UNREAD)) == []


def test_every_allowed_exception_is_still_unread_and_exists():
    """An allowed entry that code reads now, or that is gone, must leave the list."""
    known = {dotted for dotted, _, _ in fields(Settings)}
    assert sorted(set(ALLOWED_UNREAD) - known) == []
    assert sorted(set(ALLOWED_UNREAD) - set(unread())) == []


def test_the_check_finds_a_setting_nobody_reads():
    class Probe(Settings):
        never_read_anywhere: int = 0

    assert "never_read_anywhere" in unread(Probe)
    assert "kafka.partitions" not in unread(Probe)
