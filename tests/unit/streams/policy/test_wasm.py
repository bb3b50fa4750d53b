"""The Wasm engine: the module adapter (and the wasmtime internals it relies on), the compiled
module's fingerprint, when each engine is chosen, and `elava policy build`."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
import wasmtime
from typer.testing import CliRunner

from elava.cli.main import app
from elava.settings import PolicySettings
from streams.policy import PolicyEngine, PolicyLoadError
from streams.policy.compiled import (
    fingerprint,
    module_path,
    read_fingerprint,
    stale_reason,
    with_fingerprint,
)
from streams.policy.definitions import load_policy, policy_files
from streams.policy.samples import sample_change, sample_resource
from streams.policy.wasm import OpaWasm, WasmError
from tests.unit.streams.policy.conftest import SHIPPED, build_wasm, opa_or_skip

DENY_ALL = 'deny contains sprintf("%s is denied", [input.resource.id])'


def shipped_module() -> bytes:
    return module_path(SHIPPED).read_bytes()


def change(tags=None, **attributes):
    resource = sample_resource({"type": "ec2.instance", "id": "i-1", "tags": tags or {}, "attributes": attributes})
    return sample_change(resource)


def test_the_wasmtime_internals_the_adapter_uses_are_there():
    # streams/policy/wasm.py calls these private names of wasmtime-py: a new wasmtime that
    # renames them must fail here, not in production.
    from wasmtime import _bindings, _ffi

    assert callable(_bindings._wasmtime_func_call_unchecked)
    assert callable(_ffi.wasmtime_func_new_unchecked) and callable(_ffi.wasmtime_trap_new)
    assert _bindings.wasmtime_func_unchecked_callback_t and _ffi.wasmtime_val_raw_t and _ffi.wasm_trap_t
    assert hasattr(wasmtime.Func, "_from_raw") and "memory_may_move" in dir(wasmtime.Config)


def test_the_shipped_module_evaluates_a_document_and_keeps_its_memory():
    data = orjson.dumps({"params": {"required_tags": {"tags": ["owner"]}},
                         "elava_types": {"required_tags": {"ec2.instance": True}}})
    module = OpaWasm(shipped_module(), data)
    document = {"resource": {"type": "ec2.instance", "id": "i-1", "tags": {}}, "change": {"kind": "modified"},
                "attribution": {}}
    expected = [{"result": [["required_tags", "deny", "ec2.instance i-1 has no owner tag"]]}]
    assert orjson.loads(module.evaluate("elava_engine/result", orjson.dumps(document))) == expected
    size = module.memory.data_len(module.store)
    for _ in range(2000):  # the heap is reset at each evaluation: nothing accumulates
        module.evaluate("elava_engine/result", orjson.dumps(document))
    assert module.memory.data_len(module.store) == size


def test_an_input_larger_than_the_memory_grows_it(tmp_path, write_policy):
    write_policy("big", 'deny contains "big" if count(input.resource.attributes.blob) > 3000000')
    build_wasm(tmp_path)
    engine = PolicyEngine.load(PolicySettings(path=tmp_path, engine="wasm"))
    [decision] = engine.evaluate(change(blob="x" * 4_000_000))
    assert decision.messages == ["big"]


def test_a_module_needing_a_builtin_the_host_lacks_is_refused_and_auto_runs_regopy(tmp_path, write_policy):
    write_policy("clock", 'deny contains "late" if time.now_ns() < 0')
    with pytest.raises(PolicyLoadError, match="does not provide: time.now_ns"):
        build_wasm(tmp_path)
    assert not module_path(tmp_path).exists()
    assert PolicyEngine.load(PolicySettings(path=tmp_path)).evaluator == "regopy"


def test_an_abort_in_the_module_is_an_error_not_a_crash():
    with pytest.raises(WasmError):
        OpaWasm(b"\0asm\x01\0\0\0", b"{}")  # a module without OPA's imports and exports


def test_a_fingerprint_survives_in_a_module_that_still_runs():
    module = with_fingerprint(shipped_module(), "abc")
    assert read_fingerprint(module) == "abc"
    OpaWasm(module, b"{}")  # runtimes skip custom sections


def test_the_committed_module_is_built_from_the_shipped_policies():
    # After an edit of a shipped .rego: `elava policy build --path policies` (needs opa).
    policies = [load_policy(path) for path in policy_files(SHIPPED)]
    assert stale_reason(SHIPPED, policies) is None
    assert read_fingerprint(shipped_module()) == fingerprint(policies)
    assert PolicyEngine.load(PolicySettings(path=SHIPPED)).evaluator == "wasm"


def test_auto_runs_regopy_until_the_policies_are_built_and_after_their_rego_changes(tmp_path, write_policy):
    path = write_policy("d", DENY_ALL)
    assert PolicyEngine.load(PolicySettings(path=tmp_path)).evaluator == "regopy"
    build_wasm(tmp_path)
    assert PolicyEngine.load(PolicySettings(path=tmp_path)).evaluator == "wasm"
    path.write_text(path.read_text().replace("is denied", "is refused"))
    engine = PolicyEngine.load(PolicySettings(path=tmp_path))
    assert engine.evaluator == "regopy"
    assert engine.evaluate(change())[0].messages == ["i-1 is refused"]  # the Rego as it is now


def test_engine_wasm_refuses_to_start_without_a_current_module(tmp_path, write_policy):
    write_policy("d", DENY_ALL)
    with pytest.raises(PolicyLoadError, match="elava policy build") as caught:
        PolicyEngine.load(PolicySettings(path=tmp_path, engine="wasm"))
    assert "elava-policies.wasm does not exist" in str(caught.value)


def test_a_definition_edit_needs_no_rebuild(tmp_path, write_policy):
    write_policy("tags", 'deny contains t if { some t in data.params.tags.required; not input.resource.tags[t] }',
                 "params: {required: [owner]}\nresource_types: [ec2.instance]\n")
    build_wasm(tmp_path)
    (tmp_path / "tags.yaml").write_text("params: {required: [team]}\nresource_types: [ec2.instance, ec2.volume]\n")
    engine = PolicyEngine.load(PolicySettings(path=tmp_path, engine="wasm"))
    assert engine.evaluate(change(tags={"owner": "a"}))[0].messages == ["team"]
    volume = sample_change(sample_resource({"type": "ec2.volume", "id": "vol-1"}))
    assert engine.evaluate(volume)[0].messages == ["team"]


def test_policy_build_compiles_a_directory_and_list_shows_the_engine(tmp_path, write_policy, monkeypatch):
    monkeypatch.setenv("ELAVA_OPA", opa_or_skip())
    write_policy("d", DENY_ALL)
    runner = CliRunner()
    built = runner.invoke(app, ["policy", "build", "--path", str(tmp_path)])
    assert built.exit_code == 0, built.output
    assert module_path(tmp_path).exists() and "compiled 1 policies" in built.output
    listed = runner.invoke(app, ["policy", "list", "--path", str(tmp_path)])
    assert "engine: wasm" in listed.output


def test_policy_build_names_a_compile_error(tmp_path, write_policy, monkeypatch):
    monkeypatch.setenv("ELAVA_OPA", opa_or_skip())
    write_policy("typo", 'deny contains msg if { msg := sprintnf("%s", ["x"]) }')
    built = CliRunner().invoke(app, ["policy", "build", "--path", str(tmp_path)])
    assert built.exit_code == 2
    assert "typo.rego:5: rego_type_error: undefined function sprintnf" in built.output.replace("\n", "")
    assert not Path(module_path(tmp_path)).exists()
