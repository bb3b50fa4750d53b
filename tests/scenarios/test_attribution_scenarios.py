"""The attribution scenario suite: never confidently wrong, co-authors named, and the shipped
confidences calibrated (checked on held-out scenarios) and current."""

import pytest

from streams.attribution import calibration
from tests.scenarios.attribution import run_suite, table
from tests.scenarios.calibrate import brier, buckets, claims_of, cross_validated, fit, hand_set, report
from tests.scenarios.families import ARRIVALS, PATTERNS


@pytest.fixture(scope="module")
async def outcomes():
    return await run_suite()


async def test_never_confidently_wrong_and_clear_competitors_never_win(outcomes):
    assert {o.scenario.arrival for o in outcomes if o.scenario.family == "grid"} == set(ARRIVALS)
    assert [o.scenario.name for o in outcomes if o.confidently_wrong] == [], table(outcomes)
    # A failed call, a call made for another part, or a tag call never takes a change from its author.
    clear = [o for o in outcomes if o.scenario.arrival in ("competing-failed", "competing-unrelated", "competing-tag")]
    assert [o.scenario.name for o in clear if not o.right or o.confidence < 0.9] == [], table(outcomes)
    # With every record, everyone is right: what is not is a tie, or a heuristic without a record.
    assert all(o.right for o in outcomes if o.scenario.arrival in ("on-time", "late", "duplicated")), table(outcomes)


async def test_console_people_are_humans(outcomes):
    console = [c for o in outcomes for c in o.claims if c.actor.name in ("carol", "bob@example.com")]
    assert console and {(c.actor.kind, c.actor.via) for c in console} == {("human", "console")}


async def test_every_co_author_of_different_parts_is_named_with_a_share(outcomes):
    co = [o for o in outcomes if o.scenario.family == "co-authors"]
    assert {o.scenario.action for o in co} == set(PATTERNS)
    parts_apart = [o for o in co if o.scenario.action != "untag+tag"]
    assert [o.scenario.name for o in parts_apart if not o.all_named] == [], table(outcomes)
    assert all(abs(sum(c.share for c in o.claims) - 1) < 0.01 for o in parts_apart)
    assert all(len(o.claims) == len(o.scenario.actors) for o in parts_apart)


async def test_held_out_confidences_match_their_accuracy(outcomes):
    judged = cross_validated(claims_of(outcomes))
    for bucket, count, mean, accuracy in buckets(judged):
        if count >= 20:
            assert abs(mean - accuracy) <= 0.1, (bucket, report(outcomes))
    before = [(claim, hand_set(claim)) for claim, _ in judged]
    assert brier(judged) < brier(before), report(outcomes)


async def test_the_shipped_fit_is_current(outcomes):
    refit = fit(claims_of(outcomes))
    for raw in [x / 100 for x in range(101)]:
        shipped = calibration.cloudtrail_confidence(raw)
        assert abs(shipped - calibration.cloudtrail_confidence(raw, refit.points)) <= 0.05, (
            f"raw {raw}: stale; run python3 -m tests.scenarios.calibrate --write")
    for rule, value in refit.rules.items():
        assert abs(calibration.HEURISTIC_RULES[rule] - value) <= 0.05, "stale: python3 -m tests.scenarios.calibrate --write"
