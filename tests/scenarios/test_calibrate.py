"""The fit itself, on made-up claims (no moto): isotonic pooling, shrunk heuristic rules, folds."""

from tests.scenarios.attribution import Claim
from tests.scenarios.calibrate import HAND_SET, PRIOR, brier, buckets, isotonic


def test_isotonic_pools_scores_until_accuracy_never_decreases():
    samples = [(0.5, True), (0.5, False), (0.6, False), (0.6, False), (0.6, True), (0.9, True), (1.0, True)]
    # 0.5 is right 1/2, 0.6 only 1/3: pooled into one block of 2/5; then 0.9 and 1.0 at 1.
    assert isotonic(samples) == ((0.0, 0.0), (0.5, 0.4), (0.6, 0.4), (0.9, 1.0), (1.0, 1.0))


def test_a_single_score_is_one_point():
    assert isotonic([(1.0, True), (1.0, True), (1.0, False)]) == ((0.0, 0.0), (1.0, 0.667))


def test_brier_and_buckets(monkeypatch):
    monkeypatch.setattr(Claim, "correct", property(lambda self: self.share == 1.0))
    right, wrong = Claim(None, None, "cloudtrail", 1.0, 1.0, 1.0), Claim(None, None, "cloudtrail", 1.0, 0.5, 1.0)
    judged = [(right, 0.9), (wrong, 0.9), (right, 0.2)]
    assert round(brier(judged), 4) == round((0.01 + 0.81 + 0.64) / 3, 4)
    assert buckets(judged) == [("0.2–0.3", 1, 0.2, 1.0), ("0.9–1.0", 2, 0.9, 0.5)]


def test_every_rule_has_its_hand_set_value_to_compare_with():
    from streams.attribution.calibration import HEURISTIC_RULES

    assert set(HAND_SET) == set(HEURISTIC_RULES) and PRIOR > 0
