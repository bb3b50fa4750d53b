"""The compiled JMESPath forms give what JMESPath's interpreter gives, value for value."""

from __future__ import annotations

import functools
import random
import re
from typing import Any

import pytest

from elava.catalogue import registry
from elava.catalogue.expressions import _compiled, declared_expressions, extract, interpreted

# Forms beyond the declarations', with the corner cases of JMESPath's truth and projections.
EXTRA = [
    "a", "a.b.c", "a[]", "a[].b", "a[].b[]", "a[].b[].c", "a[-1]", "a[0].b", "split(a, '/')[-1]",
    "a[?b].c", "a[?!b].c", "a[?b && c].d", "a[?b && !contains(b, '/')].b", "a[?!(b && c)].d", "@",
    "length(a)", "a[?b == 'x'].c", "a[?b != `0`].c", "a == `1`", "a == `true`", "[a, b]", "a || `[]`", "a[?b > `1`]", "{x: a}", "a | b", "a || b", "sort_by(a, &b)",
]
SCALARS: list[Any] = [None, "", "x", "a/b", "sg-1", 0, 0.0, 1, 2.5, True, False, [], {}]


def _names(expression: str) -> list[str]:
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", expression)) - {"contains", "split", "length", "sort_by"}
    return sorted(words) or ["a"]


def _value(rng: random.Random, names: list[str], depth: int) -> Any:
    roll = rng.random()
    if depth <= 0 or roll < 0.35:
        return rng.choice(SCALARS)
    if roll < 0.7:
        return {name: _value(rng, names, depth - 1) for name in rng.sample(names, rng.randint(0, len(names)))}
    return [_value(rng, names, depth - 1) for _ in range(rng.randint(0, 4))]


def _outcome(search, data: Any) -> tuple[str, Any]:
    try:
        return "value", search(data)
    except Exception as exc:  # noqa: BLE001 - the same error must come out of both
        return "error", type(exc).__name__


def _same(expression: str, samples: int = 400) -> None:
    rng = random.Random(expression)
    names = _names(expression)
    for _ in range(samples):
        data = _value(rng, names, 4)
        fast = _outcome(lambda d: extract(d, expression), data)
        slow = _outcome(lambda d: interpreted(d, expression), data)
        assert fast == slow and type(fast[1]) is type(slow[1]), (expression, data, fast, slow)


def test_every_declared_expression_gives_what_the_interpreter_gives() -> None:
    registry.all_types()  # every family module declared its types (and checked their expressions)
    declared = declared_expressions()
    assert len(declared) > 100  # the catalogue's attributes, ids, tags, edges and usage paths
    for expression in sorted(declared):
        _same(expression)


@pytest.mark.parametrize("expression", EXTRA)
def test_forms_and_corner_cases_give_what_the_interpreter_gives(expression: str) -> None:
    _same(expression)


def test_the_declared_forms_are_compiled_not_interpreted() -> None:
    registry.all_types()
    assert isinstance(_compiled("sort_by(a, &b)"), functools.partial)  # an expression reference is left to it
    left = [e for e in declared_expressions() if isinstance(_compiled(e), functools.partial)]
    # Expression references (sort_by(…, &f)) and slices are all the interpreter still runs.
    assert left and all(re.search(r"[(,] *&|\[-?\d*:", e) for e in left), left


def test_a_security_groups_source_groups_filter() -> None:
    rules = {"ingress": [{"source_group": "sg-1"}, {"source_group": "111122223333/sg-2"}, {"cidr": "10.0.0.0/8"},
                         {"source_group": ""}, {"source_group": "sg-3"}]}
    assert extract(rules, "ingress[?source_group && !contains(source_group, '/')].source_group") == ["sg-1", "sg-3"]
