"""`elava policy build`: compile a policy directory to ``elava-policies.wasm`` with ``opa``.

The ``opa`` binary (OPA 1.x: ``go install github.com/open-policy-agent/opa@v1.22.3``, a
release download, or the ``openpolicyagent/opa`` image) is needed only here, never to
run the policies: wasmtime, a Python dependency, runs the module.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from streams.policy.compiled import (
    PACKAGE,
    engine_module,
    entrypoints,
    fingerprint,
    module_path,
    with_fingerprint,
)
from streams.policy.definitions import Policy
from streams.policy.exceptions import PolicyLoadError

OPA_ENV = "ELAVA_OPA"  # the opa binary to use; else `opa` on PATH, else Go's bin directory


def find_opa(explicit: str | None = None) -> str | None:
    for candidate in (explicit, os.environ.get(OPA_ENV), shutil.which("opa"),
                      str(Path(os.environ.get("GOPATH", Path.home() / "go")) / "bin" / "opa")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def build(directory: Path, policies: list[Policy], opa: str) -> Path:
    """Compile ``policies`` (all of ``directory``) and write the module beside them."""
    names = [p.name for p in policies]
    with tempfile.TemporaryDirectory(prefix="elava-build-") as scratch:
        root = Path(scratch) / "src"
        root.mkdir()
        for policy in policies:
            (root / f"{policy.name}.rego").write_text(policy.source)
        (root / f"{PACKAGE}.rego").write_text(engine_module(names))
        bundle = Path(scratch) / "bundle.tar.gz"
        command = [opa, "build", "-t", "wasm", "-o", str(bundle)]
        command += [arg for entrypoint in entrypoints(names) for arg in ("-e", entrypoint)]
        # Run from the sources' folder: messages then name "conflict.rego:6:1", not a temporary path.
        done = subprocess.run([*command, "."], cwd=root, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise PolicyLoadError(directory, f"opa build failed: {done.stderr.strip() or done.stdout.strip()}")
        module = _policy_wasm(bundle.read_bytes())
    _check_runs(directory, module, policies)
    target = module_path(directory)
    target.write_bytes(with_fingerprint(module, fingerprint(policies)))
    return target


def _check_runs(directory: Path, module: bytes, policies: list[Policy]) -> None:
    """Refuse a module this host cannot run (a builtin it does not provide): regopy runs those."""
    from streams.policy.wasm import OpaWasm, WasmError

    try:
        OpaWasm(module, b"{}")
    except WasmError as exc:
        raise PolicyLoadError(directory, f"{exc}; without a module these policies run on regopy") from exc


def _policy_wasm(bundle: bytes) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(bundle), mode="r:gz") as archive:
        for member in archive.getmembers():
            if member.name.lstrip("/") == "policy.wasm":
                extracted = archive.extractfile(member)
                if extracted is not None:
                    return extracted.read()
    raise PolicyLoadError("opa build", "the bundle holds no policy.wasm")
