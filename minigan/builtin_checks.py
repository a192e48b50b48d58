"""The gradient checks ``minigan gradcheck`` runs: one small float64 case per built-in op and layer.

Each op case is (name, fn, input shapes, draw); inputs are drawn from a seeded distribution, kept
away from kinks where the op has one (abs, maximum, clip, ReLU) and positive where the op needs it.
Each layer case builds a float64 layer and checks the input and every parameter.
"""

import numpy as np

from minigan import nn, ops, random
from minigan.gradient_check import check_gradients, check_second_gradients
from minigan.nn import functional as F
from minigan.tensor import tensor


def _positive(rng, shape):
    return rng.uniform(0.5, 2.0, size=shape)


def _away_from_zero(rng, shape):
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.3, 2.0, size=shape)


def _normal(rng, shape):
    return rng.standard_normal(shape)


OP_CASES = [
    ("add (broadcast row)", lambda a, b: ops.add(a, b), [(3, 4), (4,)], _normal),
    ("sub (broadcast column)", lambda a, b: ops.sub(a, b), [(3, 4), (3, 1)], _normal),
    ("mul (size-1 axes both sides)", lambda a, b: ops.mul(a, b), [(3, 1, 4), (1, 2, 4)], _normal),
    ("div", lambda a, b: ops.div(a, b), [(3, 4), (3, 4)], _positive),
    ("neg", lambda a: ops.neg(a), [(5,)], _normal),
    ("pow 3", lambda a: ops.pow(a, 3), [(2, 3)], _normal),
    ("pow -0.5", lambda a: ops.pow(a, -0.5), [(2, 3)], _positive),
    ("rpow", lambda a: ops.rpow(2.5, a), [(2, 3)], _normal),
    ("broadcast_to", lambda a: ops.broadcast_to(a, (2, 3, 4)), [(3, 1)], _normal),
    ("matmul 2-D", lambda a, b: ops.matmul(a, b), [(3, 4), (4, 2)], _normal),
    ("matmul batched", lambda a, b: ops.matmul(a, b), [(2, 3, 4), (4, 5)], _normal),
    ("matmul 1-D", lambda a, b: ops.matmul(a, b), [(4,), (4, 3)], _normal),
    ("exp", lambda a: ops.exp(a), [(3, 3)], _normal),
    ("log", lambda a: ops.log(a), [(3, 3)], _positive),
    ("sqrt", lambda a: ops.sqrt(a), [(3, 3)], _positive),
    ("abs", lambda a: ops.abs(a), [(3, 3)], _away_from_zero),
    ("tanh", lambda a: ops.tanh(a), [(3, 3)], _normal),
    ("sigmoid", lambda a: ops.sigmoid(a), [(3, 3)], _normal),
    ("maximum", lambda a, b: ops.maximum(a, b), [(3, 4), (4,)], _normal),
    ("minimum", lambda a, b: ops.minimum(a, b), [(3, 4), (3, 1)], _normal),
    ("clip", lambda a: ops.clip(a, -0.5, 0.5), [(4, 4)], _away_from_zero),
    ("sum axis=1 keepdims", lambda a: ops.sum(a, 1, True), [(3, 4)], _normal),
    ("mean axes (0, 2)", lambda a: ops.mean(a, (0, 2)), [(2, 3, 4)], _normal),
    ("max axis=0", lambda a: ops.max(a, 0), [(4, 3)], _normal),
    ("var axis=0 ddof=1", lambda a: ops.var(a, 0, 1), [(5, 3)], _normal),
    ("reshape", lambda a: ops.reshape(a, (6, -1)), [(3, 4)], _normal),
    ("transpose", lambda a: ops.transpose(a, (2, 0, 1)), [(2, 3, 4)], _normal),
    ("getitem slice", lambda a: ops.getitem(a, (slice(1, None), slice(None, None, 2))), [(4, 5)], _normal),
    ("getitem int array", lambda a: ops.getitem(a, np.array([0, 2, 0])), [(3, 4)], _normal),
    ("concatenate", lambda a, b: ops.concatenate([a, b], axis=1), [(2, 3), (2, 2)], _normal),
    ("stack", lambda a, b: ops.stack([a, b], axis=1), [(2, 3), (2, 3)], _normal),
    ("squeeze", lambda a: ops.squeeze(a, (0, 2)), [(1, 3, 1, 2)], _normal),
    ("unsqueeze", lambda a: ops.unsqueeze(a, -1), [(2, 3)], _normal),
    ("flatten 1 to 2", lambda a: ops.flatten(a, 1, 2), [(2, 3, 2, 2)], _normal),
    ("expand", lambda a: ops.expand(a, 2, -1, 4), [(3, 1)], _normal),
    ("split (weighted pieces)", lambda a: ops.concatenate([p * (i + 1.0) for i, p in enumerate(ops.split(a, 2))]),
     [(5, 3)], _normal),
    ("chunk (weighted pieces)", lambda a: ops.concatenate([p * (i + 1.0) for i, p in enumerate(ops.chunk(a, 2, 1))],
                                                          axis=1), [(2, 5)], _normal),
    ("pad constant", lambda a: ops.pad(a, (1, 2, -1, 1), value=0.5), [(2, 3, 4)], _normal),
    ("pad reflect", lambda a: ops.pad(a, (2, 1, 1, 2), "reflect"), [(2, 3, 4)], _normal),
    ("pad replicate", lambda a: ops.pad(a, (2, -1), "replicate"), [(2, 3, 4)], _normal),
    ("pad circular", lambda a: ops.pad(a, (1, 3, 2, 0), "circular"), [(2, 3, 4)], _normal),
    ("flip axes (0, 2)", lambda a: ops.flip(a, (0, 2)), [(2, 3, 4)], _normal),
    ("tile", lambda a: ops.tile(a, (2, 1, 3)), [(2, 3)], _normal),
    ("repeat", lambda a: ops.repeat(a, 2, 3), [(2, 3)], _normal),
    ("repeat_interleave", lambda a: ops.repeat_interleave(a, np.array([2, 0, 1]), axis=1), [(2, 3)], _normal),
    ("gather axis=1", lambda a: ops.gather(a, 1, np.array([[0, 3, 3], [2, 1, 1], [1, 0, 2]])), [(3, 4)], _normal),
    ("outer", lambda a, b: ops.outer(a, b), [(3,), (4,)], _normal),
    ("einsum bilinear form", lambda x, A, y: ops.einsum("i,ij,j->", x, A, y), [(3,), (3, 4), (4,)], _normal),
    ("einsum diagonal, ellipsis", lambda A, b: ops.einsum("...ii,i->...i", A, b), [(2, 3, 3), (3,)], _normal),
    ("where", lambda a, b: ops.where(a.data > 0, a, b), [(3, 4), (4,)], _away_from_zero),
    ("leaky_relu", lambda a: F.leaky_relu(a, 0.2), [(3, 4)], _away_from_zero),
    ("relu", lambda a: F.relu(a), [(3, 4)], _away_from_zero),
    ("bce (probabilities)", lambda p, t: F.binary_cross_entropy(p, t), [(6,), (6,)],
     lambda rng, shape: rng.uniform(0.1, 0.9, size=shape)),
    ("bce with logits", lambda z, t: F.binary_cross_entropy_with_logits(z, t), [(6,), (6,)],
     lambda rng, shape: rng.uniform(0.1, 0.9, size=shape)),
    ("mse", lambda a, b: F.mse_loss(a, b), [(3, 2), (3, 2)], _normal),
    ("feature matching", lambda a, b: F.feature_matching_loss(a, b), [(4, 3), (5, 3)], _normal),
    ("cross entropy", lambda z: F.cross_entropy(z, np.array([0, 2, 1])), [(3, 4)], _normal),
    ("log1p", lambda a: ops.log1p(a), [(3, 3)], _positive),
    ("expm1", lambda a: ops.expm1(a), [(3, 3)], _normal),
    ("sin", lambda a: ops.sin(a), [(3, 3)], _normal),
    ("cos", lambda a: ops.cos(a), [(3, 3)], _normal),
    ("square", lambda a: ops.square(a), [(3, 3)], _normal),
    ("softplus beta=2", lambda a: ops.softplus(a, beta=2.0), [(3, 4)], _normal),
    ("min axis=1", lambda a: ops.min(a, 1), [(3, 4)], _normal),
    ("prod axis=1", lambda a: ops.prod(a, 1), [(3, 4)], _normal),
    ("cumsum axis=0", lambda a: ops.cumsum(a, 0), [(3, 4)], _normal),
    ("std axis=1 ddof=1", lambda a: ops.std(a, 1, 1), [(3, 4)], _normal),
    ("norm ord=2 axis=1", lambda a: ops.norm(a, 2, 1), [(3, 4)], _normal),
    ("norm ord=3", lambda a: ops.norm(a, 3), [(3, 4)], _away_from_zero),
    ("softmax axis=0", lambda a: ops.softmax(a, 0), [(3, 4)], _normal),
    ("log_softmax", lambda a: ops.log_softmax(a), [(3, 4)], _normal),
    ("logsumexp axis=1", lambda a: ops.logsumexp(a, 1), [(3, 4)], _normal),
]


