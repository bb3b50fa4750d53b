"""JMESPath, as the declarations use it: where a field sits in an AWS answer.

The language botocore's own paginators use (``Reservations[].Instances[]``,
``State.Name``), plus ``split(text, sep)`` (``split(Id, '/')[-1]``). Compiled once
per expression; a declaration's expressions are checked when it is made.

The forms the declarations use (fields, sub-expressions, ``[]`` projections and
flattens, filters with ``&&``/``!``, indexes, function calls) are compiled further into
Python closures that follow the interpreter's rules step by step (jmespath/visitor.py's
``TreeInterpreter``): the interpreter walks its tree through a visitor dispatch for every
node and element, ~10x slower on a security group's rules (docs/benchmarks.md). Any other
form is left to the interpreter; a test compares both on every declared expression.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from numbers import Number
from typing import Any

import jmespath
from jmespath import functions as jmespath_functions

Search = Callable[[Any], Any]


class _Functions(jmespath_functions.Functions):
    """JMESPath's functions plus ``split(text, sep)``: ``split(Id, '/')[-1]``."""

    @jmespath_functions.signature({"types": ["string"]}, {"types": ["string"]})
    def _func_split(self, text: str, sep: str) -> list[str]:
        return text.split(sep)


_FUNCTIONS = _Functions()
_OPTIONS = jmespath.Options(custom_functions=_FUNCTIONS)


@functools.lru_cache(maxsize=2048)
def _compiled(expression: str) -> Search:
    parsed = jmespath.compile(expression)
    fast = _closure(parsed.parsed)
    return fast if fast is not None else functools.partial(parsed.search, options=_OPTIONS)


def extract(data: Any, expression: str) -> Any:
    """The value at a JMESPath expression (``Reservations[].Instances[]``, ``State.Name``)."""
    return _compiled(expression)(data)


def searcher(expression: str) -> Search:
    """``extract`` bound to one expression: a caller that reads it often keeps the function."""
    return _compiled(expression)


def interpreted(data: Any, expression: str) -> Any:
    """``extract`` by JMESPath's own interpreter (what the compiled forms must equal)."""
    return jmespath.compile(expression).search(data, options=_OPTIONS)


_DECLARED: set[str] = set()


def compile_check(expression: str) -> None:
    """Raise early (at type declaration) on an expression that cannot compile."""
    _compiled(expression)
    _DECLARED.add(expression)


def declared_expressions() -> frozenset[str]:
    """Every expression checked so far (after the registry loaded: every declared one)."""
    return frozenset(_DECLARED)


def _is_false(value: Any) -> bool:
    # JMESPath's falsehood (TreeInterpreter._is_false): 0 is true, empty containers are false.
    # Identity first, then one isinstance: ~2x faster than four equality tests (a filter calls it per element).
    return value is None or value is False or (isinstance(value, (str, list, dict)) and not value)


def _closure(node: dict[str, Any]) -> Search | None:
    """``node`` (jmespath's parsed tree) as a closure; None for a form left to the interpreter."""
    build = _BUILDERS.get(node["type"])
    if build is None:
        return None
    children = [_closure(child) for child in node["children"]]
    if any(child is None for child in children):
        return None
    return build(node, children)  # None: a variant left to the interpreter


def _field(node: dict[str, Any], _: list[Search]) -> Search:
    name = node["value"]

    def field(value: Any) -> Any:
        try:
            return value.get(name)
        except AttributeError:
            return None
    return field


def _chain(_: dict[str, Any], children: list[Search]) -> Search:
    """A sub-expression (``a.b``) or an index expression (``x[-1]``): each child on the last's result."""
    def chain(value: Any) -> Any:
        for child in children:
            value = child(value)
        return value
    return chain


def _flatten(_: dict[str, Any], children: list[Search]) -> Search:
    (base,) = children

    def flatten(value: Any) -> Any:
        found = base(value)
        if not isinstance(found, list):
            return None
        merged: list[Any] = []
        for element in found:
            if isinstance(element, list):
                merged.extend(element)
            else:
                merged.append(element)
        return merged
    return flatten


