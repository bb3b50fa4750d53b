"""OPA policies compiled to WebAssembly (``opa build -t wasm``), run in-process by wasmtime.

The module follows OPA's Wasm ABI: data is parsed into the module's heap once; each
evaluation writes the input JSON above it and calls ``opa_eval`` (the one-call path,
ABI 1.2), which resets the heap to that point, so memory does not grow from one
evaluation to the next. Builtins OPA leaves to the host (``sprintf`` for the
shipped policies) are Python functions here; a module that needs one this host does
not have is refused at load.

wasmtime's public ``Func.__call__`` checks and converts every argument in Python
(~30 µs a call on the development machine), and so does its trampoline for host
functions. Every value crossing here is an i32, so calls go through
``wasmtime_func_call_unchecked`` with a reused argument array (~2 µs) and host
functions are made with ``wasmtime_func_new_unchecked``: the only use of wasmtime's
private ``_bindings``/``_ffi`` layer, guarded by ``tests/unit/streams/policy/test_wasm.py``.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import Any

import orjson
import wasmtime
from wasmtime import _bindings  # private: see the module docstring
from wasmtime import _ffi as ffi

from streams.policy.gofmt import sprintf

PAGE = 65536
SCRATCH = 16384  # bytes kept for builtins' answers (a longer one gets its own allocation)
_CALL = _bindings._wasmtime_func_call_unchecked  # the ctypes function itself, without wasmtime's wrapper


class WasmError(Exception):
    """The module aborted (``opa_abort``), trapped, or needs what this host lacks."""


def _host_sprintf(template: Any, args: Any) -> Any:
    if not isinstance(template, str) or not isinstance(args, list):
        raise WasmError("sprintf: operand 1 must be a string and operand 2 an array")
    return sprintf(template, args)


HOST_BUILTINS: dict[str, Callable[..., Any]] = {"sprintf": _host_sprintf}


class _Call:
    """One exported function, called with i32 arguments and at most one i32 result."""

    def __init__(self, runtime: OpaWasm, name: str, arity: int) -> None:
        export = runtime.exports[name]
        if not isinstance(export, wasmtime.Func):
            raise WasmError(f"the module's {name} is not a function")
        self._runtime, self._func = runtime, ctypes.byref(export._func)
        self._context = runtime.store._context()
        self._values = (ffi.wasmtime_val_raw_t * max(arity, 1))()
        self._size = max(arity, 1)

    def __call__(self, *args: int) -> int:
        values = self._values
        for index, value in enumerate(args):
            values[index].i32 = value
        trap = ctypes.POINTER(ffi.wasm_trap_t)()
        error = _CALL(self._context, self._func, values, self._size, ctypes.byref(trap))
        if error or trap:
            self._runtime.failed(error, trap)
        return values[0].i32


class OpaWasm:
    """One instance of a compiled policy module: not shared across threads."""

    def __init__(self, module: bytes, data: bytes) -> None:
        config = wasmtime.Config()
        config.memory_may_move = False  # the memory's address is read once (grown in place)
        self.engine = wasmtime.Engine(config)
        self.store = wasmtime.Store(self.engine)
        compiled = wasmtime.Module(self.engine, module)
        self.memory = wasmtime.Memory(self.store, wasmtime.MemoryType(_memory_limits(compiled)))
        self._pending: BaseException | None = None  # what a host function raised, to re-raise
        self._callbacks: list[Any] = []  # ctypes callbacks must outlive the module
        linker = wasmtime.Linker(self.engine)
        linker.define(self.store, "env", "memory", self.memory)
        self._define(linker, "opa_abort", 1, False, self._abort)
        self._define(linker, "opa_println", 1, False, lambda _address: None)
        for arity in range(5):
            self._define(linker, f"opa_builtin{arity}", arity + 2, True, self._builtin)
        self.exports = linker.instantiate(self.store, compiled).exports(self.store)
        self._memory_base = ctypes.addressof(self.memory.data_ptr(self.store).contents)
        self._malloc = _Call(self, "opa_malloc", 1)
        self._parse = _Call(self, "opa_json_parse", 2)
        self._dump = _Call(self, "opa_json_dump", 1)
        self._heap = _Call(self, "opa_heap_ptr_get", 0)
        self._eval = _Call(self, "opa_eval", 7)
        # Below this address is the module's static data: its constant strings (sprintf's
        # templates) are read once, then remembered by address (strings never change).
        self._static_end = self._heap()
        self._constants: dict[int, str] = {}
        self.entrypoints: dict[str, int] = self._json(_Call(self, "entrypoints", 0)())
        self._builtins = self._host_builtins(self._json(_Call(self, "builtins", 0)()))
        self._data = self._load(data)
        # Where a builtin's answer is written for opa_json_parse (which copies what it reads):
        # below the base, so it survives the heap's reset, and one malloc call fewer per builtin.
        self._scratch = self._malloc(SCRATCH)
        self._base = self._heap()  # every evaluation starts here: data and scratch stay below

    def evaluate(self, entrypoint: str, value: bytes) -> bytes:
        """The result set of ``entrypoint`` for this input (JSON bytes), as JSON bytes."""
        end = self._base + len(value)
        self._ensure(end + 1)
        ctypes.memmove(self._memory_base + self._base, value, len(value))
        result = self._eval(0, self.entrypoints[entrypoint], self._data, self._base, len(value), end, 0)
        return ctypes.string_at(self._memory_base + result)

    def failed(self, error: Any, trap: Any) -> None:
        """A call returned an error or a trap: raise what a host function raised, else a WasmError."""
        pending, self._pending = self._pending, None
        if pending is not None:
            raise pending
        problem = wasmtime.WasmtimeError._from_ptr(error) if error else wasmtime.Trap._from_ptr(trap)
        raise WasmError(str(problem).splitlines()[0])

    def _define(self, linker: wasmtime.Linker, name: str, arity: int, returns: bool,
                function: Callable[..., Any]) -> None:
        """A host function on wasmtime's unchecked path: raw i32 values in and out, no conversions."""
        i32 = wasmtime.ValType.i32()
        kind = wasmtime.FuncType([i32] * arity, [i32] if returns else [])

        def call(_env: Any, _caller: Any, values: Any, _size: int) -> int:
            try:
                result = function(*(values[index].i32 for index in range(arity)))
                if returns:
                    values[0].i32 = result
                return 0
            except BaseException as exc:  # noqa: BLE001 - carried through the trap, raised by failed()
                self._pending = exc
                message = f"host function {name} failed".encode()
                return ctypes.cast(ffi.wasmtime_trap_new(message, len(message)), ctypes.c_void_p).value or 0

        callback = _bindings.wasmtime_func_unchecked_callback_t(call)
        finalizer = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(lambda _env: None)
        self._callbacks += [callback, finalizer]
        raw = ffi.wasmtime_func_t()
        ffi.wasmtime_func_new_unchecked(self.store._context(), kind.ptr(), callback, None, finalizer,
                                        ctypes.byref(raw))
        linker.define(self.store, "env", name, wasmtime.Func._from_raw(raw))

    def _host_builtins(self, wanted: dict[str, int]) -> dict[int, Callable[..., Any]]:
        missing = sorted(name for name in wanted if name not in HOST_BUILTINS)
        if missing:
            raise WasmError(f"the policies call builtins the Wasm engine does not provide: {', '.join(missing)}")
        return {number: HOST_BUILTINS[name] for name, number in wanted.items()}

    def _builtin(self, number: int, _context: int, *operands: int) -> int:
        function = self._builtins.get(number)
        if function is None:
            raise WasmError(f"unknown builtin {number}")
        answer = orjson.dumps(function(*[self._operand(address) for address in operands]))
        if len(answer) > SCRATCH:
            return self._load(answer)
        ctypes.memmove(self._memory_base + self._scratch, answer, len(answer))
        return self._parsed(self._scratch, len(answer))

    def _abort(self, address: int) -> None:
        raise WasmError(ctypes.string_at(self._memory_base + address).decode(errors="replace"))

    def _operand(self, address: int) -> Any:
        known = self._constants.get(address)
        if known is not None:
            return known
        value = self._json(address)
        if address < self._static_end and isinstance(value, str):
            self._constants[address] = value
        return value

    def _json(self, address: int) -> Any:
        return orjson.loads(ctypes.string_at(self._memory_base + self._dump(address)))

    def _load(self, value: bytes) -> int:
        address = self._malloc(len(value))
        ctypes.memmove(self._memory_base + address, value, len(value))
        return self._parsed(address, len(value))

    def _parsed(self, address: int, size: int) -> int:
        parsed = self._parse(address, size)
        if parsed == 0:
            raise WasmError("the module could not parse a JSON value")
        return parsed

    def _ensure(self, size: int) -> None:
        have = self.memory.data_len(self.store)
        if size > have:
            self.memory.grow(self.store, (size - have) // PAGE + 1)


def _memory_limits(module: wasmtime.Module) -> wasmtime.Limits:
    for item in module.imports:
        if item.module == "env" and item.name == "memory" and isinstance(item.type, wasmtime.MemoryType):
            return wasmtime.Limits(item.type.limits.min, item.type.limits.max)
    raise WasmError("the module imports no memory: not an OPA Wasm module")