def _seeded_dropout():
    layer = nn.Dropout(0.3)

    def run(x):
        random.seed(7)  # the same mask at every evaluation: finite differences need a fixed function
        return layer(x)

    return run


LAYER_CASES = [
    ("Dense", lambda: nn.Dense(4, 3, dtype="float64"), (5, 4), "train"),
    ("BatchNorm1d (train)", lambda: nn.BatchNorm1d(4, dtype="float64"), (6, 4), "train"),
    ("BatchNorm1d (eval)", lambda: nn.BatchNorm1d(4, dtype="float64"), (6, 4), "eval"),
    ("BatchNorm1d (N, C, L)", lambda: nn.BatchNorm1d(3, dtype="float64"), (4, 3, 5), "train"),
    ("LayerNorm", lambda: nn.LayerNorm(4, dtype="float64"), (5, 4), "train"),
    ("InstanceNorm1d", lambda: nn.InstanceNorm1d(4, affine=True, dtype="float64"), (5, 4), "train"),
    ("MinibatchDiscrimination", lambda: nn.MinibatchDiscrimination(4, 3, 2, dtype="float64"), (5, 4), "train"),
    ("LeakyReLU", lambda: nn.LeakyReLU(0.2), (3, 4), "train"),
    ("ReLU", lambda: nn.ReLU(), (3, 4), "train"),
    ("Tanh", lambda: nn.Tanh(), (3, 4), "train"),
    ("Sigmoid", lambda: nn.Sigmoid(), (3, 4), "train"),
    ("Dropout (train)", _seeded_dropout, (4, 5), "train"),
]


