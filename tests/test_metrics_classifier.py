"""The digits classifier (trained with minigan), its cache, and the image metrics built on it.

Every test runs with ``MINIGAN_CACHE_DIR`` pointed into a temporary directory, so nothing is ever
written to the real cache. The real classifier is trained twice in this module (once on a training
split for the held-out accuracy, once on all of digits for the metrics); the rest reuse it.
"""

import dataclasses
import math
import os
import sys

import numpy as np
import pytest

import minigan
from minigan.errors import ShapeError
from minigan.metrics import classifier as C


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """A fresh, empty cache directory for each test."""
    directory = tmp_path / "cache"
    monkeypatch.setenv("MINIGAN_CACHE_DIR", str(directory))
    return directory


@pytest.fixture(scope="module")
def digits():
    from minigan.data import load_dataset

    return load_dataset("digits")


@pytest.fixture(scope="module")
def trained(digits, tmp_path_factory):
    """(classifier for all of digits, the cache directory it was saved in)."""
    directory = tmp_path_factory.mktemp("module-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MINIGAN_CACHE_DIR", str(directory))
        return C.get_classifier(digits), directory


def _weights(model):
    return {k: np.array(v) for k, v in model.state_dict().items()}


def _assert_same_weights(a, b):
    wa, wb = _weights(a), _weights(b)
    assert wa.keys() == wb.keys()
    for k in wa:
        np.testing.assert_array_equal(wa[k], wb[k], err_msg=k)


# ------------------------------------------------------------------------------------ classifier
def test_held_out_accuracy_and_global_random_stream_untouched(digits):
    x, y = digits.x, digits.labels
    order = np.random.default_rng(123).permutation(len(x))
    train, test = order[:1400], order[1400:]
    before = minigan.random.get_state()
    model = C.train_classifier(x[train], y[train])
    assert minigan.random.get_state() == before  # training must not shift a GAN's random stream
    assert model.n_classes == 10 and model.in_features == x.shape[1]
    assert model.accuracy(x[test], y[test]) >= 0.95


def test_training_is_deterministic_for_a_seed(digits):
    x, y = digits.x[:300], digits.labels[:300]
    a = C.train_classifier(x, y, epochs=1, seed=7)
    b = C.train_classifier(x, y, epochs=1, seed=7)
    _assert_same_weights(a, b)
    c = C.train_classifier(x, y, epochs=1, seed=8)
    assert not np.array_equal(_weights(a)["head.weight"], _weights(c)["head.weight"])


def test_the_package_never_imports_sklearn():
    assert "sklearn" not in sys.modules


