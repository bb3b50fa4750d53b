"""JMESPath, as the declarations use it: where a field sits in an AWS answer.

The language botocore's own paginators use (``Reservations[].Instances[]``,
``State.Name``), plus ``split(text, sep)`` (``split(Id, '/')[-1]``). Compiled once
per expression; a declaration's expressions are checked when it is made.
"""

from __future__ import annotations

import functools
from typing import Any

import jmespath
from jmespath import functions as jmespath_functions
from jmespath.parser import ParsedResult


class _Functions(jmespath_functions.Functions):
    """JMESPath's functions plus ``split(text, sep)``: ``split(Id, '/')[-1]``."""

    @jmespath_functions.signature({"types": ["string"]}, {"types": ["string"]})
    def _func_split(self, text: str, sep: str) -> list[str]:
        return text.split(sep)


_OPTIONS = jmespath.Options(custom_functions=_Functions())


@functools.lru_cache(maxsize=2048)
def _compiled(expression: str) -> ParsedResult:
    return jmespath.compile(expression)


def extract(data: Any, expression: str) -> Any:
    """The value at a JMESPath expression (``Reservations[].Instances[]``, ``State.Name``)."""
    return _compiled(expression).search(data, options=_OPTIONS)


def compile_check(expression: str) -> None:
    """Raise early (at type declaration) on an expression that cannot compile."""
    _compiled(expression)
