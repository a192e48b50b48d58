"""Losses as specifications: closed forms on random data for every reduction, soft and number targets,
finiteness (values and gradients, no warnings) at the extremes, float64 gradchecks (targets included),
and the errors for a wrong target shape or an unknown reduction."""

import warnings

import numpy as np
import pytest

import minigan
from minigan import ShapeError
from minigan.nn import functional as F
from tests.conftest import to_numpy

REDUCTIONS = ["mean", "sum", "none"]


def reduce(values, reduction):
    return {"mean": np.mean, "sum": np.sum, "none": lambda v: v}[reduction](values)


def f64(values, requires_grad=True):
    return minigan.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


def probabilities(*shape, low=0.05, high=0.95, requires_grad=True):
    return minigan.random.uniform(low, high, shape, dtype="float64", requires_grad=requires_grad)


def np_bce(p, t):
    return -(t * np.log(p) + (1 - t) * np.log(1 - p))


def np_bce_logits(z, t):
    return np_bce(1 / (1 + np.exp(-z)), t)


# ------------------------------------------------------------------------------- closed forms


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_matches_closed_form(backend_name, reduction):
    minigan.random.seed(0)
    p, t = probabilities(4, 3), probabilities(4, 3, low=0.0, high=1.0, requires_grad=False)
    loss = F.binary_cross_entropy(p, t, reduction=reduction)
    expected = reduce(np_bce(to_numpy(p.data), to_numpy(t.data)), reduction)
    assert loss.shape == np.shape(expected)
    np.testing.assert_allclose(to_numpy(loss.data), expected, rtol=1e-13)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_gradients_match_closed_form(backend_name, reduction):
    minigan.random.seed(1)
    p, t = probabilities(5, 2), probabilities(5, 2, low=0.0, high=1.0)
    loss = F.binary_cross_entropy(p, t, reduction=reduction)
    upstream = np.ones(p.shape) if reduction == "none" else None
    loss.backward(upstream)
    ps, ts = to_numpy(p.data), to_numpy(t.data)
    scale = 1 / p.size if reduction == "mean" else 1.0
    np.testing.assert_allclose(to_numpy(p.grad), scale * (ps - ts) / (ps * (1 - ps)), rtol=1e-12)
    np.testing.assert_allclose(to_numpy(t.grad), scale * (np.log(1 - ps) - np.log(ps)), rtol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_matches_closed_form(backend_name, reduction):
    minigan.random.seed(2)
    z = minigan.random.normal(0.0, 3.0, (4, 3), dtype="float64")
    t = probabilities(4, 3, low=0.0, high=1.0, requires_grad=False)
    loss = F.binary_cross_entropy_with_logits(z, t, reduction=reduction)
    expected = reduce(np_bce_logits(to_numpy(z.data), to_numpy(t.data)), reduction)
    np.testing.assert_allclose(to_numpy(loss.data), expected, rtol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_equals_bce_of_sigmoid_for_moderate_logits(backend_name, reduction):
    minigan.random.seed(3)
    z = minigan.random.uniform(-6.0, 6.0, (6, 4), dtype="float64", requires_grad=True)
    t = probabilities(6, 4, low=0.0, high=1.0)
    upstream = np.ones(z.shape) if reduction == "none" else None

    direct = F.binary_cross_entropy_with_logits(z, t, reduction=reduction)
    direct.backward(upstream)
    direct_grads = to_numpy(z.grad), to_numpy(t.grad)
    z.grad = t.grad = None
    composed = F.binary_cross_entropy(minigan.sigmoid(z), t, reduction=reduction)
    composed.backward(upstream)

    np.testing.assert_allclose(to_numpy(direct.data), to_numpy(composed.data), rtol=1e-12)
    np.testing.assert_allclose(direct_grads[0], to_numpy(z.grad), rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(direct_grads[1], to_numpy(t.grad), rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_loss_matches_closed_form(backend_name, reduction):
    minigan.random.seed(4)
    x, y = minigan.random.randn(4, 3, dtype="float64"), minigan.random.randn(4, 3, dtype="float64")
    expected = reduce((to_numpy(x.data) - to_numpy(y.data)) ** 2, reduction)
    np.testing.assert_allclose(to_numpy(F.mse_loss(x, y, reduction=reduction).data), expected, rtol=1e-14)


@pytest.mark.parametrize("batch_sizes", [(6, 6), (7, 4)], ids=["same_batch", "different_batches"])
def test_feature_matching_loss_is_squared_distance_of_batch_means(backend_name, batch_sizes):
    minigan.random.seed(5)
    real = minigan.random.randn(batch_sizes[0], 5, dtype="float64")
    fake = minigan.random.normal(1.0, 2.0, (batch_sizes[1], 5), dtype="float64")
    expected = np.sum((to_numpy(real.data).mean(axis=0) - to_numpy(fake.data).mean(axis=0)) ** 2)
    loss = F.feature_matching_loss(real, fake)
    assert loss.shape == ()
    np.testing.assert_allclose(to_numpy(loss.data), expected, rtol=1e-13)


def test_feature_matching_loss_is_zero_for_identical_statistics(backend_name):
    minigan.random.seed(6)
    real = minigan.random.randn(6, 3, dtype="float64")
    assert F.feature_matching_loss(real, real[::-1]).item() == pytest.approx(0.0, abs=1e-28)


# ---------------------------------------------------------------------------------- targets


@pytest.mark.parametrize("loss_fn, prediction", [
    (F.binary_cross_entropy, lambda: probabilities(3, 2)),
    (F.binary_cross_entropy_with_logits, lambda: minigan.random.randn(3, 2, dtype="float64", requires_grad=True)),
    (F.mse_loss, lambda: minigan.random.randn(3, 2, dtype="float64", requires_grad=True)),
], ids=["bce", "bce_with_logits", "mse"])
@pytest.mark.parametrize("target", [0.0, 1.0, 0.9, 1])
def test_number_target_equals_tensor_full_of_it(backend_name, loss_fn, prediction, target):
    minigan.random.seed(7)
    x = prediction()
    with_number = loss_fn(x, target, reduction="none")
    with_tensor = loss_fn(x, minigan.tensor(np.full(x.shape, float(target)), dtype="float64"), reduction="none")
    np.testing.assert_array_equal(to_numpy(with_number.data), to_numpy(with_tensor.data))
    assert with_number.dtype == x.dtype


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_array_and_list_targets_are_accepted(backend_name, dtype):
    p = minigan.tensor([[0.2, 0.7], [0.5, 0.9]], dtype=dtype)
    target = [[0.0, 1.0], [0.9, 0.1]]
    expected = to_numpy(F.binary_cross_entropy(p, minigan.tensor(target, dtype=dtype)).data)
    np.testing.assert_array_equal(to_numpy(F.binary_cross_entropy(p, target).data), expected)
    np.testing.assert_array_equal(to_numpy(F.binary_cross_entropy(p, np.asarray(target)).data), expected)


def test_soft_target_loss_is_minimal_at_the_target_probability(backend_name):
    p = f64([0.8, 0.85, 0.9, 0.95, 0.99], requires_grad=False)
    losses = to_numpy(F.binary_cross_entropy(p, 0.9, reduction="none").data)
    assert np.argmin(losses) == 2
    np.testing.assert_allclose(losses[2], -(0.9 * np.log(0.9) + 0.1 * np.log(0.1)), rtol=1e-14)


# -------------------------------------------------------------------------------- extremes


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("target", [0.0, 1.0, 0.9])
def test_bce_is_finite_at_probabilities_zero_and_one(backend_name, dtype, target):
    p = minigan.tensor([0.0, 1.0, 0.0, 1.0], dtype=dtype, requires_grad=True)
    t = minigan.tensor([target] * 4, dtype=dtype, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = F.binary_cross_entropy(p, t, reduction="none")
        loss.sum().backward()
    for array in (loss.data, p.grad, t.grad):
        assert np.isfinite(to_numpy(array)).all()
    assert loss.dtype == dtype and p.grad.dtype == dtype


@pytest.mark.parametrize("dtype", [
    "float32",
    "float64",
])
def test_bce_clamps_each_log_at_minus_100(backend_name, dtype):
    p = minigan.tensor([0.0, 1.0, 1.0, 0.0], dtype=dtype)
    t = minigan.tensor([1.0, 0.0, 1.0, 0.0], dtype=dtype)
    np.testing.assert_array_equal(to_numpy(F.binary_cross_entropy(p, t, reduction="none").data),
                                  [100.0, 100.0, 0.0, 0.0])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("target", [0.0, 1.0, 0.9])
def test_bce_with_logits_is_finite_and_exact_at_huge_logits(backend_name, dtype, target):
    z = minigan.tensor([-1000.0, 1000.0], dtype=dtype, requires_grad=True)
    t = minigan.tensor([target, target], dtype=dtype, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = F.binary_cross_entropy_with_logits(z, t, reduction="none")
        loss.sum().backward()
    # ℓ(z) → max(z, 0) − z t exactly;  dℓ/dz → σ(z) − t;  dℓ/dt = −z
    np.testing.assert_allclose(to_numpy(loss.data), [1000.0 * target, 1000.0 * (1 - target)], rtol=1e-6)
    np.testing.assert_allclose(to_numpy(z.grad), [-target, 1.0 - target], rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(to_numpy(t.grad), [1000.0, -1000.0])
    assert loss.dtype == dtype and z.grad.dtype == dtype


# -------------------------------------------------------------------------------- gradcheck


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_gradcheck_prediction_and_soft_target(backend_name, reduction):
    minigan.random.seed(8)
    p, t = probabilities(4, 3), probabilities(4, 3, low=0.0, high=1.0)
    assert minigan.gradcheck(lambda p, t: F.binary_cross_entropy(p, t, reduction=reduction), (p, t))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_gradcheck_logits_and_soft_target(backend_name, reduction):
    minigan.random.seed(9)
    z = minigan.random.normal(0.0, 3.0, (4, 3), dtype="float64", requires_grad=True)
    t = probabilities(4, 3, low=0.0, high=1.0)
    assert minigan.gradcheck(lambda z, t: F.binary_cross_entropy_with_logits(z, t, reduction=reduction), (z, t))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_loss_gradcheck_prediction_and_target(backend_name, reduction):
    minigan.random.seed(10)
    x, y = (minigan.random.randn(4, 3, dtype="float64", requires_grad=True) for _ in range(2))
    assert minigan.gradcheck(lambda x, y: F.mse_loss(x, y, reduction=reduction), (x, y))


def test_feature_matching_loss_gradcheck_both_inputs(backend_name):
    minigan.random.seed(11)
    real = minigan.random.randn(5, 4, dtype="float64", requires_grad=True)
    fake = minigan.random.randn(3, 4, dtype="float64", requires_grad=True)
    assert minigan.gradcheck(F.feature_matching_loss, (real, fake))


# ---------------------------------------------------------------------------------- errors


@pytest.mark.parametrize("loss_fn", [F.binary_cross_entropy, F.binary_cross_entropy_with_logits, F.mse_loss],
                         ids=["bce", "bce_with_logits", "mse"])
@pytest.mark.parametrize("target_shape", [(4,), (4, 1), (3, 4), (2, 4, 3)])
def test_wrong_target_shape_raises_shape_error(backend_name, loss_fn, target_shape):
    prediction = probabilities(4, 3)
    with pytest.raises(ShapeError) as info:
        loss_fn(prediction, minigan.tensor(np.full(target_shape, 0.5), dtype="float64"))
    assert str(target_shape) in str(info.value) and "(4, 3)" in str(info.value)


@pytest.mark.parametrize("loss_fn", [F.binary_cross_entropy, F.binary_cross_entropy_with_logits, F.mse_loss],
                         ids=["bce", "bce_with_logits", "mse"])
@pytest.mark.parametrize("reduction", ["avg", "Mean", None])
def test_unknown_reduction_raises_value_error(backend_name, loss_fn, reduction):
    with pytest.raises(ValueError, match="reduction must be one of"):
        loss_fn(probabilities(2, 2), 0.5, reduction=reduction)


def test_feature_matching_loss_feature_mismatch_raises_shape_error(backend_name):
    with pytest.raises(ShapeError, match="feature_matching_loss"):
        F.feature_matching_loss(minigan.random.randn(4, 3), minigan.random.randn(4, 5))
