"""A faster way to hand regopy the input document.

regopy's own ``Input(value)`` walks the value through Python wrappers that copy
every string into a ctypes buffer and test abstract base classes at each node: for
a resource of a few hundred values that costs more than evaluating the policies.
This walks the same value with the same C calls, directly. If the C layer is not
what this expects (another regopy version), ``regopy.Input`` is used instead.
"""

from __future__ import annotations

from typing import Any

from regopy import Input, rego_shared

try:
    _lib = rego_shared.rego
    _OK = rego_shared.Code.OK
    _STRING, _INT, _FLOAT = _lib.regoInputString, _lib.regoInputInt, _lib.regoInputFloat
    _BOOL, _NULL = _lib.regoInputBoolean, _lib.regoInputNull
    _ITEM, _OBJECT, _ARRAY = _lib.regoInputObjectItem, _lib.regoInputObject, _lib.regoInputArray
    _NEW, _FREE = rego_shared.rego_new_input, rego_shared.rego_free_input
    AVAILABLE = True
except AttributeError:  # pragma: no cover - a regopy without this C layer
    AVAILABLE = False


class InputError(ValueError):
    """A value the input builder cannot represent, or a C call that failed."""


def _add(handle: Any, value: Any) -> None:
    kind = type(value)
    if kind is str:
        code = _STRING(handle, value.encode())
    elif kind is dict:
        for key, item in value.items():
            _add(handle, key)
            _add(handle, item)
            if _ITEM(handle) != _OK:
                raise InputError("cannot add an object item")
        code = _OBJECT(handle, len(value))
    elif kind is list or kind is tuple:
        for item in value:
            _add(handle, item)
        code = _ARRAY(handle, len(value))
    elif kind is bool:
        code = _BOOL(handle, value)
    elif kind is int:
        code = _INT(handle, value)
    elif kind is float:
        code = _FLOAT(handle, value)
    elif value is None:
        code = _NULL(handle)
    else:
        raise InputError(f"cannot pass a {kind.__name__} to a policy")
    if code != _OK:
        raise InputError(f"regopy refused a {kind.__name__} value")


def make_input(document: dict[str, Any]) -> Input:
    """An ``Input`` holding ``document`` (plain JSON values only: dict, list, str, numbers, bool, None)."""
    if not AVAILABLE:  # pragma: no cover
        return Input(document)
    handle = _NEW()
    try:
        _add(handle, document)
    except BaseException:
        _FREE(handle)
        raise
    built = Input.__new__(Input)
    built._impl = handle  # Input frees it when collected
    return built
