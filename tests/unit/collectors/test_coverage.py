"""Adding a type is one registry entry plus one test: every type has its moto test."""

from __future__ import annotations

import importlib
import pkgutil

import tests.unit.collectors as package
from elava.catalogue import registry
from tests.unit.collectors.covers import COVERED


def _import_every_test_module() -> None:
    for module in pkgutil.iter_modules(package.__path__):
        if module.name.startswith("test_"):
            importlib.import_module(f"{package.__name__}.{module.name}")


def test_every_registered_type_has_a_moto_test_and_every_test_a_type():
    _import_every_test_module()

    registered = {rt.name for rt in registry.all_types()}
    untested = sorted(registered - set(COVERED))
    assert not untested, f"registered types without a @covers(...) moto test: {untested}"
    assert set(COVERED) == registered


async def test_every_type_scans_an_empty_account_completely(scan):
    types = registry.all_types()

    run = await scan(types, regions=["us-east-1", "eu-west-1"], buckets=1)

    assert not run.report.partial, [(f.type, f.region, f.error) for f in run.report.failures()]
    regional = [rt for rt in types if not rt.global_service]
    assert len(run.report.results) == 2 * len(regional) + (len(types) - len(regional))
    # Nothing to list: one call per region (for ECS services, the cluster listing).
    assert run.report.calls_by_type() == {rt.name: (1 if rt.global_service else 2) for rt in types}
