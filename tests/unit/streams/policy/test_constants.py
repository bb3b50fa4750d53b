"""Policies read Elava's shared constants as data.elava.constants, on every path."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from elava.catalogue.constants import ADMIN_PORTS, WORLD_CIDRS
from streams.policy import PolicyLoadError
from streams.policy.samples import sample_change, sample_resource

AT = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
NAMES_THE_CONSTANTS = ('deny contains sprintf("world %s", [c]) if { some c in data.elava.constants.world_cidrs }\n'
                       'actions contains {"type": "notify", "params": {"ports": data.elava.constants.admin_ports}}')


def _change():
    return sample_change(sample_resource({"type": "ec2.security-group", "id": "sg-1"}), observed_at=AT)


def test_a_policy_sees_the_constants_when_a_change_is_evaluated(write_policy, engine_for):
    write_policy("sees", NAMES_THE_CONSTANTS)
    decision, _, request = engine_for().evaluate(_change())
    assert decision.messages == sorted(f"world {cidr}" for cidr in WORLD_CIDRS)
    assert request.params == {"ports": sorted(ADMIN_PORTS)}


def test_the_executor_re_evaluation_sees_the_same_constants(write_policy, engine_for):
    write_policy("sees", NAMES_THE_CONSTANTS)
    engine = engine_for()
    *_, request = engine.evaluate(_change())
    [planned] = engine.actions_now("sees", _change().change.resource, request.context)
    assert planned.params == {"ports": sorted(ADMIN_PORTS)}


def test_constants_is_no_policy_name(write_policy, engine_for):
    write_policy("constants", 'deny contains "x" if true')
    with pytest.raises(PolicyLoadError, match="reserved"):
        engine_for()
