"""The policies compiled to one OPA Wasm module, and the engine that queries it in batches.

``elava policy build`` (streams/policy/build.py) writes ``elava-policies.wasm`` beside
the policies: the policies and a generated module, ``elava_engine``, compiled by ``opa
build -t wasm``. Its entrypoints:

- ``elava_engine/batch``: ``input.batch`` is a list of input documents, the result one
  list of ``[policy, "deny" | "action", value]`` per document (``with input as``);
- ``elava_engine/result``: the same for one document;
- ``elava_engine/p_<name>``: what policy ``<name>`` alone says (to name the policy
  that fails).

The module records a fingerprint of what it was built from (the policies' Rego and
the generated module) in a custom section. Definitions (``params``, ``resource_types``)
are data given at load, so editing a policy's YAML needs no rebuild; editing its Rego
does, and a module whose fingerprint differs from the policies' is not used.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import orjson

from elava.events import AttributedChange
from streams.policy.bundle import policy_data
from streams.policy.definitions import Policy
from streams.policy.document import projected_document
from streams.policy.exceptions import PolicyLoadError, PolicyOutputError
from streams.policy.projection import Projection, projection_for

MODULE_FILE = "elava-policies.wasm"  # not a policy name (a hyphen), so never read as one
PACKAGE = "elava_engine"
SECTION = "elava.fingerprint"
TYPES = "elava_types"  # data.elava_types[policy] = {type: true}; absent: every type


def engine_module(names: list[str]) -> str:
    lines = [f"package {PACKAGE}", "", "import rego.v1", "",
             f"applies(name) if not data.{TYPES}[name]", "",
             f"applies(name) if data.{TYPES}[name][input.resource.type]", ""]
    for name in names:
        lines += [f'p_{name} contains ["{name}", "deny", m] if {{ applies("{name}"); some m in data.elava.{name}.deny }}',
                  f'p_{name} contains ["{name}", "action", a] if {{ applies("{name}"); some a in data.elava.{name}.actions }}',
                  ""]
    union = " | ".join(f"p_{name}" for name in names) or "set()"
    lines += [f"result := {union}", "", "batch := [r | some doc in input.batch; r := result with input as doc]"]
    return "\n".join(lines) + "\n"


def entrypoints(names: list[str]) -> list[str]:
    return [f"{PACKAGE}/batch", f"{PACKAGE}/result", *(f"{PACKAGE}/p_{name}" for name in names)]


def fingerprint(policies: list[Policy]) -> str:
    """What the compiled module depends on: the Rego of every policy and the generated module."""
    digest = hashlib.sha256(engine_module([p.name for p in policies]).encode())
    for policy in sorted(policies, key=lambda p: p.name):
        digest.update(f"\0{policy.name}\0".encode())
        digest.update(policy.source.encode())
    return digest.hexdigest()


def with_fingerprint(module: bytes, value: str) -> bytes:
    """``module`` with a custom section ``elava.fingerprint`` appended (runtimes skip it)."""
    payload = _leb128(len(SECTION)) + SECTION.encode() + value.encode()
    return module + b"\x00" + _leb128(len(payload)) + payload


def read_fingerprint(module: bytes) -> str | None:
    """The fingerprint section of ``module``, if it has one (the last section wins)."""
    found, position = None, 8  # after the magic number and version
    while position < len(module):
        section_id = module[position]
        size, position = _read_leb128(module, position + 1)
        end = position + size
        if section_id == 0:
            length, start = _read_leb128(module, position)
            if module[start:start + length] == SECTION.encode():
                found = module[start + length:end].decode(errors="replace")
        position = end
    return found


def _leb128(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _read_leb128(data: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[position]
        value |= (byte & 0x7F) << shift
        position, shift = position + 1, shift + 7
        if not byte & 0x80:
            return value, position


def module_path(directory: Path) -> Path:
    return directory / MODULE_FILE


def stale_reason(directory: Path, policies: list[Policy]) -> str | None:
    """Why the compiled module of ``directory`` cannot serve ``policies``; None if it can."""
    path = module_path(directory)
    if not path.exists():
        return f"{path} does not exist"
    if read_fingerprint(path.read_bytes()) != fingerprint(policies):
        return f"{path} was built from other policies than those in {directory}"
    return None


class WasmPolicies:
    """The compiled module, queried a batch of documents at a time (one per engine)."""

    def __init__(self, policies: list[Policy], path: Path) -> None:
        from streams.policy.wasm import OpaWasm, WasmError

        self._policies = policies
        data = policy_data(policies)
        data[TYPES] = {p.name: dict.fromkeys(p.resource_types, True) for p in policies if p.resource_types}
        try:
            self._wasm = OpaWasm(path.read_bytes(), orjson.dumps(data))
        except WasmError as exc:
            raise PolicyLoadError(path, str(exc)) from exc
        self._path = path
        self._projections: dict[str, Projection] = {}

    def query(self, document: dict[str, Any]) -> list[list[Any]]:
        """Every ``[policy, kind, value]`` the applicable policies produce for this input."""
        try:
            return self._evaluate("result", orjson.dumps(self._projected(document), default=str))
        except _Failed as failed:
            raise self._evaluation_error(document, failed.detail) from failed

    def query_changes(self, changes: list[AttributedChange], with_metadata: bool) -> list[list[list[Any]]]:
        """Every ``[policy, kind, value]`` of each change, in one evaluation of the module;
        if it fails, PolicyError (then ask change by change: :meth:`query` names the policy)."""
        if not changes:
            return []
        batch = [projected_document(a, self._projection(a.change.type), with_metadata) for a in changes]
        try:
            return self._evaluate("batch", orjson.dumps({"batch": batch}, default=str))
        except _Failed as failed:
            raise PolicyOutputError(self._path, f"evaluation of a batch failed: {failed.detail}") from failed

    def query_one(self, name: str, document: dict[str, Any]) -> list[list[Any]]:
        try:
            return self._evaluate(f"p_{name}", orjson.dumps(self._projected(document), default=str))
        except _Failed as failed:
            policy = next(p for p in self._policies if p.name == name)
            uid = document["resource"].get("uid")
            raise PolicyOutputError(policy.path, f"evaluation failed for {uid}: {failed.detail}") from failed

    def _evaluate(self, entrypoint: str, value: bytes) -> Any:
        from streams.policy.wasm import WasmError

        try:
            result_set = orjson.loads(self._wasm.evaluate(f"{PACKAGE}/{entrypoint}", value))
        except WasmError as exc:
            raise _Failed(str(exc)) from exc
        if not result_set:
            raise _Failed("the module gave no result")
        return result_set[0]["result"]

    def _projected(self, document: dict[str, Any]) -> dict[str, Any]:
        return self._projection(document["resource"]["type"]).apply(document)

    def _projection(self, kind: str) -> Projection:
        projection = self._projections.get(kind)
        if projection is None:
            sources = [p.source for p in self._policies if p.applies_to(kind)]
            projection = self._projections[kind] = projection_for(sources)
        return projection

    def _evaluation_error(self, document: dict[str, Any], detail: str) -> PolicyOutputError:
        uid = document["resource"].get("uid")
        for policy in self._policies:
            if not policy.applies_to(document["resource"]["type"]):
                continue
            try:
                self._evaluate(f"p_{policy.name}", orjson.dumps(self._projected(document), default=str))
            except _Failed as failed:
                return PolicyOutputError(policy.path, f"evaluation failed for {uid}: {failed.detail}")
        return PolicyOutputError(self._path, f"evaluation failed for {uid}: {detail}")


class _Failed(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail
