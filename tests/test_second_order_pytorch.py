"""Every built-in op, functional layer, loss and layer module against PyTorch, to second order, in float64.

For each case the same function is written twice, in minigan and in PyTorch, on the same leaves (the
inputs and parameters that require grad), and three quantities are compared:

- the value f(x);
- the first derivative ∂⟨v, f⟩/∂x for a random cotangent v, for every leaf (the plain backward pass,
  and the same gradients recorded with ``create_graph=True``);
- the second derivative as a Hessian-vector product: ∂⟨u, ∂⟨v, f⟩/∂x⟩ with respect to every leaf and
  to v, for random directions u (the derivative with respect to v is the Jacobian-vector product J u).

All to float64 rounding: rtol 1e-10, atol 1e-12 times the largest magnitude of PyTorch's result.
Inputs are drawn away from kinks (abs, maximum, clip, ReLU), positive where the op needs it, and from
continuous distributions so that maxima have no ties.

The whole module is skipped without PyTorch.
"""

import numpy as np
import pytest

import minigan
from minigan import nn, ops, random
from minigan.nn import functional as F
from minigan.tensor import Tensor
from tests.conftest import to_numpy

torch = pytest.importorskip("torch")
TF = torch.nn.functional

pytestmark = pytest.mark.torch


# ------------------------------------------------------------------------------------------- draws
def normal(rng, shape):
    return rng.standard_normal(shape)


def positive(rng, shape):
    return rng.uniform(0.5, 2.0, size=shape)


def away_from_zero(rng, shape):
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.3, 2.0, size=shape)


def probability(rng, shape):
    return rng.uniform(0.1, 0.9, size=shape)


def wide(rng, shape):
    return 1.5 * rng.standard_normal(shape)


def lower_bound(rng, shape):
    return rng.uniform(-1.5, -0.3, size=shape)


def upper_bound(rng, shape):
    return rng.uniform(0.3, 1.5, size=shape)


# ------------------------------------------------------------------------------------------- pairs
class Pair:
    """One function in minigan and in PyTorch: ``ours()`` and ``theirs()`` compute it from the leaves
    ``ours_leaves`` and ``theirs_leaves``, which hold the same values in the same order."""

    def __init__(self, ours, ours_leaves, theirs, theirs_leaves):
        self.ours, self.ours_leaves = ours, list(ours_leaves)
        self.theirs, self.theirs_leaves = theirs, list(theirs_leaves)


def ours_tensor(array, requires_grad=True):
    return minigan.tensor(np.asarray(array, dtype=np.float64), requires_grad=requires_grad, dtype="float64")


def theirs_tensor(array, requires_grad=True):
    return torch.tensor(np.asarray(array, dtype=np.float64), dtype=torch.float64, requires_grad=requires_grad)


def op_case(name, ours, theirs, *inputs, constant=()):
    """A case for a function of arrays: ``inputs`` are (shape, draw) pairs; the positions in
    ``constant`` are passed as tensors that need no gradient (targets), the rest are leaves."""

    def build(rng):
        arrays = [draw(rng, shape) for shape, draw in inputs]
        mine = [ours_tensor(a, i not in constant) for i, a in enumerate(arrays)]
        yours = [theirs_tensor(a, i not in constant) for i, a in enumerate(arrays)]
        return Pair(lambda: ours(*mine), [t for i, t in enumerate(mine) if i not in constant],
                    lambda: theirs(*yours), [t for i, t in enumerate(yours) if i not in constant])

    return pytest.param(build, id=name)


def load(parameter, array):
    """Overwrite a minigan parameter's values in place (on its own backend)."""
    parameter.data[...] = parameter.xp.asarray(array)


def copy_into(theirs, array):
    with torch.no_grad():
        theirs.copy_(torch.from_numpy(np.asarray(array, dtype=np.float64)))


# ---------------------------------------------------------------------------------- op cases
def pow_case(p):
    return op_case(f"pow {p:g}", lambda a: a ** p, lambda a: a ** p, ((3, 4), positive))


def rpow_case(base):
    return op_case(f"rpow {base:g}", lambda a: base ** a, lambda a: base ** a, ((3, 4), normal))


def leaky_relu_case(slope):
    return op_case(f"leaky_relu {slope:g}", lambda a: F.leaky_relu(a, slope),
                   lambda a: TF.leaky_relu(a, slope), ((4, 5), away_from_zero))


