"""Layers as specifications: each layer computes what its docstring says (checked against NumPy), and
its input and parameter gradients pass a float64 gradcheck in training and in eval mode. The
functional forms are checked the same way. Bad input shapes raise ShapeError naming the layer.

BatchNorm1d has its own file, tests/test_batchnorm.py.
"""

import math
import warnings

import numpy as np
import pytest

import minigan
from minigan import ShapeError
from minigan.nn import (Dense, Dropout, InstanceNorm1d, LayerNorm, LeakyReLU, MinibatchDiscrimination, ReLU,
                        Sequential, Sigmoid, Tanh, BatchNorm1d)
from minigan.nn import functional as F
from tests.conftest import to_numpy

MODES = ["train", "eval"]
INITS = ["uniform", "glorot", "normal"]


# ------------------------------------------------------------------------------------ helpers


def randn(*shape, requires_grad=True):
    """A float64 tensor of standard normal draws on the current backend."""
    return minigan.random.randn(*shape, dtype="float64", requires_grad=requires_grad)


def away_from_zero(*shape, margin=0.1):
    """Float64 values with |x| in [margin, 2]: no ReLU kink within reach of finite differences."""
    gen = minigan.random.generator()
    values = gen.uniform(margin, 2.0, size=shape) * gen.choice([-1.0, 1.0], size=shape)
    return minigan.tensor(values, dtype="float64", requires_grad=True)


def set_mode(module, mode):
    return module.train() if mode == "train" else module.eval()


def randomize_parameters(module, low=-1.0, high=1.0):
    """Replace every parameter's values (in place) by uniform draws, so no check passes by symmetry."""
    for p in module.parameters():
        p.data[...] = minigan.random.uniform(low, high, p.shape, dtype=p.dtype).data


def seeded(fn, seed=1):
    """``fn`` made deterministic for gradcheck: the generator is reseeded before every call."""
    def wrapped(*args):
        minigan.random.seed(seed)
        return fn(*args)
    return wrapped


def check_module(module, x, **kwargs):
    """Gradcheck ``module`` with respect to its input and every parameter."""
    params = module.parameters()
    assert all(p.dtype == np.float64 for p in params)
    return minigan.gradcheck(lambda x, *p: module(x), (x, *params), **kwargs)


def np_normalize(x, axes, eps):
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps)


