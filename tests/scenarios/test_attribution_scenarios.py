"""The attribution scenario suite must stay accurate and never confidently wrong."""

from tests.scenarios.attribution import ARRIVALS, run_suite, table


async def test_attribution_accuracy_and_no_confident_mistakes():
    outcomes = await run_suite()
    assert {o.scenario.arrival for o in outcomes} == set(ARRIVALS)
    accuracy = sum(o.correct for o in outcomes) / len(outcomes)
    assert accuracy >= 0.95, table(outcomes)
    assert [o for o in outcomes if o.confidently_wrong] == [], table(outcomes)
    # a failed call, or one that only touched the resource, never takes the change from its author
    clear = [o for o in outcomes if o.scenario.arrival in ("competing-failed", "competing-unrelated")]
    assert all(o.correct for o in clear), table(outcomes)
    ambiguous = [o for o in outcomes if o.scenario.arrival == "competing-earlier"]
    assert all(o.confidence <= 0.5 for o in ambiguous), "two consistent actors must share the confidence"