def sum_case(axis, keepdims):
    return op_case(f"sum axis={axis} keepdims={keepdims}", lambda a: ops.sum(a, axis, keepdims),
                   lambda a: a.sum() if axis is None else a.sum(dim=axis, keepdim=keepdims), ((2, 3, 4), normal))


def mean_case(axis, keepdims):
    return op_case(f"mean axis={axis} keepdims={keepdims}", lambda a: ops.mean(a, axis, keepdims),
                   lambda a: a.mean() if axis is None else a.mean(dim=axis, keepdim=keepdims), ((2, 3, 4), normal))


def max_case(axis, keepdims):
    return op_case(f"max axis={axis} keepdims={keepdims}", lambda a: ops.max(a, axis, keepdims),
                   lambda a: torch.amax(a, dim=() if axis is None else axis, keepdim=keepdims),
                   ((2, 3, 4), normal))


def var_case(axis, ddof, keepdims=False):
    return op_case(f"var axis={axis} ddof={ddof} keepdims={keepdims}", lambda a: ops.var(a, axis, ddof, keepdims),
                   lambda a: torch.var(a, dim=axis, correction=ddof, keepdim=keepdims), ((3, 4, 5), normal))


INDEX = np.array([2, 0, 2, 3])

OP_CASES = [
    op_case("add", lambda a, b: a + b, lambda a, b: a + b, ((3, 4), normal), ((3, 4), normal)),
    op_case("add broadcast row", lambda a, b: a + b, lambda a, b: a + b, ((3, 4), normal), ((4,), normal)),
    op_case("add number", lambda a: 2.5 + a, lambda a: 2.5 + a, ((3, 4), normal)),
    op_case("sub broadcast column", lambda a, b: a - b, lambda a, b: a - b, ((3, 4), normal), ((3, 1), normal)),
    op_case("sub from number", lambda a: 1.5 - a, lambda a: 1.5 - a, ((3, 4), normal)),
    op_case("mul", lambda a, b: a * b, lambda a, b: a * b, ((3, 4), normal), ((3, 4), normal)),
    op_case("mul size-1 axes both sides", lambda a, b: a * b, lambda a, b: a * b,
            ((3, 1, 4), normal), ((2, 1), normal)),
    op_case("mul self", lambda a: a * a, lambda a: a * a, ((3, 4), normal)),
    op_case("div", lambda a, b: a / b, lambda a, b: a / b, ((3, 4), normal), ((3, 4), positive)),
    op_case("div broadcast", lambda a, b: a / b, lambda a, b: a / b, ((2, 3, 4), normal), ((3, 1), away_from_zero)),
    op_case("div number by tensor", lambda a: 2.0 / a, lambda a: 2.0 / a, ((3, 4), away_from_zero)),
    op_case("neg", lambda a: -a, lambda a: -a, ((3, 4), normal)),
    pow_case(2), pow_case(3), pow_case(-1), pow_case(-2.5), pow_case(0.5), pow_case(1.5), pow_case(1 / 3),
    rpow_case(2.0), rpow_case(0.5), rpow_case(np.e),
    op_case("matmul 2-D", lambda a, b: a @ b, lambda a, b: a @ b, ((3, 4), normal), ((4, 5), normal)),
    op_case("matmul batched", lambda a, b: a @ b, lambda a, b: a @ b, ((2, 3, 4), normal), ((2, 4, 5), normal)),
    op_case("matmul batch broadcast", lambda a, b: a @ b, lambda a, b: a @ b,
            ((2, 3, 4), normal), ((4, 5), normal)),
    op_case("matmul 1-D dot", lambda a, b: a @ b, lambda a, b: a @ b, ((4,), normal), ((4,), normal)),
    op_case("matmul 1-D left", lambda a, b: a @ b, lambda a, b: a @ b, ((4,), normal), ((2, 4, 3), normal)),
    op_case("matmul 1-D right", lambda a, b: a @ b, lambda a, b: a @ b, ((3, 4), normal), ((4,), normal)),
    op_case("exp", ops.exp, torch.exp, ((3, 4), normal)),
    op_case("log", ops.log, torch.log, ((3, 4), positive)),
    op_case("sqrt", ops.sqrt, torch.sqrt, ((3, 4), positive)),
    op_case("abs", ops.abs, torch.abs, ((3, 4), away_from_zero)),
    op_case("tanh", ops.tanh, torch.tanh, ((3, 4), wide)),
    op_case("sigmoid", ops.sigmoid, torch.sigmoid, ((3, 4), wide)),
    op_case("maximum", ops.maximum, torch.maximum, ((3, 4), normal), ((3, 4), normal)),
    op_case("maximum broadcast", ops.maximum, torch.maximum, ((3, 4), normal), ((4,), normal)),
    op_case("maximum with number", lambda a: ops.maximum(a, 0.3), lambda a: torch.clamp(a, min=0.3),
            ((3, 4), away_from_zero)),
    op_case("minimum", ops.minimum, torch.minimum, ((3, 4), normal), ((3, 4), normal)),
    op_case("minimum broadcast", ops.minimum, torch.minimum, ((3, 4), normal), ((3, 1), normal)),
    op_case("clip numbers", lambda a: ops.clip(a, -0.5, 0.7), lambda a: torch.clamp(a, -0.5, 0.7),
            ((4, 5), wide)),
    op_case("clip min only", lambda a: ops.clip(a, min=-0.5), lambda a: torch.clamp(a, min=-0.5), ((4, 5), wide)),
    op_case("clip max only", lambda a: ops.clip(a, max=0.5), lambda a: torch.clamp(a, max=0.5), ((4, 5), wide)),
    op_case("clip tensors", lambda a, lo, hi: ops.clip(a, lo, hi), lambda a, lo, hi: torch.clamp(a, lo, hi),
            ((4, 5), wide), ((4, 5), lower_bound), ((4, 5), upper_bound)),
    op_case("clip tensors broadcast", lambda a, lo, hi: ops.clip(a, lo, hi), lambda a, lo, hi: torch.clamp(a, lo, hi),
            ((4, 5), wide), ((5,), lower_bound), ((4, 1), upper_bound)),
    op_case("clip tensor min number max", lambda a, lo: ops.clip(a, lo, 0.6),
            lambda a, lo: torch.clamp(a, lo, torch.tensor(0.6, dtype=torch.float64)),  # no (Tensor, number) form
            ((4, 5), wide), ((4, 5), lower_bound)),
    op_case("where", lambda a, b: ops.where(a.data > 0, a, b), lambda a, b: torch.where(a > 0, a, b),
            ((3, 4), away_from_zero), ((3, 4), normal)),
    op_case("where broadcast", lambda a, b: ops.where(a.data > 0, a * b, b), lambda a, b: torch.where(a > 0, a * b, b),
            ((3, 4), away_from_zero), ((4,), normal)),
    sum_case(None, False), sum_case(1, True), sum_case((0, 2), False),
    mean_case(None, False), mean_case(-1, False), mean_case((0, 2), True),
    max_case(None, False), max_case(0, False), max_case((0, 2), True),
    var_case(None, 0), var_case(0, 0), var_case(1, 1, True), var_case((0, 2), 1),
    op_case("reshape", lambda a: ops.reshape(a, (4, -1)), lambda a: a.reshape(4, -1), ((2, 3, 4), normal)),
    op_case("transpose", lambda a: ops.transpose(a, (2, 0, 1)), lambda a: a.permute(2, 0, 1), ((2, 3, 4), normal)),
    op_case("transpose T", lambda a: a.T, lambda a: a.T, ((3, 4), normal)),
    op_case("getitem slice", lambda a: a[1:, ::2], lambda a: a[1:, ::2], ((4, 5), normal)),
    op_case("getitem negative step and int", lambda a: a[::-1, 2], lambda a: a.flip(0)[:, 2], ((4, 5), normal)),
    op_case("getitem int array with repeats", lambda a: a[INDEX], lambda a: a[torch.from_numpy(INDEX)],
            ((4, 3), normal)),
    op_case("getitem int array and slice", lambda a: a[INDEX, 1:], lambda a: a[torch.from_numpy(INDEX), 1:],
            ((4, 3), normal)),
    op_case("concatenate axis 0", lambda a, b, c: ops.concatenate([a, b, c]), lambda a, b, c: torch.cat([a, b, c]),
            ((2, 3), normal), ((1, 3), normal), ((3, 3), normal)),
    op_case("concatenate axis 1", lambda a, b: ops.concatenate([a, b * b], axis=1),
            lambda a, b: torch.cat([a, b * b], dim=1), ((2, 3), normal), ((2, 2), normal)),
    op_case("stack axis 0", lambda a, b: ops.stack([a, a * b]), lambda a, b: torch.stack([a, a * b]),
            ((2, 3), normal), ((2, 3), normal)),
    op_case("stack axis -1", lambda a, b: ops.stack([a, b], axis=-1), lambda a, b: torch.stack([a, b], dim=-1),
            ((2, 3), normal), ((2, 3), normal)),
]


