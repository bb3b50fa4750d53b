"""Rego's ``sprintf`` as OPA computes it, for the Wasm engine (OPA's Wasm leaves it to the host).

OPA converts each argument (topdown ``builtinSprintf``): a number becomes a Go int64
when it is integral, else a float64; a string stays a string; anything else becomes
its Rego text (``[22, 3389]``, ``{"a": 1}``, ``null``, ``true``). Then Go's
``fmt.Sprintf`` runs. This module does the same for the verbs policies use (``v s d
q x X o b f F e E g G t %``, flags ``+-# 0``, width and precision), with Go's
markers for a verb that does not fit its argument (``%!s(int64=3)``), a missing
argument (``%!s(MISSING)``) and extra ones (``%!(EXTRA string=b)``).
A set reaches the host as an array, so ``%v`` of a set prints ``[1, 2]``, not ``{1, 2}``.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from functools import lru_cache
from typing import Any

import orjson

_VERB = re.compile(r"%([+\-# 0]*)(\d+|\*)?(?:\.(\d*|\*))?([a-zA-Z%])")
_INT64 = range(-(2**63), 2**63)


def sprintf(template: str, args: list[Any]) -> str:
    values = [_go_value(arg) for arg in args]
    used = 0
    out: list[str] = []
    for text, verb in _parsed(template):
        out.append(text)
        if verb is None:
            continue
        flags, width, precision, letter = verb
        if used >= len(values):
            out.append(f"%!{letter}(MISSING)")
            continue
        value = values[used]
        if letter in "sv" and not flags and width is None and precision is None and type(value) is str:
            out.append(value)  # the common case, as _format would say it
        else:
            out.append(_pad(_format(letter, flags, precision, value), flags, width))
        used += 1
    if used < len(values):
        extra = ", ".join(f"{_type(v)}={_plain(v)}" for v in values[used:])
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


@lru_cache(maxsize=1024)
def _parsed(template: str) -> tuple[tuple[str, tuple[str, str | None, str | None, str] | None], ...]:
    """The template as (literal text, verb or None) pieces; policies use a few templates often."""
    pieces: list[tuple[str, tuple[str, str | None, str | None, str] | None]] = []
    position = 0
    for match in _VERB.finditer(template):
        text = template[position:match.start()]
        position = match.end()
        flags, width, precision, letter = match.groups()
        pieces.append((text + "%", None) if letter == "%" else (text, (flags, width, precision, letter)))
    pieces.append((template[position:], None))
    return tuple(pieces)


class _Text(str):
    """A non-number, non-string argument: Go receives its Rego text as a string."""


def _go_value(arg: Any) -> Any:
    if isinstance(arg, bool) or arg is None or isinstance(arg, (list, dict)):
        return _Text(rego_text(arg))
    if isinstance(arg, float) and arg.is_integer() and abs(arg) < 2**63:
        return arg  # OPA keeps a JSON number written with a fraction as a float64
    return arg


def rego_text(value: Any) -> str:
    """A JSON value as Rego prints a term (``ast.Term.String``)."""
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, str):
        return orjson.dumps(value).decode()
    if isinstance(value, (int, float)):
        return _number(value)
    if isinstance(value, list):
        return "[" + ", ".join(rego_text(v) for v in value) + "]"
    items = sorted(value.items())
    return "{" + ", ".join(f"{rego_text(k)}: {rego_text(v)}" for k, v in items) + "}"


def _number(value: int | float) -> str:
    if isinstance(value, int):
        return str(value)
    return orjson.dumps(value).decode()


def _type(value: Any) -> str:
    if isinstance(value, str):
        return "string"
    if isinstance(value, int):
        return "int64" if value in _INT64 else "*big.Int"
    return "float64"


def _plain(value: Any) -> str:
    return _format("v", "", None, value)


def _format(verb: str, flags: str, precision: str | None, value: Any) -> str:
    if isinstance(value, str):
        return _string(verb, flags, precision, value)
    if isinstance(value, int):
        return _integer(verb, flags, value)
    return _float(verb, flags, precision, value)


def _bad(verb: str, value: Any) -> str:
    return f"%!{verb}({_type(value)}={_plain(value)})"


def _string(verb: str, flags: str, precision: str | None, value: str) -> str:
    if precision not in (None, "*") and verb in "sv":
        value = value[: int(precision or 0)]
    if verb in "sv":
        return value
    if verb == "q":
        return orjson.dumps(value).decode()
    if verb in "xX":
        text = value.encode().hex()
        return text.upper() if verb == "X" else text
    return _bad(verb, value)


def _integer(verb: str, flags: str, value: int) -> str:
    sign = "+" if "+" in flags and value >= 0 else ""
    bases = {"d": 10, "v": 10, "x": 16, "X": 16, "o": 8, "b": 2}
    if verb in bases:
        digits = _digits(abs(value), bases[verb])
        digits = digits.upper() if verb == "X" else digits
        if "#" in flags and verb in "xX":
            digits = ("0X" if verb == "X" else "0x") + digits
        return ("-" if value < 0 else sign) + digits
    if verb == "c":
        return chr(value)
    return _bad(verb, value)


def _digits(value: int, base: int) -> str:
    return format(value, {10: "d", 16: "x", 8: "o", 2: "b"}[base])


def _float(verb: str, flags: str, precision: str | None, value: float) -> str:
    sign = "+" if "+" in flags and value >= 0 else ""
    if math.isinf(value) or math.isnan(value):
        return sign + ("NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf"))
    digits = None if precision in (None, "*") else int(precision or 0)
    if verb in "vgG":
        text = _shortest(value) if digits is None else f"{value:.{digits}g}"
        return sign + (text.upper() if verb == "G" else text)
    if verb in "fF":
        return sign + f"{value:.{6 if digits is None else digits}f}"
    if verb in "eE":
        text = f"{value:.{6 if digits is None else digits}e}"
        return sign + (text.upper() if verb == "E" else text)
    return _bad(verb, value)


def _shortest(value: float) -> str:
    """Go's ``strconv.FormatFloat(f, 'g', -1, 64)``: the shortest digits that read back as
    ``value``, in exponent form when the exponent is below -4 or at least 6."""
    sign, digits, exponent = Decimal(repr(value)).as_tuple()
    text = "".join(map(str, digits)).rstrip("0") or "0"
    point = len(digits) + int(exponent)  # where the decimal point goes in ``text``
    power = point - 1
    minus = "-" if sign else ""
    if power < -4 or power >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{minus}{mantissa}e{power:+03d}"
    if point <= 0:
        return f"{minus}0.{'0' * -point}{text}"
    if point >= len(text):
        return minus + text + "0" * (point - len(text))
    return f"{minus}{text[:point]}.{text[point:]}"


def _pad(text: str, flags: str, width: str | None) -> str:
    if width in (None, "*"):
        return text
    size = int(width)
    if "-" in flags:
        return text.ljust(size)
    if "0" in flags and text[:1] in "+-" and text[1:2].isdigit():
        return text[0] + text[1:].rjust(size - 1, "0")
    if "0" in flags and text[:1].isdigit():
        return text.rjust(size, "0")
    return text.rjust(size)