def op_case_inputs(case, rng):
    """The float64 leaves an op case is checked at (on the current backend)."""
    _, _, shapes, draw = case
    return [tensor(draw(rng, shape), requires_grad=True, dtype="float64") for shape in shapes]


def layer_case_inputs(case, seed, rng):
    """(fn, inputs) for a layer case: the layer built in float64 with seeded parameters, as a function
    of its input and every parameter."""
    _, build, shape, mode = case
    random.seed(seed)
    layer = build()
    if isinstance(layer, nn.Module):
        layer.train(mode == "train")
        params, run = layer.parameters(), layer
    else:
        params, run = [], layer
    x = tensor(_normal(rng, shape), requires_grad=True, dtype="float64")
    return (lambda x, *p: run(x)), [x, *params]


def run_op_checks(seed=0, order=1):
    """Yield (name, report) for every op case, then every layer case: ``order=1`` checks first
    derivatives (gradcheck), ``order=2`` second derivatives (gradgradcheck)."""
    if order not in (1, 2):
        raise ValueError(f"gradient checks: order must be 1 or 2, got {order!r}")
    check = check_gradients if order == 1 else check_second_gradients
    rng = np.random.default_rng(seed)
    for case in OP_CASES:
        yield case[0], check(case[1], op_case_inputs(case, rng))
    for case in LAYER_CASES:
        fn, inputs = layer_case_inputs(case, seed, rng)
        yield case[0], check(fn, inputs)
