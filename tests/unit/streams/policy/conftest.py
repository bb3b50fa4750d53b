"""Fixtures for the policy engine tests: policy directories written on the fly."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from elava.settings import PolicySettings
from streams.policy import PolicyEngine

SHIPPED = Path(__file__).resolve().parents[4] / "policies"


@pytest.fixture(scope="session")
def shipped() -> PolicyEngine:
    """The shipped policies under an enforce ceiling, so each policy's own mode shows."""
    return PolicyEngine.load(PolicySettings(path=SHIPPED, enforcement_mode="enforce"))


@pytest.fixture
def write_policy(tmp_path: Path) -> Callable[..., Path]:
    def write(name: str, rego: str, definition: str | None = None) -> Path:
        path = tmp_path / f"{name}.rego"
        path.write_text(f"package elava.{name}\n\nimport rego.v1\n\n{rego}\n")
        if definition is not None:
            path.with_suffix(".yaml").write_text(definition)
        return path
    return write


@pytest.fixture
def engine_for(tmp_path: Path) -> Callable[..., PolicyEngine]:
    def load(mode: str = "notify") -> PolicyEngine:
        return PolicyEngine.load(PolicySettings(path=tmp_path, enforcement_mode=mode))
    return load