def _projection(_: dict[str, Any], children: list[Search]) -> Search:
    base, each = children

    def projection(value: Any) -> Any:
        found = base(value)
        if not isinstance(found, list):
            return None
        return [current for current in map(each, found) if current is not None]
    return projection


def _filter_projection(_: dict[str, Any], children: list[Search]) -> Search:
    base, each, condition = children

    def filter_projection(value: Any) -> Any:
        found = base(value)
        if not isinstance(found, list):
            return None
        kept = (each(element) for element in found if not _is_false(condition(element)))
        return [current for current in kept if current is not None]
    return filter_projection


def _and(_: dict[str, Any], children: list[Search]) -> Search:
    left, right = children

    def and_expression(value: Any) -> Any:
        matched = left(value)
        return matched if _is_false(matched) else right(value)
    return and_expression


def _not(_: dict[str, Any], children: list[Search]) -> Search:
    (inner,) = children

    def not_expression(value: Any) -> bool:
        found = inner(value)
        if not isinstance(found, bool) and isinstance(found, Number) and found == 0:
            return False  # !0 is false: 0 is no falsehood in JMESPath
        return not found
    return not_expression


def _or(_: dict[str, Any], children: list[Search]) -> Search:
    left, right = children

    def or_expression(value: Any) -> Any:
        matched = left(value)
        return right(value) if _is_false(matched) else matched
    return or_expression


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, Number)


def _equals(left: Any, right: Any) -> bool:
    # JMESPath's equality: 0 and 1 are not false and true (Python's == says they are).
    if _is_number(left) and left in (0, 1):
        return not isinstance(right, bool) and left == right
    if _is_number(right) and right in (0, 1):
        return not isinstance(left, bool) and left == right
    return left == right


def _comparator(node: dict[str, Any], children: list[Search]) -> Search | None:
    if node["value"] not in ("eq", "ne"):
        return None  # ordering: left to the interpreter
    left, right, negate = *children, node["value"] == "ne"
    return lambda value: _equals(left(value), right(value)) is not negate


def _multi_select_dict(node: dict[str, Any], children: list[Search]) -> Search:
    keys = [child["value"] for child in node["children"]]
    pairs = list(zip(keys, children, strict=True))

    def multi_select_dict(value: Any) -> Any:
        return None if value is None else {key: child(value) for key, child in pairs}
    return multi_select_dict


def _multi_select_list(_: dict[str, Any], children: list[Search]) -> Search:
    return lambda value: None if value is None else [child(value) for child in children]


def _index(node: dict[str, Any], _: list[Search]) -> Search:
    position = node["value"]

    def index(value: Any) -> Any:
        if not isinstance(value, list):
            return None
        try:
            return value[position]
        except IndexError:
            return None
    return index


def _function(node: dict[str, Any], children: list[Search]) -> Search:
    name, call = node["value"], _FUNCTIONS.call_function  # the library's own checks and functions

    def function(value: Any) -> Any:
        return call(name, [child(value) for child in children])
    return function


def _literal(node: dict[str, Any], _: list[Search]) -> Search:
    constant = node["value"]
    return lambda value: constant


def _identity(_: dict[str, Any], __: list[Search]) -> Search:
    return lambda value: value


_BUILDERS: dict[str, Callable[[dict[str, Any], list[Search]], Search | None]] = {
    "field": _field, "subexpression": _chain, "index_expression": _chain, "flatten": _flatten,
    "projection": _projection, "filter_projection": _filter_projection, "and_expression": _and,
    "not_expression": _not, "index": _index, "function_expression": _function, "literal": _literal,
    "identity": _identity, "current": _identity, "or_expression": _or, "comparator": _comparator,
    "pipe": _chain, "multi_select_dict": _multi_select_dict, "key_val_pair": _chain,
    "multi_select_list": _multi_select_list,
}