# -------------------------------------------------------------------------------------- Dense


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("init", INITS)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
def test_dense_gradcheck_input_and_parameters(backend_name, bias, init, mode):
    minigan.random.seed(0)
    layer = set_mode(Dense(4, 3, bias=bias, init=init, dtype="float64"), mode)
    assert len(layer.parameters()) == (2 if bias else 1)
    assert check_module(layer, randn(5, 4))


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
def test_dense_forward_is_x_at_weight_plus_bias(backend_name, bias):
    minigan.random.seed(1)
    layer = Dense(4, 3, bias=bias, dtype="float64")
    x = randn(6, 4, requires_grad=False)
    expected = to_numpy(x.data) @ to_numpy(layer.weight.data)
    if bias:
        expected = expected + to_numpy(layer.bias.data)
    np.testing.assert_allclose(to_numpy(layer(x).data), expected, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("init", INITS)
def test_dense_init_schemes_follow_their_distributions(backend_name, init):
    minigan.random.seed(2)
    fan_in, fan_out = 60, 40
    layer = Dense(fan_in, fan_out, init=init, dtype="float64")
    weight, bias = to_numpy(layer.weight.data), to_numpy(layer.bias.data)
    assert weight.shape == (fan_in, fan_out) and bias.shape == (fan_out,)
    if init == "uniform":
        bound = 1 / math.sqrt(fan_in)
        assert np.abs(weight).max() <= bound and np.abs(bias).max() <= bound
        assert np.abs(weight).max() > 0.9 * bound
    elif init == "glorot":
        bound = math.sqrt(6 / (fan_in + fan_out))
        assert np.abs(weight).max() <= bound and np.abs(weight).max() > 0.9 * bound
        assert not bias.any()
    else:
        assert abs(weight.std() - 0.02) < 0.002 and abs(weight.mean()) < 0.002
        assert not bias.any()


def test_dense_parameters_take_the_requested_dtype(backend_name):
    layer = Dense(3, 2, dtype="float64")
    assert layer.weight.dtype == np.float64 and layer.bias.dtype == np.float64
    assert Dense(3, 2).weight.dtype == minigan.get_default_dtype()
    assert layer.weight.backend == backend_name


def test_dense_unknown_init_scheme_raises_value_error(backend_name):
    with pytest.raises(ValueError, match="bogus"):
        Dense(3, 2, init="bogus")


@pytest.mark.parametrize("shape", [(2, 5), (2, 3), (4,), (2, 4, 1)])
def test_dense_wrong_input_shape_raises_shape_error_naming_layer_and_sizes(backend_name, shape):
    layer = Dense(4, 3)
    with pytest.raises(ShapeError) as info:
        layer(minigan.random.randn(*shape))
    message = str(info.value)
    assert "Dense(4, 3)" in message
    assert "(N, 4)" in message and str(tuple(shape)) in message


# -------------------------------------------------------------------------------- activations


ACTIVATIONS = {
    "leaky_relu_0.2": (lambda: LeakyReLU(), lambda x: np.where(x > 0, x, 0.2 * x)),
    "leaky_relu_0.01": (lambda: LeakyReLU(0.01), lambda x: np.where(x > 0, x, 0.01 * x)),
    "relu": (ReLU, lambda x: np.maximum(x, 0)),
    "tanh": (Tanh, np.tanh),
    "sigmoid": (Sigmoid, lambda x: 1 / (1 + np.exp(-x))),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_gradcheck_away_from_kinks(backend_name, name, mode):
    minigan.random.seed(3)
    layer = set_mode(ACTIVATIONS[name][0](), mode)
    assert check_module(layer, away_from_zero(4, 5))


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_forward_matches_numpy(backend_name, name):
    minigan.random.seed(4)
    make, reference = ACTIVATIONS[name]
    x = randn(3, 7, requires_grad=False)
    np.testing.assert_allclose(to_numpy(make()(x).data), reference(to_numpy(x.data)), rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("make, slope", [(LeakyReLU, 0.2), (ReLU, 0.0)], ids=["leaky_relu", "relu"])
def test_relu_family_takes_the_negative_slope_at_exactly_zero(backend_name, make, slope):
    x = minigan.tensor([0.0, 1.0, -1.0], dtype="float64", requires_grad=True)
    make()(x).sum().backward()
    np.testing.assert_array_equal(to_numpy(x.grad), [slope, 1.0, slope])


def test_sigmoid_is_finite_and_saturates_without_warnings_at_huge_inputs(backend_name):
    x = minigan.tensor([-1000.0, 1000.0], dtype="float32", requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = Sigmoid()(x)
        y.sum().backward()
    np.testing.assert_array_equal(to_numpy(y.data), [0.0, 1.0])
    np.testing.assert_array_equal(to_numpy(x.grad), [0.0, 0.0])


# ------------------------------------------------------------------------------------ Dropout


@pytest.mark.parametrize("mode", MODES)
def test_dropout_gradcheck_with_mask_seeded_inside_fn(backend_name, mode):
    minigan.random.seed(5)
    layer = set_mode(Dropout(0.4), mode)
    x = randn(6, 5)
    fn = seeded(lambda x: layer(x))
    out = to_numpy(fn(x).data)
    if mode == "train":  # the check is not vacuous: some elements are dropped, the rest scaled
        dropped = out == 0
        assert dropped.any() and not dropped.all()
        np.testing.assert_allclose(out[~dropped], to_numpy(x.data)[~dropped] / 0.6, rtol=1e-15)
    else:
        np.testing.assert_array_equal(out, to_numpy(x.data))
    assert minigan.gradcheck(fn, (x,))


def test_dropout_in_eval_mode_is_the_identity(backend_name):
    x = randn(4, 3)
    assert Dropout(0.5).eval()(x) is x


def test_dropout_keeps_about_one_minus_p_and_preserves_the_mean(backend_name):
    minigan.random.seed(6)
    x = minigan.tensor(np.ones((200, 100)), dtype="float64")
    out = to_numpy(Dropout(0.3)(x).data)
    kept = (out != 0).mean()
    assert abs(kept - 0.7) < 0.01
    assert abs(out.mean() - 1.0) < 0.02


def test_dropout_same_seed_gives_same_mask(backend_name):
    x = randn(5, 5, requires_grad=False)
    minigan.random.seed(7)
    first = to_numpy(Dropout(0.5)(x).data)
    minigan.random.seed(7)
    second = to_numpy(Dropout(0.5)(x).data)
    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5])
def test_dropout_probability_outside_0_1_raises_value_error(backend_name, p):
    with pytest.raises(ValueError, match="p must be in"):
        Dropout(p)
    with pytest.raises(ValueError, match="p must be in"):
        F.dropout(randn(2, 2), p)


# ---------------------------------------------------------------------------------- LayerNorm


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape, normalized", [((5, 6), 6), ((3, 4, 5), (4, 5))], ids=["2d", "3d"])
def test_layer_norm_gradcheck_input_and_parameters(backend_name, shape, normalized, mode):
    minigan.random.seed(8)
    layer = set_mode(LayerNorm(normalized, dtype="float64"), mode)
    randomize_parameters(layer, 0.5, 1.5)
    assert check_module(layer, randn(*shape))


@pytest.mark.parametrize("shape, normalized", [((5, 6), 6), ((3, 4, 5), (4, 5))], ids=["2d", "3d"])
def test_layer_norm_forward_matches_numpy(backend_name, shape, normalized):
    minigan.random.seed(9)
    layer = LayerNorm(normalized, dtype="float64")
    randomize_parameters(layer)
    x = randn(*shape, requires_grad=False)
    axes = tuple(range(len(shape) - (1 if isinstance(normalized, int) else len(normalized)), len(shape)))
    expected = np_normalize(to_numpy(x.data), axes, 1e-5) * to_numpy(layer.weight.data) + to_numpy(layer.bias.data)
    np.testing.assert_allclose(to_numpy(layer(x).data), expected, rtol=1e-12, atol=1e-13)


def test_layer_norm_without_affine_has_no_parameters(backend_name):
    layer = LayerNorm(4, elementwise_affine=False, dtype="float64")
    assert layer.parameters() == []
    assert minigan.gradcheck(layer, (randn(3, 4),))


def test_layer_norm_wrong_trailing_shape_raises_shape_error(backend_name):
    with pytest.raises(ShapeError, match="normalized_shape"):
        LayerNorm(4)(minigan.random.randn(3, 5))


# ------------------------------------------------------------------------------ InstanceNorm1d


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("affine", [True, False], ids=["affine", "plain"])
@pytest.mark.parametrize("shape", [(4, 5), (3, 4, 6)], ids=["2d", "3d"])
def test_instance_norm_gradcheck_input_and_parameters(backend_name, shape, affine, mode):
    minigan.random.seed(10)
    layer = set_mode(InstanceNorm1d(shape[1], affine=affine, dtype="float64"), mode)
    randomize_parameters(layer, 0.5, 1.5)
    assert len(layer.parameters()) == (2 if affine else 0)
    assert check_module(layer, randn(*shape))


@pytest.mark.parametrize("shape", [(4, 5), (3, 4, 6)], ids=["2d", "3d"])
def test_instance_norm_normalizes_each_sample_alone(backend_name, shape):
    minigan.random.seed(11)
    layer = InstanceNorm1d(shape[1], affine=True, dtype="float64")
    randomize_parameters(layer)
    x = randn(*shape, requires_grad=False)
    xs = to_numpy(x.data)
    if len(shape) == 2:
        expected = np_normalize(xs, (1,), 1e-5) * to_numpy(layer.weight.data) + to_numpy(layer.bias.data)
    else:
        expected = (np_normalize(xs, (2,), 1e-5) * to_numpy(layer.weight.data)[:, None]
                    + to_numpy(layer.bias.data)[:, None])
    np.testing.assert_allclose(to_numpy(layer(x).data), expected, rtol=1e-12, atol=1e-13)
    # one sample's output does not depend on the others
    np.testing.assert_allclose(to_numpy(layer(x[:1]).data), expected[:1], rtol=1e-12, atol=1e-13)


def test_instance_norm_wrong_feature_count_raises_shape_error(backend_name):
    with pytest.raises(ShapeError, match=r"InstanceNorm1d\(4\)"):
        InstanceNorm1d(4)(minigan.random.randn(2, 5))


# --------------------------------------------------------------------- MinibatchDiscrimination


@pytest.mark.parametrize("mode", MODES)
def test_minibatch_discrimination_gradcheck_input_and_kernel(backend_name, mode):
    minigan.random.seed(12)
    layer = set_mode(MinibatchDiscrimination(4, num_kernels=3, kernel_dim=2, dtype="float64"), mode)
    assert check_module(layer, randn(5, 4))


def test_minibatch_discrimination_forward_matches_the_paper(backend_name):
    minigan.random.seed(13)
    a, b, c, n = 4, 3, 2, 5
    layer = MinibatchDiscrimination(a, num_kernels=b, kernel_dim=c, dtype="float64")
    x = randn(n, a, requires_grad=False)
    xs, t = to_numpy(x.data), to_numpy(layer.T.data)
    m = (xs @ t).reshape(n, b, c)
    o = np.exp(-np.abs(m[:, None] - m[None, :]).sum(axis=3)).sum(axis=1)
    out = to_numpy(layer(x).data)
    assert out.shape == (n, a + b)
    np.testing.assert_allclose(out, np.concatenate([xs, o], axis=1), rtol=1e-13)


def test_minibatch_discrimination_wrong_features_raises_shape_error(backend_name):
    with pytest.raises(ShapeError, match="MinibatchDiscrimination"):
        MinibatchDiscrimination(4, 2, 2)(minigan.random.randn(3, 5))


# --------------------------------------------------------------------------------- Sequential


def make_stack():
    return Sequential(
        Dense(4, 6, dtype="float64"), BatchNorm1d(6, dtype="float64"), LeakyReLU(0.2), Dropout(0.3),
        Dense(6, 5, init="glorot", dtype="float64"), LayerNorm(5, dtype="float64"), Tanh(),
        MinibatchDiscrimination(5, 2, 2, dtype="float64"), Dense(7, 1, init="normal", dtype="float64"), Sigmoid(),
    )


@pytest.mark.parametrize("mode", MODES)
def test_sequential_of_several_layers_gradcheck(backend_name, mode):
    minigan.random.seed(14)
    model = make_stack()
    randomize_parameters(model[1], 0.5, 1.5)
    randomize_parameters(model[5], 0.5, 1.5)
    for _ in range(3):  # give BatchNorm running statistics other than (0, 1) for eval mode
        model(randn(8, 4, requires_grad=False))
    set_mode(model, mode)
    x = randn(6, 4)
    params = model.parameters()
    assert minigan.gradcheck(seeded(lambda x, *p: model(x)), (x, *params))


def test_sequential_applies_modules_in_order(backend_name):
    minigan.random.seed(15)
    first, second = Dense(3, 4, dtype="float64"), Dense(4, 2, dtype="float64")
    model = Sequential(first, Tanh(), second)
    x = randn(5, 3, requires_grad=False)
    np.testing.assert_array_equal(to_numpy(model(x).data), to_numpy(second(Tanh()(first(x))).data))
    assert len(model) == 3 and model[0] is first and list(model)[2] is second


def test_sequential_rejects_what_is_not_a_module():
    with pytest.raises(TypeError, match="argument 1"):
        Sequential(Dense(2, 2), lambda x: x)


# --------------------------------------------------------------------------- functional forms


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
def test_functional_linear_gradcheck(backend_name, bias):
    minigan.random.seed(16)
    inputs = (randn(5, 4), randn(4, 3)) + ((randn(3),) if bias else ())
    assert minigan.gradcheck(F.linear, inputs)


def test_functional_linear_shape_mismatch_raises_shape_error(backend_name):
    with pytest.raises(ShapeError, match="linear"):
        F.linear(randn(5, 4), randn(3, 3))


@pytest.mark.parametrize("slope", [0.2, 0.01])
def test_functional_leaky_relu_gradcheck(backend_name, slope):
    minigan.random.seed(17)
    assert minigan.gradcheck(lambda x: F.leaky_relu(x, slope), (away_from_zero(4, 5),))


def test_functional_relu_gradcheck(backend_name):
    minigan.random.seed(18)
    assert minigan.gradcheck(F.relu, (away_from_zero(4, 5),))


@pytest.mark.parametrize("training", [True, False], ids=["training", "eval"])
@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5)], ids=["2d", "3d"])
def test_functional_batch_norm_gradcheck(backend_name, shape, training):
    minigan.random.seed(19)
    x, weight, bias = randn(*shape), randn(3), randn(3)
    running_mean = randn(3, requires_grad=False)
    running_var = minigan.random.uniform(0.5, 2.0, (3,), dtype="float64")
    fn = lambda x, w, b: F.batch_norm(x, w, b, running_mean, running_var, training=training)  # noqa: E731
    assert minigan.gradcheck(fn, (x, weight, bias))


