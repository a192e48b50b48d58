"""The gradient checks ``minigan gradcheck`` runs: small float64 cases covering every path of every
built-in op and layer.

An op case is (name, fn, input shapes, draw): its inputs are drawn from ``draw`` (seeded), kept away
from kinks where the op has one (abs, maximum, clip, ReLU) and positive where the op needs it. There
is a case for every branch an op takes: pow's p = 0, 1, 2 and general p, ``x ** 2``,
``number ** x``; matmul's 1-D @ 1-D, 1-D @ 2-D, 2-D @ 1-D, 2-D and batched (broadcast batch axes) forms;
leaky_relu's slopes inside [0, 1] (computed without ``where``) and outside it (-0.3, 1.7); clip with
one bound, two, or tensor bounds; reductions over all axes, one, several, with keepdims; norm's
orders; softplus on both sides of its threshold; and graphs where one array reaches a node by two
routes (``x * x``, ``f(x) + g(x)``, a weight used twice), whose gradients must be summed.

A layer case is (name, build, input shape, mode): the layer is built in float64, then every
parameter and buffer is redrawn at random, away from 0 — a constant initialisation (BatchNorm's
γ = 1 and β = 0, its running statistics 0 and 1) would let a backward that drops a factor pass — and
the layer is checked as a module, ``check_gradients(layer, [x])``: the input and every parameter,
named, on a copy whose buffers and random state are the same at every evaluation (Dropout's mask).
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


def _probabilities(rng, shape):
    return rng.uniform(0.1, 0.9, size=shape)


OP_CASES = [
    ("add (broadcast row)", lambda a, b: ops.add(a, b), [(3, 4), (4,)], _normal),
    ("sub (broadcast column)", lambda a, b: ops.sub(a, b), [(3, 4), (3, 1)], _normal),
    ("sub number - tensor", lambda a: 2.0 - a, [(3, 2)], _normal),
    ("mul (size-1 axes both sides)", lambda a, b: ops.mul(a, b), [(3, 1, 4), (1, 2, 4)], _normal),
    ("div", lambda a, b: ops.div(a, b), [(3, 4), (3, 4)], _positive),
    ("div (broadcast denominator)", lambda a, b: ops.div(a, b), [(3, 4), (4,)], _positive),
    ("div number / tensor", lambda a: 1.5 / a, [(3, 2)], _positive),
    ("neg", lambda a: ops.neg(a), [(5,)], _normal),
    ("pow 0", lambda a: ops.pow(a, 0), [(2, 3)], _normal),
    ("pow 1", lambda a: ops.pow(a, 1), [(2, 3)], _normal),
    ("pow 2 (x ** 2)", lambda a: a ** 2, [(2, 3)], _normal),
    ("pow 3", lambda a: ops.pow(a, 3), [(2, 3)], _normal),
    ("pow 0.5", lambda a: ops.pow(a, 0.5), [(2, 3)], _positive),
    ("pow -0.5", lambda a: ops.pow(a, -0.5), [(2, 3)], _positive),
    ("rpow", lambda a: ops.rpow(2.5, a), [(2, 3)], _normal),
    ("rpow 0.7 ** x (number ** tensor)", lambda a: 0.7 ** a, [(2, 3)], _normal),
    ("broadcast_to", lambda a: ops.broadcast_to(a, (2, 3, 4)), [(3, 1)], _normal),
    ("matmul 2-D", lambda a, b: ops.matmul(a, b), [(3, 4), (4, 2)], _normal),
    ("matmul batched", lambda a, b: ops.matmul(a, b), [(2, 3, 4), (4, 5)], _normal),
    ("matmul batched, batch axes broadcast", lambda a, b: a @ b, [(2, 1, 3, 4), (3, 4, 2)], _normal),
    ("matmul 1-D", lambda a, b: ops.matmul(a, b), [(4,), (4, 3)], _normal),
    ("matmul 1-D @ 1-D", lambda a, b: a @ b, [(4,), (4,)], _normal),
    ("matmul 2-D @ 1-D", lambda a, b: a @ b, [(3, 4), (4,)], _normal),
    ("matmul 1-D @ batched", lambda a, b: a @ b, [(4,), (2, 4, 3)], _normal),
    ("matmul batched @ 1-D", lambda a, b: a @ b, [(2, 3, 4), (4,)], _normal),
    ("exp", lambda a: ops.exp(a), [(3, 3)], _normal),
    ("log", lambda a: ops.log(a), [(3, 3)], _positive),
    ("sqrt", lambda a: ops.sqrt(a), [(3, 3)], _positive),
    ("abs", lambda a: ops.abs(a), [(3, 3)], _away_from_zero),
    ("tanh", lambda a: ops.tanh(a), [(3, 3)], _normal),
    ("sigmoid", lambda a: ops.sigmoid(a), [(3, 3)], _normal),
    ("sigmoid of large |x|", lambda a: ops.sigmoid(a * 8.0), [(3, 3)], _away_from_zero),
    ("maximum", lambda a, b: ops.maximum(a, b), [(3, 4), (4,)], _normal),
    ("maximum with a number", lambda a: ops.maximum(a, 0.1), [(3, 4)], _away_from_zero),
    ("minimum", lambda a, b: ops.minimum(a, b), [(3, 4), (3, 1)], _normal),
    ("clip", lambda a: ops.clip(a, -0.5, 0.5), [(4, 4)], _away_from_zero),
    ("clip min only", lambda a: ops.clip(a, min=-0.5), [(4, 4)], _away_from_zero),
    ("clip max only", lambda a: ops.clip(a, max=0.5), [(4, 4)], _away_from_zero),
    ("clip tensor bounds", lambda a, low, high: ops.clip((a - 1.25) * 3.0, -low, high), [(3, 4), (4,), (3, 1)],
     _positive),
    ("sum axis=1 keepdims", lambda a: ops.sum(a, 1, True), [(3, 4)], _normal),
    ("sum all", lambda a: ops.sum(a), [(3, 4)], _normal),
    ("mean axes (0, 2)", lambda a: ops.mean(a, (0, 2)), [(2, 3, 4)], _normal),
    ("mean all keepdims", lambda a: ops.mean(a, None, True), [(2, 3)], _normal),
    ("max axis=0", lambda a: ops.max(a, 0), [(4, 3)], _normal),
    ("max all", lambda a: ops.max(a), [(4, 3)], _normal),
    ("max axes (0, 2) keepdims", lambda a: ops.max(a, (0, 2), True), [(2, 3, 4)], _normal),
    ("var axis=0 ddof=1", lambda a: ops.var(a, 0, 1), [(5, 3)], _normal),
    ("var all", lambda a: ops.var(a), [(3, 4)], _normal),
    ("var axis=1 keepdims", lambda a: ops.var(a, 1, 0, True), [(3, 4)], _normal),
    ("reshape", lambda a: ops.reshape(a, (6, -1)), [(3, 4)], _normal),
    ("transpose", lambda a: ops.transpose(a, (2, 0, 1)), [(2, 3, 4)], _normal),
    ("transpose reversed (no axes)", lambda a: ops.transpose(a), [(2, 3, 4)], _normal),
    ("getitem slice", lambda a: ops.getitem(a, (slice(1, None), slice(None, None, 2))), [(4, 5)], _normal),
    ("getitem int array", lambda a: ops.getitem(a, np.array([0, 2, 0])), [(3, 4)], _normal),
    ("getitem negative step, None, ellipsis", lambda a: ops.getitem(a, (Ellipsis, None, slice(None, None, -2))),
     [(2, 3, 5)], _normal),
    ("getitem boolean mask", lambda a: ops.getitem(a, np.array([True, False, True])), [(3, 4)], _normal),
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
    ("where with a number branch", lambda a: ops.where(a.data > 0, 0.5, a), [(3, 4)], _away_from_zero),
    ("where, condition broadcast", lambda a, b: ops.where(np.array([True, False, True, False]), a, b),
     [(3, 4), (3, 1)], _normal),
    ("leaky_relu", lambda a: F.leaky_relu(a, 0.2), [(3, 4)], _away_from_zero),
    ("leaky_relu slope 0", lambda a: F.leaky_relu(a, 0.0), [(3, 4)], _away_from_zero),
    ("leaky_relu slope 1", lambda a: F.leaky_relu(a, 1.0), [(3, 4)], _away_from_zero),
    ("leaky_relu slope -0.3", lambda a: F.leaky_relu(a, -0.3), [(3, 4)], _away_from_zero),
    ("leaky_relu slope 1.7", lambda a: F.leaky_relu(a, 1.7), [(3, 4)], _away_from_zero),
    ("relu", lambda a: F.relu(a), [(3, 4)], _away_from_zero),
    ("bce (probabilities)", lambda p, t: F.binary_cross_entropy(p, t), [(6,), (6,)], _probabilities),
    ("bce reduction=none", lambda p, t: F.binary_cross_entropy(p, t, reduction="none"), [(6,), (6,)], _probabilities),
    ("bce with logits", lambda z, t: F.binary_cross_entropy_with_logits(z, t), [(6,), (6,)], _probabilities),
    ("bce with logits reduction=sum", lambda z, t: F.binary_cross_entropy_with_logits(z * 4.0, t, reduction="sum"),
     [(6,), (6,)], _probabilities),
    ("mse", lambda a, b: F.mse_loss(a, b), [(3, 2), (3, 2)], _normal),
    ("mse reduction=none", lambda a, b: F.mse_loss(a, b, reduction="none"), [(3, 2), (3, 2)], _normal),
    ("feature matching", lambda a, b: F.feature_matching_loss(a, b), [(4, 3), (5, 3)], _normal),
    ("cross entropy", lambda z: F.cross_entropy(z, np.array([0, 2, 1])), [(3, 4)], _normal),
    ("cross entropy reduction=sum", lambda z: F.cross_entropy(z, np.array([3, 3, 0]), reduction="sum"), [(3, 4)],
     _normal),
    ("log1p", lambda a: ops.log1p(a), [(3, 3)], _positive),
    ("expm1", lambda a: ops.expm1(a), [(3, 3)], _normal),
    ("sin", lambda a: ops.sin(a), [(3, 3)], _normal),
    ("cos", lambda a: ops.cos(a), [(3, 3)], _normal),
    ("square", lambda a: ops.square(a), [(3, 3)], _normal),
    ("softplus beta=2", lambda a: ops.softplus(a, beta=2.0), [(3, 4)], _normal),
    ("softplus both sides of the threshold", lambda a: ops.softplus(a * 15.0, beta=2.0), [(3, 4)], _away_from_zero),
    ("min axis=1", lambda a: ops.min(a, 1), [(3, 4)], _normal),
    ("min all keepdims", lambda a: ops.min(a, None, True), [(3, 4)], _normal),
    ("prod axis=1", lambda a: ops.prod(a, 1), [(3, 4)], _normal),
    ("prod all", lambda a: ops.prod(a), [(2, 3)], _away_from_zero),
    ("cumsum axis=0", lambda a: ops.cumsum(a, 0), [(3, 4)], _normal),
    ("cumsum flattened", lambda a: ops.cumsum(a), [(3, 4)], _normal),
    ("std axis=1 ddof=1", lambda a: ops.std(a, 1, 1), [(3, 4)], _normal),
    ("std all", lambda a: ops.std(a), [(3, 4)], _normal),
    ("norm ord=2 axis=1", lambda a: ops.norm(a, 2, 1), [(3, 4)], _normal),
    ("norm ord=2 all keepdims", lambda a: ops.norm(a, 2, None, True), [(3, 4)], _normal),
    ("norm ord=3", lambda a: ops.norm(a, 3), [(3, 4)], _away_from_zero),
    ("norm ord=1 axis=0", lambda a: ops.norm(a, 1, 0), [(3, 4)], _away_from_zero),
    ("norm ord=inf axis=1", lambda a: ops.norm(a, np.inf, 1), [(3, 4)], _away_from_zero),
    ("norm ord=-inf", lambda a: ops.norm(a, -np.inf), [(3, 4)], _away_from_zero),
    ("norm ord=0", lambda a: ops.norm(a, 0, 1) * a.sum(), [(3, 4)], _away_from_zero),
    ("softmax axis=0", lambda a: ops.softmax(a, 0), [(3, 4)], _normal),
    ("log_softmax", lambda a: ops.log_softmax(a), [(3, 4)], _normal),
    ("logsumexp axis=1", lambda a: ops.logsumexp(a, 1), [(3, 4)], _normal),
    # One array reaching a node by two routes: the two gradients must be summed, not one overwrite the other.
    ("mul x * x (one array, two routes)", lambda a: a * a, [(3, 4)], _normal),
    ("add f(x) + g(x) (two routes)", lambda a: ops.exp(a) + ops.sin(a), [(3, 4)], _normal),
    ("matmul weight used twice", lambda x, w: (x @ w).tanh() @ w, [(2, 3), (3, 3)], _normal),
    ("matmul x @ x", lambda a: a @ a, [(3, 3)], _normal),
    ("maximum of two routes", lambda a: ops.maximum(a, a * 0.5), [(3, 4)], _away_from_zero),
    ("concatenate one array twice", lambda a: ops.concatenate([a, a * 3.0], axis=0), [(2, 3)], _normal),
    ("mul (a + b) * (a - b) (a diamond)", lambda a, b: (a + b) * (a - b), [(3, 4), (3, 4)], _normal),
    ("einsum x·A·x (one array twice)", lambda x, A: ops.einsum("i,ij,j->", x, A, x), [(3,), (3, 3)], _normal),
]


LAYER_CASES = [
    ("Dense", lambda: nn.Dense(4, 3, dtype="float64"), (5, 4), "train"),
    ("Dense (no bias)", lambda: nn.Dense(4, 3, bias=False, dtype="float64"), (5, 4), "train"),
    ("BatchNorm1d (train)", lambda: nn.BatchNorm1d(4, dtype="float64"), (6, 4), "train"),
    ("BatchNorm1d (eval)", lambda: nn.BatchNorm1d(4, dtype="float64"), (6, 4), "eval"),
    ("BatchNorm1d (N, C, L)", lambda: nn.BatchNorm1d(3, dtype="float64"), (4, 3, 5), "train"),
    ("BatchNorm1d (N, C, L, eval)", lambda: nn.BatchNorm1d(3, dtype="float64"), (4, 3, 5), "eval"),
    ("BatchNorm1d (no affine)", lambda: nn.BatchNorm1d(4, affine=False, dtype="float64"), (6, 4), "train"),
    ("BatchNorm1d (eval, untracked statistics)",
     lambda: nn.BatchNorm1d(4, track_running_stats=False, dtype="float64"), (6, 4), "eval"),
    ("SyncBatchNorm1d (train, one rank)", lambda: nn.SyncBatchNorm1d(4, dtype="float64"), (6, 4), "train"),
    ("SyncBatchNorm1d (N, C, L, eval)", lambda: nn.SyncBatchNorm1d(3, dtype="float64"), (4, 3, 5), "eval"),
    ("LayerNorm", lambda: nn.LayerNorm(4, dtype="float64"), (5, 4), "train"),
    ("LayerNorm over (3, 4)", lambda: nn.LayerNorm((3, 4), dtype="float64"), (2, 3, 4), "train"),
    ("InstanceNorm1d", lambda: nn.InstanceNorm1d(4, affine=True, dtype="float64"), (5, 4), "train"),
    ("InstanceNorm1d (N, C, L)", lambda: nn.InstanceNorm1d(4, affine=True, dtype="float64"), (3, 4, 5), "train"),
    ("InstanceNorm1d (no affine)", lambda: nn.InstanceNorm1d(4, dtype="float64"), (5, 4), "train"),
    ("LayerNorm (no affine)", lambda: nn.LayerNorm(4, elementwise_affine=False, dtype="float64"), (5, 4), "train"),
    ("MinibatchDiscrimination", lambda: nn.MinibatchDiscrimination(4, 3, 2, dtype="float64"), (5, 4), "train"),
    # eval: u and v are then constants; a training forward's power iteration makes them depend on W
    ("Dense (spectral norm, eval)", lambda: nn.spectral_norm(nn.Dense(4, 3, dtype="float64")), (5, 4), "eval"),
    ("LeakyReLU", lambda: nn.LeakyReLU(0.2), (3, 4), "train"),
    ("LeakyReLU (slope -0.3)", lambda: nn.LeakyReLU(-0.3), (3, 4), "train"),
    ("LeakyReLU (slope 1.7)", lambda: nn.LeakyReLU(1.7), (3, 4), "train"),
    ("ReLU", lambda: nn.ReLU(), (3, 4), "train"),
    ("Tanh", lambda: nn.Tanh(), (3, 4), "train"),
    ("Sigmoid", lambda: nn.Sigmoid(), (3, 4), "train"),
    ("Dropout (train)", lambda: nn.Dropout(0.3), (4, 5), "train"),
    ("Dropout (eval)", lambda: nn.Dropout(0.3), (4, 5), "eval"),
    ("Sequential Dense-BN-LeakyReLU-Dense",
     lambda: nn.Sequential(nn.Dense(3, 4, dtype="float64"), nn.BatchNorm1d(4, dtype="float64"), nn.LeakyReLU(0.2),
                           nn.Dense(4, 2, dtype="float64")), (6, 3), "train"),
    ("Sequential Dense-BN-LeakyReLU-Dense (eval)",
     lambda: nn.Sequential(nn.Dense(3, 4, dtype="float64"), nn.BatchNorm1d(4, dtype="float64"), nn.LeakyReLU(0.2),
                           nn.Dense(4, 2, dtype="float64")), (6, 3), "eval"),
    ("Sequential Dense-ReLU-Dropout-Dense-Sigmoid",
     lambda: nn.Sequential(nn.Dense(3, 5, dtype="float64"), nn.ReLU(), nn.Dropout(0.4), nn.Dense(5, 2, dtype="float64"),
                           nn.Sigmoid()), (4, 3), "train"),
]


def op_case_inputs(case, rng):
    """The float64 leaves an op case is checked at (on the current backend)."""
    _, _, shapes, draw = case
    return [tensor(draw(rng, shape), requires_grad=True, dtype="float64") for shape in shapes]


def redraw(module, rng):
    """Give every parameter of ``module`` random values ±[0.5, 1.5] and every buffer (BatchNorm's running
    statistics) random values in [0.5, 1.5], in place: no scale is 1 and no shift or mean is 0, so a
    backward that drops one of them cannot pass by chance."""
    for p in module.parameters():
        values = rng.choice([-1.0, 1.0], size=p.shape) * rng.uniform(0.5, 1.5, size=p.shape)
        p.data[...] = p.xp.asarray(values, dtype=p.dtype)
    for b in module.buffers():
        b.data[...] = b.xp.asarray(rng.uniform(0.5, 1.5, size=b.shape), dtype=b.dtype)
    return module


def layer_case_inputs(case, seed, rng):
    """(layer, [x]) for a layer case: the layer built in float64 (on the current backend) with random
    parameters and buffers (:func:`redraw`), in the case's mode, and its input x (requires grad). Check
    them with ``check_gradients(layer, [x])``: the input and every parameter."""
    _, build, shape, mode = case
    random.seed(seed)
    layer = redraw(build(), rng).train(mode == "train")
    x = tensor(_normal(rng, shape), requires_grad=True, dtype="float64")
    return layer, [x]


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
        layer, inputs = layer_case_inputs(case, seed, rng)
        yield case[0], check(layer, inputs)