# --------------------------------------------------------------------- functional layers and losses
def bce_case(reduction, target_constant=True):
    name = f"binary_cross_entropy {reduction}" + ("" if target_constant else " target requires grad")
    return op_case(name, lambda p, t: F.binary_cross_entropy(p, t, reduction),
                   lambda p, t: TF.binary_cross_entropy(p, t, reduction=reduction),
                   ((4, 3), probability), ((4, 3), probability), constant=(1,) if target_constant else ())


def bce_logits_case(reduction, target_constant):
    name = f"bce_with_logits {reduction} target " + ("constant" if target_constant else "requires grad")
    return op_case(name, lambda z, t: F.binary_cross_entropy_with_logits(z, t, reduction),
                   lambda z, t: TF.binary_cross_entropy_with_logits(z, t, reduction=reduction),
                   ((4, 3), wide), ((4, 3), probability), constant=(1,) if target_constant else ())


def mse_case(reduction, target_constant):
    name = f"mse_loss {reduction} target " + ("constant" if target_constant else "requires grad")
    return op_case(name, lambda a, b: F.mse_loss(a, b, reduction), lambda a, b: TF.mse_loss(a, b, reduction=reduction),
                   ((4, 3), normal), ((4, 3), normal), constant=(1,) if target_constant else ())


