"""The fitted maps from raw score and heuristic rule to confidence."""

from streams.attribution.calibration import CLOUDTRAIL_POINTS, HEURISTIC_RULES, cloudtrail_confidence
from streams.attribution.heuristics import guess_from_tags

POINTS = ((0.0, 0.0), (0.5, 0.6), (0.6, 1.0), (1.0, 1.0))


def test_linear_between_the_fitted_points_and_flat_beyond_them():
    assert cloudtrail_confidence(0.5, POINTS) == 0.6
    assert cloudtrail_confidence(0.55, POINTS) == 0.8
    assert cloudtrail_confidence(0.25, POINTS) == 0.3
    assert cloudtrail_confidence(1.0, POINTS) == 1.0
    assert cloudtrail_confidence(-1.0, POINTS) == 0.0 and cloudtrail_confidence(2.0, POINTS) == 1.0


def test_the_shipped_fit_never_decreases_and_stays_a_probability():
    xs = [x / 200 for x in range(201)]
    values = [cloudtrail_confidence(x) for x in xs]
    assert values == sorted(values) and all(0.0 <= v <= 1.0 for v in values)
    assert [x for x, _ in CLOUDTRAIL_POINTS] == sorted(x for x, _ in CLOUDTRAIL_POINTS)


def test_every_heuristic_rule_has_a_measured_confidence():
    tags = [{"aws:cloudformation:stack-name": "s"}, {"aws:autoscaling:groupName": "g"}, {"eks:cluster-name": "c"},
            {"kubernetes.io/cluster/c": "owned"}, {"ManagedBy": "terraform"}, {"created-by": "alice"}]
    rules = {guess_from_tags(t).rule for t in tags}
    assert rules == set(HEURISTIC_RULES)
    assert all(guess_from_tags(t).confidence == HEURISTIC_RULES[guess_from_tags(t).rule] for t in tags)
