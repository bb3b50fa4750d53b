"""``@covers("lambda.function")``: marks the moto test that exercises a resource type.

Adding a type is one registry entry plus one test: `test_every_type_has_a_test`
imports every test module of this package and checks that the covered types are
exactly the registered ones, so a type without its test (or a test of a type that
no longer exists) fails the suite whichever tests are selected.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from elava.catalogue import registry

COVERED: dict[str, list[str]] = {}

Test = TypeVar("Test", bound=Callable)


def covers(*type_names: str) -> Callable[[Test], Test]:
    for name in type_names:
        registry.get(name)  # fails at import for a type that is not registered

    def mark(test: Test) -> Test:
        for name in type_names:
            COVERED.setdefault(name, []).append(f"{test.__module__}.{test.__qualname__}")
        return test

    return mark