LABELS = np.array([2, 0, 3, 3, 1])


def cross_entropy_case(reduction):
    return op_case(f"cross_entropy {reduction}", lambda z: F.cross_entropy(z, LABELS, reduction),
                   lambda z: TF.cross_entropy(z, torch.from_numpy(LABELS), reduction=reduction), ((5, 4), wide))


def theirs_feature_matching(real, fake):
    difference = real.mean(dim=0) - fake.mean(dim=0)
    return (difference * difference).sum()


def batch_norm_case(training, affine, shape=(6, 3)):
    """F.batch_norm with running statistics; ``affine`` is "weight and bias", "weight", "bias" or "none".

    PyTorch's batch_norm with a bias but no weight fails in double backward ("Expected a proper Tensor
    but got None", torch 2.13), so PyTorch is given a constant weight of ones there, which is what
    γ = None means."""
    channels = shape[1]
    with_weight, with_bias = affine in ("weight and bias", "weight"), affine in ("weight and bias", "bias")
    name = f"batch_norm {'training' if training else 'eval'} {affine} {shape}"

    def build(rng):
        x = wide(rng, shape) + 0.5
        weight, bias = rng.uniform(0.5, 1.5, channels), normal(rng, channels)
        running_mean, running_var = normal(rng, channels), rng.uniform(0.5, 2.0, channels)
        mine = [ours_tensor(x), ours_tensor(weight) if with_weight else None, ours_tensor(bias) if with_bias else None]
        yours = [theirs_tensor(x), theirs_tensor(weight) if with_weight else None,
                 theirs_tensor(bias) if with_bias else None]
        their_weight = yours[1] if with_weight or not with_bias else theirs_tensor(np.ones(channels), False)
        our_stats = [ours_tensor(running_mean, False), ours_tensor(running_var, False)]
        their_stats = [theirs_tensor(running_mean, False), theirs_tensor(running_var, False)]
        return Pair(lambda: F.batch_norm(mine[0], mine[1], mine[2], *our_stats, training=training),
                    [t for t in mine if t is not None],
                    lambda: TF.batch_norm(yours[0], *their_stats, their_weight, yours[2], training=training),
                    [t for t in yours if t is not None])

    return pytest.param(build, id=name)


def dropout_case(p):
    """F.dropout: PyTorch multiplies by the mask minigan drew (read off minigan's output, x ≠ 0)."""

    def build(rng):
        x = away_from_zero(rng, (5, 6))
        mine, yours = ours_tensor(x), theirs_tensor(x)

        def ours():
            state = random.get_state()
            random.seed(5)  # the same mask on every call
            try:
                return F.dropout(mine, p)
            finally:
                random.set_state(state)

        mask = torch.from_numpy((to_numpy(ours().data) != 0).astype(np.float64))
        assert 0 < mask.sum() < mask.numel()
        return Pair(ours, [mine], lambda: yours * mask / (1 - p), [yours])

    return pytest.param(build, id=f"dropout {p:g}")


