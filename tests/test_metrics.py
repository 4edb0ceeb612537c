"""AUROC (the original's perf, Q3) against a brute-force pairwise count."""

import numpy as np
import pytest

from den_tf.evaluation.metrics import auroc_per_class, mean_auroc, top1_accuracy


def brute_force(scores, labels):
    pos, neg = scores[labels > 0], scores[labels <= 0]
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return (greater + 0.5 * ties) / (len(pos) * len(neg))


@pytest.mark.parametrize("levels", [3, 20, None])
def test_auroc_matches_pairwise_count_with_ties(levels):
    rng = np.random.RandomState(levels or 7)
    n, k = 400, 10
    scores = rng.rand(n, k).astype(np.float32)
    if levels:  # many ties
        scores = np.floor(scores * levels) / levels
    labels = np.eye(k, dtype=np.float32)[rng.randint(0, k, n)]
    got = auroc_per_class(scores, labels)
    want = [brute_force(scores[:, j], labels[:, j]) for j in range(k)]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    assert mean_auroc(scores, labels) == pytest.approx(np.mean(want), abs=1e-12)


def test_auroc_saturated_scores_tie_as_half():
    # Saturated sigmoid outputs (exactly 1.0) tie; a tied pos/neg pair counts half.
    scores = np.array([[1.0], [1.0], [0.2], [1.0]], np.float32)
    labels = np.array([[1], [0], [0], [1]], np.float32)
    # pairs: (p0,n1) tie .5, (p0,n2) 1, (p3,n1) tie .5, (p3,n2) 1 -> 3/4
    assert auroc_per_class(scores, labels)[0] == pytest.approx(0.75)


def test_auroc_extremes_and_undefined_class():
    s = np.array([0.1, 0.2, 0.8, 0.9])
    y = np.array([0, 0, 1, 1])
    assert auroc_per_class(s, y)[0] == 1.0
    assert auroc_per_class(-s, y)[0] == 0.0
    assert auroc_per_class(np.ones(4), y)[0] == 0.5
    assert np.isnan(auroc_per_class(s, np.zeros(4))[0])


def test_top1_accuracy():
    s = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    y = np.array([[1, 0], [0, 1], [0, 1]])
    assert top1_accuracy(s, y) == pytest.approx(2 / 3)
