"""The stages (policies, drift, fleet patterns) ask the broker for batches, not for every record batch
the worker appends: fewer fetch requests for the broker to answer (docs/benchmarks.md)."""

from __future__ import annotations

from typing import Any

import pytest

from elava.kafka.clients import STAGE_FETCH
from elava.settings import Settings
from streams.drivers.worker import committing_stage, drift_stage, fleet_stage, policy_stage


@pytest.fixture
def consumer_options(monkeypatch) -> list[dict[str, Any]]:
    made: list[dict[str, Any]] = []

    def recorded(settings, *topics, **options):
        made.append(options)
        return object()

    monkeypatch.setattr(committing_stage, "new_consumer", recorded)
    monkeypatch.setattr(fleet_stage, "new_consumer", recorded)
    return made


def test_a_stage_fetch_waits_for_a_batch_but_never_long():
    assert STAGE_FETCH["fetch_min_bytes"] >= 64 * 1024
    assert 0 < STAGE_FETCH["fetch_max_wait_ms"] <= 100  # a lone change's decision is late by at most this


SETTINGS = Settings()


@pytest.mark.parametrize(("stage", "group"), [(policy_stage.PolicyStage, SETTINGS.policies.app_id),
                                              (drift_stage.DriftStage, SETTINGS.analyzer.drift.app_id),
                                              (fleet_stage.FleetStage, SETTINGS.analyzer.patterns.fleet_app_id)])
def test_each_stage_consumer_asks_for_batches_in_its_own_group(stage, group, consumer_options):
    stage(SETTINGS).new_consumer()
    [options] = consumer_options
    assert {name: options.get(name) for name in STAGE_FETCH} == STAGE_FETCH
    assert options["group_id"] == group
    assert options["auto_offset_reset"] == "earliest"