FUNCTIONAL_CASES = [
    op_case("linear with bias", F.linear, lambda x, w, b: TF.linear(x, w.T, b),
            ((5, 4), normal), ((4, 3), normal), ((3,), normal)),
    op_case("linear without bias", F.linear, lambda x, w: TF.linear(x, w.T), ((5, 4), normal), ((4, 3), normal)),
    op_case("linear weight only", F.linear, lambda x, w: TF.linear(x, w.T), ((5, 4), normal), ((4, 3), normal),
            constant=(0,)),
    leaky_relu_case(0.2), leaky_relu_case(1.5), leaky_relu_case(-0.5),
    op_case("relu", F.relu, TF.relu, ((4, 5), away_from_zero)),
    op_case("relu of a product", lambda a, b: F.relu(a * b), lambda a, b: TF.relu(a * b),
            ((4, 5), away_from_zero), ((4, 5), away_from_zero)),
    *[batch_norm_case(training, affine) for training in (True, False)
      for affine in ("weight and bias", "weight", "bias", "none")],
    batch_norm_case(True, "weight and bias", (4, 3, 5)),
    batch_norm_case(False, "weight and bias", (4, 3, 5)),
    bce_case("mean"), bce_case("sum"), bce_case("none"),
    op_case("binary_cross_entropy soft number target", lambda p: F.binary_cross_entropy(p, 0.9),
            lambda p: TF.binary_cross_entropy(p, torch.full_like(p, 0.9)), ((4, 3), probability)),
    bce_logits_case("mean", True), bce_logits_case("sum", True), bce_logits_case("none", True),
    bce_logits_case("mean", False), bce_logits_case("none", False),
    mse_case("mean", True), mse_case("sum", False), mse_case("none", False),
    op_case("feature_matching_loss", F.feature_matching_loss, theirs_feature_matching,
            ((5, 4), normal), ((3, 4), normal)),
    op_case("feature_matching_loss (N, C, L)", F.feature_matching_loss, theirs_feature_matching,
            ((3, 2, 3), normal), ((4, 2, 3), normal)),
    op_case("log_softmax axis -1", F.log_softmax, lambda z: TF.log_softmax(z, dim=-1), ((3, 5), wide)),
    op_case("log_softmax axis 0", lambda z: F.log_softmax(z, 0), lambda z: TF.log_softmax(z, dim=0), ((3, 5), wide)),
    cross_entropy_case("mean"), cross_entropy_case("sum"), cross_entropy_case("none"),
    op_case("layer_norm int shape affine", lambda x, w, b: F.layer_norm(x, 5, w, b),
            lambda x, w, b: TF.layer_norm(x, (5,), w, b), ((3, 5), wide), ((5,), positive), ((5,), normal)),
    op_case("layer_norm two axes affine", lambda x, w, b: F.layer_norm(x, (3, 4), w, b),
            lambda x, w, b: TF.layer_norm(x, (3, 4), w, b), ((2, 3, 4), wide), ((3, 4), positive), ((3, 4), normal)),
    op_case("layer_norm without affine", lambda x: F.layer_norm(x, (4,)), lambda x: TF.layer_norm(x, (4,)),
            ((3, 4), wide)),
    op_case("instance_norm (N, C, L) affine", F.instance_norm,
            lambda x, w, b: TF.instance_norm(x, weight=w, bias=b), ((3, 2, 5), wide), ((2,), positive), ((2,), normal)),
    op_case("instance_norm (N, C, L) without affine", F.instance_norm, TF.instance_norm, ((3, 2, 5), wide)),
    op_case("instance_norm (N, C) affine", F.instance_norm, lambda x, w, b: TF.layer_norm(x, (4,), w, b),
            ((3, 4), wide), ((4,), positive), ((4,), normal)),
    dropout_case(0.3), dropout_case(0.6),
]


