"""The collector settings of long-running processes and of the embedded driver (elava/heap.py)."""

from __future__ import annotations

import gc

import pytest

from elava.heap import SCAN_THRESHOLDS, THRESHOLDS, settle_heap, tune_collector
from streams.drivers.embedded.pipeline import EmbeddedPipeline
from streams.store.kv import MemoryKV
from streams.store.versioned import VersionStore


@pytest.fixture
def python_defaults():
    """Each test starts from Python's thresholds and leaves the process as it found it."""
    before = gc.get_threshold()
    gc.unfreeze()  # what an earlier test froze must not pass for this one's freeze
    gc.set_threshold(700, 10, 10)
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


def test_tuning_sets_the_thresholds_and_freezes_nothing(python_defaults):
    frozen = gc.get_freeze_count()
    tune_collector()
    assert gc.get_threshold() == THRESHOLDS
    assert gc.get_freeze_count() == frozen


def test_settling_freezes_what_exists_and_tunes(python_defaults):
    kept = [{"n": n} for n in range(100)]
    settle_heap()
    assert gc.get_threshold() == THRESHOLDS
    assert gc.get_freeze_count() >= len(kept)


def test_the_embedded_driver_tunes_the_collector_of_its_process(python_defaults):
    EmbeddedPipeline(VersionStore(MemoryKV()))
    assert gc.get_threshold() == SCAN_THRESHOLDS


def test_a_scan_still_frees_garbage_in_cycles_young(python_defaults):
    """Its young generation is collected as before: a cycle that dies young is freed by the
    next young collection, after ``SCAN_THRESHOLDS[0]`` allocations that live on (a page's)."""
    import weakref

    class Node:
        pass

    EmbeddedPipeline(VersionStore(MemoryKV()))
    gc.collect()
    node = Node()
    node.itself = node
    gone = weakref.ref(node)
    del node
    kept = [[] for _ in range(SCAN_THRESHOLDS[0] + 100)]
    assert gone() is None and len(kept) > SCAN_THRESHOLDS[0]


async def test_the_fleet_stage_settles_its_heap_before_it_runs(monkeypatch):
    from streams.drivers.worker import fleet_stage, policy_stage

    calls = []
    monkeypatch.setattr(fleet_stage, "settle_heap", lambda: calls.append("settled"))

    async def run_until_stopped(run, label, ready_fd, with_parent):
        calls.append(label)

    monkeypatch.setattr(policy_stage, "run_until_stopped", run_until_stopped)
    from elava.settings import load_settings

    await fleet_stage.serve(load_settings(None))
    assert calls == ["settled", "fleet-pattern stage"]
