"""Layers follow folders: a module's folder says its layer, its layer says what it may load.

Each module is classified by the longest folder of `LAYERS` holding it, so a new module is
checked without editing this file. Every import statement (also inside functions) is read
per module; then one child process per pure layer imports all of that layer's modules and
sees that no connector was loaded, third-party libraries included.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("elava", "streams", "collectors")

# folder -> layer; the longest folder holding a module wins (docs/architecture.md)
LAYERS = {
    "elava": "contracts",  # events, settings, topics, sharding, catalogue/...: what every layer shares
    "elava/kafka": "plumbing",  # Kafka clients, security, reading a topic
    "elava/cli": "app",
    "elava/demo": "app",
    "elava/processes": "app",
    "collectors": "collectors",  # the AWS and CloudTrail sources, publishing
    "collectors/cloudtrail/normalize": "normaliser",  # raw CloudTrail records -> TrailEvents
    "streams": "core",  # what changed, who, findings, the store, policies
    "streams/drivers": "driver",  # Faust worker, executor runtime, embedded driver, dlq replay
}
# the layers of ours each layer may import (a package's own __init__ chain is always allowed)
MAY_IMPORT = {
    "contracts": {"contracts"},
    "normaliser": {"contracts", "normaliser"},
    "core": {"contracts", "core"},
    "plumbing": {"contracts", "plumbing"},
    "collectors": {"contracts", "plumbing", "normaliser", "collectors"},
    "driver": {"contracts", "plumbing", "normaliser", "core", "collectors", "driver"},
    "app": {"contracts", "plumbing", "normaliser", "core", "collectors", "driver", "app"},
}
CONNECTORS = ("faust", "aiokafka", "boto3", "botocore", "aioboto3", "aiobotocore")
PURE = ("contracts", "normaliser", "core")  # no connector, directly or not
NO_FAUST = ("plumbing", "collectors")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    return {module_name(path): path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))}


def layer_of(name: str) -> str:
    if name.endswith(".__main__"):
        return "app"  # `python -m <package>`: an entry point
    path = modules()[name].relative_to(ROOT).parent.as_posix()
    folder = max((f for f in LAYERS if path == f or path.startswith(f + "/")), key=len)
    return LAYERS[folder]


def _is_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name | ast.Attribute) and "TYPE_CHECKING" in ast.unparse(node.test)


def imported(name: str, source: str) -> set[str]:
    """Every module an import statement of ``name`` names (``from a import b``: a.b if a module)."""
    tree = ast.parse(source)
    skipped = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and _is_type_checking(node)
               for child in node.body for n in ast.walk(child)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name if modules()[name].name == "__init__.py" else name.rpartition(".")[0]
                package = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{package}.{base}".rstrip(".")
            named = {f"{base}.{alias.name}" for alias in node.names} & modules().keys()
            found.update(named or {base})
    return found


def problems(name: str, source: str | None = None) -> list[str]:
    layer = layer_of(name)
    ancestors = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
    found = []
    for other in sorted(imported(name, source or modules()[name].read_text())):
        top = other.split(".")[0]
        if top in PACKAGES and other in modules() and other not in ancestors:
            if layer_of(other) not in MAY_IMPORT[layer]:
                found.append(f"{name} ({layer}) imports {other} ({layer_of(other)})")
        elif (layer in PURE and top in CONNECTORS) or (layer in NO_FAUST and top == "faust"):
            found.append(f"{name} ({layer}) imports {other}")
    return found


def test_every_folder_of_the_table_is_a_package():
    assert [f for f in LAYERS if not (ROOT / f / "__init__.py").is_file()] == []


def test_the_table_classifies_by_folder():
    assert layer_of("streams.observe") == "core"
    assert layer_of("elava.__main__") == "app"
    assert layer_of("streams.drivers.worker.app") == "driver"
    assert layer_of("collectors.cloudtrail.normalize.records") == "normaliser"
    assert layer_of("collectors.cloudtrail.sink") == "collectors"
    assert layer_of("elava.kafka.clients") == "plumbing"
    assert layer_of("elava.events") == "contracts"


def test_a_forbidden_import_is_seen():
    """The check itself: a core module naming faust or a driver, also inside a function, is refused."""
    source = modules()["streams.observe"].read_text()
    source += "\n\ndef _late():\n    import faust\n    from streams.drivers.worker import app\n"
    assert problems("streams.observe", source) == [
        "streams.observe (core) imports faust",
        "streams.observe (core) imports streams.drivers.worker.app (driver)",
    ]


@pytest.mark.parametrize("name", sorted(modules()))
def test_module_imports_only_what_its_layer_may(name):
    assert problems(name) == []


@pytest.mark.parametrize("layer", PURE)
def test_pure_layer_loads_no_connector(layer):
    names = [name for name in modules() if layer_of(name) == layer]
    assert names, layer
    code = f"import sys\nfor m in {names!r}: __import__(m)\nprint(','.join(c for c in {CONNECTORS!r} if c in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert done.stdout.strip() == ""