# ----------------------------------------------------------------------------------- layer modules
def module_case(name, make):
    """``make(rng)`` builds a float64 minigan layer with random parameters, and its input, and returns
    (layer, x, theirs, their_leaves) with PyTorch's function and leaves [x, *parameters]."""

    def build(rng):
        layer, x, theirs, their_leaves = make(rng)
        return Pair(lambda: layer(x), [x, *layer.parameters()], theirs, their_leaves)

    return pytest.param(build, id=name)


def make_dense(bias):
    def make(rng):
        layer = nn.Dense(4, 3, bias=bias, dtype="float64")
        x = ours_tensor(normal(rng, (5, 4)))
        load(layer.weight, normal(rng, (4, 3)))
        tx, tw = theirs_tensor(to_numpy(x.data)), theirs_tensor(to_numpy(layer.weight.data))
        if not bias:
            return layer, x, lambda: TF.linear(tx, tw.T), [tx, tw]
        load(layer.bias, normal(rng, 3))
        tb = theirs_tensor(to_numpy(layer.bias.data))
        return layer, x, lambda: TF.linear(tx, tw.T, tb), [tx, tw, tb]

    return make


def make_batch_norm(training):
    def make(rng):
        layer = nn.BatchNorm1d(3, dtype="float64")
        theirs = torch.nn.BatchNorm1d(3, dtype=torch.float64)
        x = ours_tensor(wide(rng, (6, 3)) + 0.5)
        for ours_part, their_part, values in (
                (layer.weight, theirs.weight, rng.uniform(0.5, 1.5, 3)), (layer.bias, theirs.bias, normal(rng, 3)),
                (layer.running_mean, theirs.running_mean, normal(rng, 3)),
                (layer.running_var, theirs.running_var, rng.uniform(0.5, 2.0, 3))):
            load(ours_part, values)
            copy_into(their_part, values)
        layer.train(training)
        theirs.train(training)
        tx = theirs_tensor(to_numpy(x.data))
        return layer, x, lambda: theirs(tx), [tx, theirs.weight, theirs.bias]

    return make


def make_layer_norm(rng):
    layer = nn.LayerNorm((3, 4), dtype="float64")
    theirs = torch.nn.LayerNorm((3, 4), dtype=torch.float64)
    x = ours_tensor(wide(rng, (2, 3, 4)))
    for ours_part, their_part, values in ((layer.weight, theirs.weight, positive(rng, (3, 4))),
                                          (layer.bias, theirs.bias, normal(rng, (3, 4)))):
        load(ours_part, values)
        copy_into(their_part, values)
    tx = theirs_tensor(to_numpy(x.data))
    return layer, x, lambda: theirs(tx), [tx, theirs.weight, theirs.bias]


def make_instance_norm(rng):
    layer = nn.InstanceNorm1d(2, affine=True, dtype="float64")
    theirs = torch.nn.InstanceNorm1d(2, affine=True, dtype=torch.float64)
    x = ours_tensor(wide(rng, (3, 2, 5)))
    for ours_part, their_part, values in ((layer.weight, theirs.weight, positive(rng, 2)),
                                          (layer.bias, theirs.bias, normal(rng, 2))):
        load(ours_part, values)
        copy_into(their_part, values)
    tx = theirs_tensor(to_numpy(x.data))
    return layer, x, lambda: theirs(tx), [tx, theirs.weight, theirs.bias]


def theirs_minibatch_discrimination(x, T, num_kernels, kernel_dim):
    """The forward of minigan's MinibatchDiscrimination, from its docstring, in PyTorch."""
    n = x.shape[0]
    m = (x @ T).reshape(n, num_kernels, kernel_dim)                        # M, (N, B, C)
    similarity = torch.exp(-(m[:, None] - m[None, :]).abs().sum(dim=3))    # c_b(i, j), (N, N, B)
    return torch.cat([x, similarity.sum(dim=1)], dim=1)                    # [x, o], (N, A + B)


def make_minibatch_discrimination(rng):
    layer = nn.MinibatchDiscrimination(4, num_kernels=3, kernel_dim=2, dtype="float64")
    load(layer.T, 0.5 * normal(rng, (4, 6)))
    x = ours_tensor(normal(rng, (5, 4)))
    tx, tT = theirs_tensor(to_numpy(x.data)), theirs_tensor(to_numpy(layer.T.data))
    return layer, x, lambda: theirs_minibatch_discrimination(tx, tT, 3, 2), [tx, tT]