def test_functional_batch_norm_without_affine_gradcheck(backend_name):
    minigan.random.seed(20)
    assert minigan.gradcheck(lambda x: F.batch_norm(x, None, None, None, None, training=True), (randn(5, 3),))


@pytest.mark.parametrize("training", [True, False], ids=["training", "eval"])
def test_functional_dropout_gradcheck(backend_name, training):
    minigan.random.seed(21)
    assert minigan.gradcheck(seeded(lambda x: F.dropout(x, 0.5, training)), (randn(5, 4),))


def test_functional_forms_are_the_layers_functions(backend_name):
    minigan.random.seed(22)
    x = away_from_zero(3, 4)
    np.testing.assert_array_equal(to_numpy(F.leaky_relu(x, 0.2).data), to_numpy(LeakyReLU(0.2)(x).data))
    np.testing.assert_array_equal(to_numpy(F.relu(x).data), to_numpy(ReLU()(x).data))
    layer = Dense(4, 2, dtype="float64")
    np.testing.assert_array_equal(to_numpy(F.linear(x, layer.weight, layer.bias).data), to_numpy(layer(x).data))


# ------------------------------------------------------------- ReLU at infinities, slopes outside [0, 1]


def test_relu_of_minus_infinity_is_zero_and_of_nan_is_nan(backend_name):
    x = minigan.tensor([-np.inf, np.inf, np.nan, -1.0], dtype="float64", requires_grad=True)
    out = F.relu(x)
    np.testing.assert_array_equal(to_numpy(out.data), [0.0, np.inf, np.nan, 0.0])
    out.backward(np.ones(4))
    np.testing.assert_array_equal(to_numpy(x.grad), [0.0, 1.0, 0.0, 0.0])


@pytest.mark.parametrize("slope", [1.5, -0.5, 3.0])
def test_leaky_relu_outside_the_unit_interval_forward_and_gradient_match_the_closed_form(backend_name, slope):
    values = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    x = minigan.tensor(values, dtype="float64", requires_grad=True)
    out = F.leaky_relu(x, slope)
    np.testing.assert_array_equal(to_numpy(out.data), np.where(values > 0, values, slope * values))
    g = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    out.backward(g)
    np.testing.assert_array_equal(to_numpy(x.grad), np.where(values > 0, g, slope * g))


@pytest.mark.parametrize("slope", [1.5, -0.5])
def test_leaky_relu_outside_the_unit_interval_gradcheck_and_gradgradcheck(backend_name, slope):
    x = away_from_zero(3, 4)
    assert minigan.gradcheck(lambda t: F.leaky_relu(t, slope), [x])
    assert minigan.gradgradcheck(lambda t: F.leaky_relu(t, slope), [x])


def test_layer_norm_accepts_an_int_normalized_shape_like_pytorch(backend_name):
    x = randn(3, 5)
    np.testing.assert_array_equal(to_numpy(F.layer_norm(x, 5).data), to_numpy(F.layer_norm(x, (5,)).data))
