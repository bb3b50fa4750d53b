"""Fixtures for the policy engine tests: policy directories written on the fly, and run by
each engine (regopy; the Wasm engine, whose modules are built with the opa binary)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from elava.settings import PolicySettings
from streams.policy import PolicyEngine
from streams.policy.build import build, find_opa
from streams.policy.definitions import load_policy, policy_files

SHIPPED = Path(__file__).resolve().parents[4] / "policies"
ENGINES = ["regopy", "wasm"]


def opa_or_skip() -> str:
    """The opa binary; without one the Wasm tests cannot build modules. In CI (the test
    command installs opa where Go is) its absence is a failure, not a skip."""
    opa = find_opa()
    if opa is None:
        if os.environ.get("CI"):
            pytest.fail("no opa binary: scripts/test installs it with Go (scripts/opa)")
        pytest.skip("no opa binary to build Wasm modules with (scripts/opa installs one)")
    return opa


def build_wasm(directory: Path) -> None:
    build(directory, [load_policy(path) for path in policy_files(directory)], opa_or_skip())


def load_engine(directory: Path, kind: str, mode: str = "notify", **settings) -> PolicyEngine:
    """The policies of ``directory`` under engine ``kind`` (for wasm, compiled first)."""
    if kind == "wasm":
        build_wasm(directory)
    return PolicyEngine.load(PolicySettings(path=directory, enforcement_mode=mode, engine=kind, **settings))


@pytest.fixture(scope="session", params=ENGINES)
def shipped(request) -> PolicyEngine:
    """The shipped policies under an enforce ceiling, so each policy's own mode shows; by each
    engine (the Wasm one runs the committed policies/elava-policies.wasm)."""
    return PolicyEngine.load(PolicySettings(path=SHIPPED, enforcement_mode="enforce", engine=request.param))


@pytest.fixture
def write_policy(tmp_path: Path) -> Callable[..., Path]:
    def write(name: str, rego: str, definition: str | None = None) -> Path:
        path = tmp_path / f"{name}.rego"
        path.write_text(f"package elava.{name}\n\nimport rego.v1\n\n{rego}\n")
        if definition is not None:
            path.with_suffix(".yaml").write_text(definition)
        return path
    return write


@pytest.fixture(params=ENGINES)
def engine_kind(request) -> str:
    return request.param


@pytest.fixture
def engine_for(tmp_path: Path, engine_kind: str) -> Callable[..., PolicyEngine]:
    """The policies written in tmp_path, under each engine in turn."""
    def load(mode: str = "notify") -> PolicyEngine:
        return load_engine(tmp_path, engine_kind, mode)
    return load


@pytest.fixture
def regopy_engine_for(tmp_path: Path) -> Callable[..., PolicyEngine]:
    """For what only regopy does (its own errors and bugs)."""
    def load(mode: str = "notify") -> PolicyEngine:
        return load_engine(tmp_path, "regopy", mode)
    return load