MODULE_CASES = [
    module_case("Dense", make_dense(bias=True)),
    module_case("Dense without bias", make_dense(bias=False)),
    module_case("BatchNorm1d training", make_batch_norm(training=True)),
    module_case("BatchNorm1d eval", make_batch_norm(training=False)),
    module_case("LayerNorm", make_layer_norm),
    module_case("InstanceNorm1d affine", make_instance_norm),
    module_case("MinibatchDiscrimination", make_minibatch_discrimination),
]

CASES = OP_CASES + FUNCTIONAL_CASES + MODULE_CASES


# ------------------------------------------------------------------------------------- comparison
def assert_close(ours, theirs, what):
    """Equal to float64 rounding: rtol 1e-10, atol 1e-12 times PyTorch's largest magnitude (at least 1)."""
    ours = to_numpy(ours.data if isinstance(ours, Tensor) else ours)
    theirs = theirs.detach().numpy(force=True)  # force: PyTorch gives some zero gradients as ZeroTensors
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape}, PyTorch's {theirs.shape}"
    scale = max(1.0, float(np.abs(theirs).max(initial=0.0)))
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12 * scale, err_msg=what)


def directions(pair, out_shape):
    """The cotangent v (shaped like the output) and one direction u per leaf, seeded."""
    rng = np.random.default_rng(1)
    v = rng.standard_normal(out_shape)
    return v, [rng.standard_normal(t.shape) for t in pair.ours_leaves]


def hessian_vector_products(pair, v, us):
    """∂⟨u, ∂⟨v, f⟩/∂x⟩ with respect to every leaf x and to v, in minigan and in PyTorch, and the
    first derivatives recorded on the way (with create_graph=True)."""
    mine_v = ours_tensor(v)
    mine_first = minigan.grad(pair.ours(), pair.ours_leaves, grad_outputs=mine_v, create_graph=True)
    mine_along = sum((g * ours_tensor(u, False)).sum() for g, u in zip(mine_first, us))
    mine = minigan.grad(mine_along, pair.ours_leaves + [mine_v], materialize_grads=True)

    yours_v = theirs_tensor(v)
    yours_first = torch.autograd.grad(pair.theirs(), pair.theirs_leaves, grad_outputs=yours_v, create_graph=True)
    yours_along = sum((g * theirs_tensor(u, False)).sum() for g, u in zip(yours_first, us))
    yours = torch.autograd.grad(yours_along, pair.theirs_leaves + [yours_v], materialize_grads=True)
    return mine_first, yours_first, mine, yours


@pytest.mark.parametrize("build", CASES)
def test_value_matches_torch(backend_name, build):
    pair = build(np.random.default_rng(0))
    assert_close(pair.ours(), pair.theirs(), "value")


@pytest.mark.parametrize("build", CASES)
def test_first_derivative_matches_torch(backend_name, build):
    """∂⟨v, f⟩/∂x for every leaf, by the plain backward pass and by the recorded (create_graph) one."""
    pair = build(np.random.default_rng(0))
    out = pair.ours()
    v, us = directions(pair, out.shape)
    plain = minigan.grad(out, pair.ours_leaves, grad_outputs=out.xp.asarray(v))
    theirs = torch.autograd.grad(pair.theirs(), pair.theirs_leaves, grad_outputs=theirs_tensor(v, False))
    for i, (mine, yours) in enumerate(zip(plain, theirs, strict=True)):
        assert_close(mine, yours, f"first derivative for leaf {i}")
    recorded, theirs_recorded, _, _ = hessian_vector_products(pair, v, us)
    for i, (mine, yours) in enumerate(zip(recorded, theirs_recorded, strict=True)):
        assert_close(mine, yours, f"first derivative for leaf {i}, create_graph=True")


@pytest.mark.parametrize("build", CASES)
def test_hessian_vector_product_matches_torch(backend_name, build):
    """∂⟨u, ∂⟨v, f⟩/∂x⟩ for every leaf and for v (the last row: the Jacobian-vector product J u)."""
    pair = build(np.random.default_rng(0))
    v, us = directions(pair, pair.ours().shape)
    _, _, mine, yours = hessian_vector_products(pair, v, us)
    assert len(mine) == len(yours) == len(pair.ours_leaves) + 1
    for i, (m, y) in enumerate(zip(mine, yours)):
        what = "derivative for v (J u)" if i == len(pair.ours_leaves) else f"Hessian-vector product for leaf {i}"
        assert_close(m, y, what)
