"""Conditional-GAN and InfoGAN metrics: label agreement, per-class Fréchet distance, code accuracy.

The digits classifier is trained once for the module with ``MINIGAN_CACHE_DIR`` pointed into a
temporary directory (as in test_metrics_classifier.py), so nothing is written to the real cache.
Real digits stand in for a perfect conditional generator: asked for label k, it draws a real k.
"""

import dataclasses
import itertools

import numpy as np
import pytest

import minigan.metrics
from minigan.metrics import classifier as C
from minigan.metrics.conditional import (CodeAlignment, LabelAgreement, PerClassFrechet, agreement_from_predictions,
                                         code_class_accuracy, label_agreement, per_class_frechet)


@pytest.fixture(scope="module")
def digits():
    from minigan.data import load_dataset

    return load_dataset("digits")


@pytest.fixture(scope="module")
def model(digits, tmp_path_factory):
    """The classifier for all of digits, trained into a private cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MINIGAN_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        return C.get_classifier(digits)


def test_exported_from_minigan_metrics():
    for name in ("label_agreement", "agreement_from_predictions", "LabelAgreement", "per_class_frechet",
                 "PerClassFrechet", "code_class_accuracy", "CodeAlignment"):
        assert name in minigan.metrics.__all__ and hasattr(minigan.metrics, name)


# -------------------------------------------------------------------------------- label agreement
def test_agreement_from_predictions_hand_worked():
    # K = 4. Requested 0 ×3 (2 agree), 1 ×1 (agrees), 3 ×2 (none agree); 2 is never requested.
    requested = np.array([0, 0, 0, 1, 3, 3])
    predicted = np.array([0, 2, 0, 1, 0, 2])
    result = agreement_from_predictions(predicted, requested, 4)
    assert isinstance(result, LabelAgreement)
    assert result.overall == pytest.approx(3 / 6, abs=1e-15)
    np.testing.assert_array_equal(result.counts, [3, 1, 0, 2])
    assert result.per_label.dtype == np.float64
    np.testing.assert_allclose(result.per_label[[0, 1, 3]], [2 / 3, 1.0, 0.0], rtol=0, atol=1e-15)
    assert np.isnan(result.per_label[2])  # never requested: NaN, not 0


def test_agreement_overall_is_the_count_weighted_mean_of_per_label():
    rng = np.random.default_rng(0)
    requested, predicted = rng.integers(0, 5, 1000), rng.integers(0, 5, 1000)
    result = agreement_from_predictions(predicted, requested, 5)
    assert result.overall == pytest.approx(np.sum(result.counts * result.per_label) / 1000, abs=1e-12)
    assert result.overall == pytest.approx(np.mean(predicted == requested), abs=1e-15)


def test_agreement_accepts_whole_valued_float_labels():
    result = agreement_from_predictions(np.array([1.0, 0.0]), np.array([1, 1]), 2)
    assert result.overall == 0.5
    np.testing.assert_array_equal(result.counts, [0, 2])


def test_agreement_result_is_frozen():
    result = agreement_from_predictions([0], [0], 2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.overall = 0.0


def test_label_agreement_on_real_digits_equals_the_classifier_accuracy(model, digits):
    result = label_agreement(digits.x, digits.labels, model)
    accuracy = model.accuracy(digits.x, digits.labels)
    assert accuracy >= 0.95
    assert result.overall == pytest.approx(accuracy, abs=1e-12)
    for k in range(10):
        of_k = digits.labels == k
        assert result.counts[k] == of_k.sum()
        assert result.per_label[k] == pytest.approx(model.accuracy(digits.x[of_k], digits.labels[of_k]), abs=1e-12)


def test_label_agreement_with_shuffled_labels_is_near_chance(model, digits):
    shuffled = np.random.default_rng(0).permutation(digits.labels)
    assert label_agreement(digits.x, shuffled, model).overall == pytest.approx(0.1, abs=0.03)


# ------------------------------------------------------------------------------ per-class Fréchet
def test_per_class_frechet_of_real_classes_against_themselves_is_zero(model, digits):
    result = per_class_frechet(digits.x, digits.labels, model, digits.x, digits.labels)
    assert isinstance(result, PerClassFrechet)
    assert result.per_class.shape == (10,)
    np.testing.assert_allclose(result.per_class, 0.0, atol=1e-6)
    assert result.mean == pytest.approx(0.0, abs=1e-6)


def test_per_class_frechet_of_the_wrong_class_is_large(model, digits):
    # Asked for k, the "generator" draws a real (k − 1): good images, wrong class.
    result = per_class_frechet(digits.x, (digits.labels + 1) % 10, model, digits.x, digits.labels)
    halves = np.random.default_rng(0).permutation(len(digits.x))
    first, second = halves[:900], halves[900:]
    same_class = per_class_frechet(digits.x[first], digits.labels[first], model, digits.x[second],
                                   digits.labels[second])
    assert np.all(result.per_class > 10 * same_class.per_class.max())
    assert result.mean == pytest.approx(result.per_class.mean(), rel=1e-12)


def test_per_class_frechet_skips_classes_never_requested(model, digits):
    chosen = digits.labels < 3
    result = per_class_frechet(digits.x[chosen], digits.labels[chosen], model, digits.x, digits.labels)
    assert np.all(np.isnan(result.per_class[3:]))
    np.testing.assert_allclose(result.per_class[:3], 0.0, atol=1e-6)
    assert np.isfinite(result.mean)


def test_per_class_frechet_matches_frechet_distance_on_the_class_features(model, digits):
    rng = np.random.default_rng(1)
    samples = rng.uniform(size=(60, 64)).astype(np.float32)
    requested = np.repeat([2, 7], 30)
    result = per_class_frechet(samples, requested, model, digits.x, digits.labels)
    features, real = model.outputs(samples)[0], model.outputs(digits.x)[0]
    for k in (2, 7):
        expected = C.frechet_distance(*C.gaussian_fit(features[requested == k]),
                                      *C.gaussian_fit(real[digits.labels == k]))
        assert result.per_class[k] == pytest.approx(expected, rel=1e-12)
    assert result.mean == pytest.approx(np.mean(result.per_class[[2, 7]]), rel=1e-12)


def test_per_class_frechet_needs_two_samples_per_requested_class(model, digits):
    requested = np.r_[np.zeros(5, int), 3]
    with pytest.raises(ValueError, match=r"per_class_frechet: 1 samples requested as class 3"):
        per_class_frechet(digits.x[:6], requested, model, digits.x, digits.labels)


def test_per_class_frechet_needs_two_real_images_per_requested_class(model, digits):
    real_labels = digits.labels.copy()
    real_labels[real_labels == 4] = 5
    real_labels[np.flatnonzero(digits.labels == 4)[0]] = 4  # one real 4 left
    with pytest.raises(ValueError, match=r"per_class_frechet: 1 real images of class 4"):
        per_class_frechet(digits.x, digits.labels, model, digits.x, real_labels)


# ---------------------------------------------------------------------------- InfoGAN code accuracy
def test_code_accuracy_recovers_a_permutation():
    rng = np.random.default_rng(0)
    classes = rng.integers(0, 10, 2000)
    permutation = rng.permutation(10)  # code j stands for class inverse[j]
    codes = permutation[classes]
    result = code_class_accuracy(codes, classes)
    assert isinstance(result, CodeAlignment)
    assert result.accuracy == 1.0
    np.testing.assert_array_equal(result.assignment[permutation], np.arange(10))
    np.testing.assert_array_equal(result.assignment[codes], classes)


def test_code_accuracy_of_random_codes_is_near_chance():
    rng = np.random.default_rng(0)
    result = code_class_accuracy(rng.integers(0, 10, 5000), rng.integers(0, 10, 5000))
    # Chance is 1/10 plus the optimism of picking the best of a noisy confusion matrix (~0.12 here).
    assert 0.1 <= result.accuracy < 0.15


def test_code_accuracy_hand_worked_3x3():
    # C[code, class]:       class 0  1  2
    confusion = np.array([[5, 1, 0],    # code 0
                          [4, 0, 3],    # code 1
                          [0, 6, 2]])   # code 2
    # The 3! assignments code → class score 7, 14, 7, 4, 10, 0; the best is 0→0, 1→2, 2→1: 5 + 3 + 6 = 14.
    codes, classes = _pairs(confusion)
    result = code_class_accuracy(codes, classes)
    np.testing.assert_array_equal(result.confusion, confusion)
    best = max(sum(confusion[j, s[j]] for j in range(3)) for s in itertools.permutations(range(3)))
    assert best == 14
    assert result.accuracy == pytest.approx(14 / 21, abs=1e-15)
    np.testing.assert_array_equal(result.assignment, [0, 2, 1])


def test_code_accuracy_where_greedy_matching_is_wrong():
    # Greedy takes 9 at (0,0) and is left with 1 at (1,1): 10. The optimum pairs (0,1) and (1,0): 16.
    confusion = np.array([[9, 8],
                          [8, 1]])
    result = code_class_accuracy(*_pairs(confusion))
    assert result.accuracy == pytest.approx(16 / 26, abs=1e-15)
    np.testing.assert_array_equal(result.assignment, [1, 0])


def test_code_accuracy_more_codes_than_classes():
    # 4 code values for 2 classes: only two can be matched; the others' samples count as wrong.
    confusion = np.array([[3, 0],
                          [0, 4],
                          [2, 1],
                          [1, 1]])
    result = code_class_accuracy(*_pairs(confusion))
    assert result.confusion.shape == (4, 2)
    assert result.accuracy == pytest.approx(7 / 12, abs=1e-15)
    np.testing.assert_array_equal(result.assignment, [0, 1, -1, -1])


def test_code_accuracy_fewer_codes_than_classes_with_explicit_sizes():
    # 2 code values, 3 classes, class 2 never occurs and code value 1 never occurs.
    codes, classes = np.array([0, 0, 0, 0]), np.array([1, 1, 0, 1])
    result = code_class_accuracy(codes, classes, n_codes=2, n_classes=3)
    assert result.confusion.shape == (2, 3)
    np.testing.assert_array_equal(result.confusion, [[1, 3, 0], [0, 0, 0]])
    assert result.accuracy == pytest.approx(3 / 4, abs=1e-15)
    assert result.assignment[0] == 1 and result.assignment[1] in (0, 2)


def _pairs(confusion):
    """(codes, classes) arrays whose confusion matrix is ``confusion``."""
    codes, classes = [], []
    for (j, k), n in np.ndenumerate(confusion):
        codes += [j] * n
        classes += [k] * n
    return np.array(codes), np.array(classes)


# ---------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("predicted, requested, n_classes, message", [
    ([0, 1], [0, 1, 1], 2, r"requested has 3 labels, expected 2"),
    ([0, 2], [0, 1], 2, r"predicted must lie in \[0, 2\), got values in \[0, 2\]"),
    ([0, 1], [-1, 1], 2, r"requested must lie in \[0, 2\)"),
    ([0, 1], [0.5, 1.0], 2, r"requested must hold integer labels, got dtype float64"),
    ([0, 1], [True, False], 2, r"requested must hold integer labels, got dtype bool"),
    ([], [], 2, r"predicted is empty"),
    ([[0, 1]], [[0, 1]], 2, r"predicted must be a 1-D array of labels \(N,\), got shape \(1, 2\)"),
    ([0, 1], [0, 1], 0, r"n_classes must be a positive integer, got 0"),
])
def test_agreement_from_predictions_rejects(predicted, requested, n_classes, message):
    with pytest.raises(ValueError, match="agreement_from_predictions: " + message):
        agreement_from_predictions(np.array(predicted), np.array(requested), n_classes)


def test_label_agreement_rejects_bad_input(model):
    with pytest.raises(ValueError, match=r"label_agreement: samples must have shape \(N, 64\).*\(5, 63\)"):
        label_agreement(np.zeros((5, 63)), np.zeros(5, int), model)
    with pytest.raises(ValueError, match=r"label_agreement: samples must have shape \(N, 64\).*\(64,\)"):
        label_agreement(np.zeros(64), np.zeros(1, int), model)
    with pytest.raises(ValueError, match="label_agreement: samples is empty"):
        label_agreement(np.zeros((0, 64)), np.zeros(0, int), model)
    with pytest.raises(ValueError, match="label_agreement: requested has 4 labels, expected 5"):
        label_agreement(np.zeros((5, 64)), np.zeros(4, int), model)
    with pytest.raises(ValueError, match=r"label_agreement: requested must lie in \[0, 10\)"):
        label_agreement(np.zeros((2, 64)), np.array([0, 10]), model)
    with pytest.raises(ValueError, match="label_agreement: requested must hold integer labels"):
        label_agreement(np.zeros((2, 64)), np.array([0.0, 1.5]), model)


def test_per_class_frechet_rejects_bad_input(model, digits):
    x, y = digits.x, digits.labels
    with pytest.raises(ValueError, match=r"per_class_frechet: real_x must have shape \(N, 64\).*\(10, 32\)"):
        per_class_frechet(x, y, model, np.zeros((10, 32)), np.zeros(10, int))
    with pytest.raises(ValueError, match=r"per_class_frechet: samples must have shape \(N, 64\)"):
        per_class_frechet(np.zeros((4, 8)), y[:4], model, x, y)
    with pytest.raises(ValueError, match="per_class_frechet: real_labels has 9 labels, expected 10"):
        per_class_frechet(x, y, model, x[:10], y[:9])
    with pytest.raises(ValueError, match=r"per_class_frechet: real_labels must lie in \[0, 10\)"):
        per_class_frechet(x, y, model, x[:2], np.array([3, 12]))
    with pytest.raises(ValueError, match="per_class_frechet: samples is empty"):
        per_class_frechet(np.zeros((0, 64)), np.zeros(0, int), model, x, y)
    with pytest.raises(ValueError, match="per_class_frechet: requested must hold integer labels, got dtype float64"):
        per_class_frechet(x, y + 0.5, model, x, y)


def test_code_class_accuracy_rejects_bad_input():
    with pytest.raises(ValueError, match="code_class_accuracy: classes has 2 labels, expected 3"):
        code_class_accuracy([0, 1, 2], [0, 1])
    with pytest.raises(ValueError, match="code_class_accuracy: codes is empty"):
        code_class_accuracy([], [])
    with pytest.raises(ValueError, match=r"code_class_accuracy: codes must lie in \[0, 2\), got values in \[0, 2\]"):
        code_class_accuracy([0, 2], [0, 1], n_codes=2)
    with pytest.raises(ValueError, match=r"code_class_accuracy: classes must lie in \[0, ∞\)"):
        code_class_accuracy([0, 1], [0, -1])
    with pytest.raises(ValueError, match="code_class_accuracy: codes must hold integer labels, got dtype float64"):
        code_class_accuracy([0.0, 0.25], [0, 1])
    with pytest.raises(ValueError, match="code_class_accuracy: n_classes must be a positive integer"):
        code_class_accuracy([0, 1], [0, 1], n_classes=2.0)