# ------------------------------------------------------------------------------------------ cache
def test_cache_dir_resolution(monkeypatch, tmp_path):
    monkeypatch.setenv("MINIGAN_CACHE_DIR", str(tmp_path / "explicit"))
    assert C.cache_dir() == str(tmp_path / "explicit")
    monkeypatch.delenv("MINIGAN_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert C.cache_dir() == str(tmp_path / "xdg" / "minigan")
    monkeypatch.setenv("XDG_CACHE_HOME", "")  # empty counts as unset
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert C.cache_dir() == str(tmp_path / "home" / ".cache" / "minigan")


def test_cache_hit_loads_identical_weights_without_training(trained, digits, monkeypatch):
    model, directory = trained
    monkeypatch.setenv("MINIGAN_CACHE_DIR", str(directory))
    path = C.classifier_cache_path(digits.x, digits.labels)
    assert path.startswith(str(directory)) and os.path.exists(path)

    def no_training(*args, **kwargs):
        raise AssertionError("get_classifier retrained although the cache holds the classifier")

    monkeypatch.setattr(C, "train_classifier", no_training)
    _assert_same_weights(C.get_classifier(digits), model)


def test_each_data_set_gets_its_own_cache_file(digits, private_cache):
    full = C.classifier_cache_path(digits.x, digits.labels)
    subset = C.classifier_cache_path(digits.x[:500], digits.labels[:500])
    relabelled = C.classifier_cache_path(digits.x, (digits.labels + 1) % 10)
    assert len({full, subset, relabelled}) == 3
    assert all(p.startswith(str(private_cache)) for p in (full, subset, relabelled))


def test_corrupt_cache_file_is_ignored_and_retrained(digits, monkeypatch):
    x, y = digits.x[:400], digits.labels[:400]
    path = C.classifier_cache_path(x, y)
    os.makedirs(os.path.dirname(path))
    with open(path, "wb") as f:
        f.write(b"not an npz file")

    real_train, calls = C.train_classifier, []

    def quick_train(*args, **kwargs):  # the real training, shortened: this test is about the cache
        calls.append(1)
        return real_train(*args, **{**kwargs, "epochs": 1})

    monkeypatch.setattr(C, "train_classifier", quick_train)
    with pytest.warns(RuntimeWarning, match="unreadable classifier cache"):
        retrained = C.get_classifier((x, y))
    assert calls == [1]
    _assert_same_weights(C.get_classifier((x, y)), retrained)  # the bad file was replaced
    assert calls == [1]
    assert not [name for name in os.listdir(os.path.dirname(path)) if name.startswith(".tmp-")]


def test_cache_file_of_the_wrong_shape_is_retrained(digits, monkeypatch):
    x, y = digits.x[:400], digits.labels[:400]
    path = C.classifier_cache_path(x, y)
    C.Classifier(64, 10, hidden=(8,)).save(path)  # readable, but not this network
    monkeypatch.setattr(C, "train_classifier", lambda *a, **k: C.Classifier(64, 10))
    with pytest.warns(RuntimeWarning, match="retraining"):
        C.get_classifier((x, y))


def test_unlabelled_data_set_is_refused():
    with pytest.raises(ValueError, match="no labels"):
        C.get_classifier(type("Unlabelled", (), {"x": np.zeros((4, 64)), "labels": None})())


# ---------------------------------------------------------------------------------------- metrics
def test_real_digits_score_as_perfect(trained, digits):
    model, _ = trained
    result = C.image_metrics(digits.x, model, real_x=digits.x, real_labels=digits.labels)
    assert result.class_coverage == 10
    assert result.class_histogram.shape == (10,)
    assert result.class_histogram.sum() == pytest.approx(1.0)
    assert 0.0 <= result.kl_to_uniform < 0.01
    assert 8.5 < result.inception_score <= 10.0
    assert result.frechet_distance == pytest.approx(0.0, abs=1e-6)
    assert result.accuracy >= 0.95
    assert set(dataclasses.asdict(result)) >= {"class_coverage", "class_histogram", "kl_to_uniform",
                                                "inception_score", "frechet_distance", "accuracy"}


def test_frechet_distance_separates_real_from_noise(trained, digits):
    model, _ = trained
    order = np.random.default_rng(0).permutation(len(digits.x))
    first, second = digits.x[order[:900]], digits.x[order[900:]]
    noise = np.random.default_rng(1).uniform(size=(900, digits.x.shape[1])).astype(np.float32)
    real_vs_real = C.image_metrics(first, model, real_x=second).frechet_distance
    noise_vs_real = C.image_metrics(noise, model, real_x=second)
    assert noise_vs_real.frechet_distance > 20 * real_vs_real
    assert noise_vs_real.inception_score < 5


def test_one_class_samples(trained, digits):
    model, _ = trained
    threes = digits.x[model.predict(digits.x) == 3]
    result = C.image_metrics(threes, model)
    assert result.class_coverage == 1
    assert result.kl_to_uniform == pytest.approx(math.log(10))
    assert result.class_histogram[3] == 1.0
    assert 1.0 <= result.inception_score < 1.5
    assert result.frechet_distance is None and result.accuracy is None


def test_image_metrics_checks_its_input(trained):
    model, _ = trained
    with pytest.raises(ShapeError, match=r"\(N, 64\)"):
        C.image_metrics(np.zeros((5, 63)), model)
    with pytest.raises(ShapeError, match="no samples"):
        C.image_metrics(np.zeros((0, 64)), model)
    with pytest.raises(ValueError, match="real_labels needs real_x"):
        C.image_metrics(np.zeros((5, 64)), model, real_labels=np.zeros(5, int))


def test_class_coverage_counts_ten_percent_of_the_uniform_share():
    # K = 4: the uniform share is 1/4, so a class needs a fraction ≥ 0.025 of the labels.
    assert C.class_coverage([0.025, 0.0249, 0.5, 0.4501]) == 3
    assert C.class_coverage(C.class_histogram(np.r_[np.zeros(99, int), 1], 10)) == 2  # 1 of 100 ≥ 0.01
    np.testing.assert_allclose(C.class_histogram([0, 0, 2], 4), [2 / 3, 0, 1 / 3, 0])


def test_inception_score_bounds():
    k = 10
    confident_balanced = np.log(np.full((k, k), 1e-12) + np.eye(k))
    assert C.inception_score(confident_balanced) == pytest.approx(k, rel=1e-6)
    uniform = np.log(np.full((5, k), 1 / k))
    assert C.inception_score(uniform) == pytest.approx(1.0)


# ------------------------------------------------------------------------------- Fréchet distance
def test_frechet_distance_one_dimensional_closed_form():
    # For 1-D Gaussians: d² = (μ₁ − μ₂)² + (σ₁ − σ₂)².
    assert C.frechet_distance([1.0], [[4.0]], [-2.0], [[9.0]]) == pytest.approx(9.0 + 1.0)
    assert C.frechet_distance(0.0, 1.0, 0.0, 1.0) == 0.0


def test_frechet_distance_diagonal_closed_form():
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, -1.0])
    var1, var2 = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(var1) - np.sqrt(var2)) ** 2)
    assert C.frechet_distance(mu1, np.diag(var1), mu2, np.diag(var2)) == pytest.approx(expected)


def test_frechet_distance_of_a_gaussian_to_itself_is_zero_and_symmetric():
    a = np.random.default_rng(0).normal(size=(6, 6))
    sigma = a @ a.T + 0.1 * np.eye(6)
    mu = np.arange(6.0)
    assert C.frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0.0, abs=1e-8)
    b = np.random.default_rng(1).normal(size=(6, 6))
    other = b @ b.T
    assert C.frechet_distance(mu, sigma, 0 * mu, other) == pytest.approx(C.frechet_distance(0 * mu, other, mu, sigma))


def test_frechet_distance_with_singular_covariances_is_finite_and_silent(recwarn):
    rng = np.random.default_rng(0)
    few = rng.normal(size=(5, 20))  # 5 samples in 20 dimensions: covariance of rank 4
    shifted = rng.normal(size=(7, 20)) + 1.0
    d = C.frechet_distance(*C.gaussian_fit(few), *C.gaussian_fit(shifted))
    assert np.isfinite(d) and d > 20.0 * 0.5  # the means alone differ by about 1 per coordinate
    zero = C.frechet_distance(np.zeros(3), np.zeros((3, 3)), np.ones(3), np.eye(3))
    assert zero == pytest.approx(3.0 + 3.0)  # ‖μ₁ − μ₂‖² + Tr Σ₂ when Σ₁ = 0
    assert not recwarn.list


def test_frechet_distance_checks_shapes():
    with pytest.raises(ShapeError, match="covariances"):
        C.frechet_distance(np.zeros(2), np.eye(3), np.zeros(2), np.eye(2))
