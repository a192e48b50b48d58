"""Losses: binary cross-entropy (on probabilities, and on logits), mean squared error, feature matching.

Each takes ``reduction``: "mean" (default), "sum" or "none". Targets may be soft (label smoothing:
0.9 instead of 1), given as a tensor, an array or a number.
"""

import numbers

import numpy as np

from minigan import backends, cuda, ops
from minigan.errors import ShapeError
from minigan.ops.broadcasting import constant_like
from minigan.ops.elementwise import sigmoid_of, stable_sigmoid
from minigan.ops.namespace import namespace
from minigan.tensor import Tensor, check_same_backend

REDUCTIONS = ("mean", "sum", "none")


def _reduce(loss, reduction, op):
    if reduction == "mean":
        return ops.mean(loss)
    if reduction == "sum":
        return ops.sum(loss)
    if reduction == "none":
        return loss
    raise ValueError(f"{op}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _target(op, prediction, target):
    if not isinstance(target, Tensor):
        target = constant_like(target, prediction, op)
        if target.ndim == 0:
            target = constant_like(prediction.xp.full(prediction.shape, target.data), prediction, op)
    check_same_backend(op, prediction, target)
    if target.shape != prediction.shape:
        raise ShapeError(f"{op}: target has shape {target.shape} but the input has shape {prediction.shape}")
    return target


def _clamped_log(xp, v):
    """max(log v, −100), with log never evaluated at 0 (so no warning, and −100 exactly there)."""
    positive = v > 0
    return xp.where(positive, xp.maximum(xp.log(xp.where(positive, v, 1)), -100.0), -100.0)


def binary_cross_entropy(p, target, reduction="mean"):
    """ℓ = −[t · log p + (1 − t) · log(1 − p)] for probabilities p, with each log clamped at −100.

    The clamp (PyTorch's) keeps ℓ finite at p = 0 or 1, and no log(0) is ever evaluated. Backward,
    with the same protection:
    dp = g · (p − t) / max(p (1 − p), 1e-12),  dt = g · (log(1 − p) − log p).
    Both lines are ops on tensors under ``create_graph``, so the loss is twice differentiable (in p
    and t) wherever the clamps are not active.
    """
    target = _target("binary_cross_entropy", p, target)
    xp = p.xp
    t = target.data
    loss = -(t * _clamped_log(xp, p.data) + (1 - t) * _clamped_log(xp, 1 - p.data))

    def backward(g, needs, p, t):
        xp = namespace(g)
        dp = g * (p - t) / xp.maximum(p * (1 - p), 1e-12) if needs[0] else None
        dt = g * (_clamped_log(xp, 1 - p) - _clamped_log(xp, p)) if needs[1] else None
        return dp, dt

    out = Tensor._from_op(loss, (p, target), backward, "binary_cross_entropy", saved=(p, target))
    return _reduce(out, reduction, "binary_cross_entropy")


def binary_cross_entropy_with_logits(logits, target, reduction="mean"):
    """ℓ = −[t · log σ(z) + (1 − t) · log(1 − σ(z))] on logits z, in the stable form

        ℓ = max(z, 0) − z · t + log(1 + e^(−|z|))

    finite for any z (±1000 included). Backward: dz = g · (σ(z) − t),  dt = −g · z; under
    ``create_graph`` these are ops (σ through :func:`minigan.sigmoid`), so d²ℓ/dz² = g σ(z)(1 − σ(z))
    follows.

    On the CuPy backend, reduced by "mean" or "sum" and with a target that needs no gradient, the
    loss and its reduction are one op computed by ``kernels/bce_with_logits.cu`` (the
    "bce_with_logits" family of :mod:`minigan.cuda`), and dz = (g / n or g) · (σ(z) − t) one launch;
    a number as target is passed as such, not spread into an array.
    """
    if _bce_kernel_applies(logits, target, reduction):
        return _bce_with_logits_on_kernel(logits, target, reduction)
    target = _target("binary_cross_entropy_with_logits", logits, target)
    loss = bce_with_logits_arrays(logits.data, target.data)

    def backward(g, needs, z, t):
        if needs[0]:
            dz = g * (sigmoid_of(z) - t) if isinstance(g, Tensor) else bce_with_logits_backward_arrays(g, z, t)
        dt = -g * z if needs[1] else None
        return (dz if needs[0] else None), dt

    out = Tensor._from_op(loss, (logits, target), backward, "bce_with_logits", saved=(logits, target))
    return _reduce(out, reduction, "binary_cross_entropy_with_logits")


def bce_with_logits_arrays(z, t, out=None, scratch=None):
    """ℓ = max(z, 0) − z · t + log(1 + e^(−|z|)) elementwise on arrays (t an array or a number), into
    ``out`` with ``scratch`` (both shaped like z) if given: the same operations in the same order either
    way (the static training step, :mod:`minigan.gan.static_step`, passes buffers)."""
    xp = backends.array_module(z)
    if out is None:  # a float64 target with float32 logits makes a float64 loss, as z · t is float64
        out = xp.empty(z.shape, xp.result_type(z, t))
    loss = xp.maximum(z, 0, out=out)
    loss -= xp.multiply(z, t, out=scratch)
    term = xp.abs(z, out=scratch)
    xp.log1p(xp.exp(xp.negative(term, out=term), out=term), out=term)
    loss += term
    return loss


def bce_with_logits_backward_arrays(g, z, t, out=None):
    """dz = g · (σ(z) − t) on arrays, into ``out`` if given."""
    dz = stable_sigmoid(backends.array_module(z), z, out=out)
    dz -= t
    dz *= g
    return dz


def _bce_kernel_applies(logits, target, reduction):
    """The fused kernel reduces by mean or sum, on CuPy, with a constant target of the logits' dtype."""
    if reduction not in ("mean", "sum") or not cuda.use_kernel("bce_with_logits", logits.data):
        return False
    return not isinstance(target, Tensor) or (not target.requires_grad and target.dtype == logits.dtype)


def _bce_with_logits_on_kernel(logits, target, reduction):
    """The fused loss: one node from the logits to the reduced loss (the target is a constant)."""
    if not isinstance(target, numbers.Real):
        target = _target("binary_cross_entropy_with_logits", logits, target).data
    loss = cuda.bce_with_logits_forward(logits.data, target, reduction)
    scale = 1.0 / logits.size if reduction == "mean" else 1.0

    def backward(g, needs, z):
        if isinstance(g, Tensor):
            return (g * scale * (ops.sigmoid(z) - target),)
        return (cuda.bce_with_logits_backward(g, z, target, reduction),)

    return Tensor._from_op(loss, (logits,), backward, "bce_with_logits", saved=(logits,))


def mse_loss(prediction, target, reduction="mean"):
    """ℓ = (prediction − target)²."""
    target = _target("mse_loss", prediction, target)
    difference = prediction - target
    return _reduce(difference * difference, reduction, "mse_loss")


def feature_matching_loss(real_features, fake_features):
    """‖mean over the batch of f(x) − mean over the batch of f(G(z))‖² (Salimans et al., 2016, §3.1).

    The generator's objective in feature matching: match the statistics of the discriminator's
    intermediate features on real data. Batch sizes may differ; feature sizes must agree.
    """
    check_same_backend("feature_matching_loss", real_features, fake_features)
    if real_features.shape[1:] != fake_features.shape[1:]:
        raise ShapeError(
            f"feature_matching_loss: real features {real_features.shape} and fake features "
            f"{fake_features.shape} differ beyond the batch axis"
        )
    difference = ops.mean(real_features, axis=0) - ops.mean(fake_features, axis=0)
    return ops.sum(difference * difference)


def log_softmax(logits, axis=-1):
    """log softmax(z) = z − m − log Σ exp(z − m) along ``axis``, m = max z: the fused op
    :func:`minigan.ops.log_softmax` (backward dz = g − softmax(z) Σ g, twice differentiable)."""
    return ops.log_softmax(logits, axis)


def cross_entropy(logits, labels, reduction="mean"):
    """ℓ = −log softmax(z)[label] for logits (N, K) and integer labels (N,) in [0, K).

    The log-probabilities come from the fused op :func:`minigan.ops.log_softmax`, and the label's is
    picked by indexing: dz = g · (softmax(z) − onehot(label)), differentiable again.
    """
    labels = labels.get() if hasattr(labels, "get") else np.asarray(labels)
    if logits.ndim != 2 or labels.shape != (logits.shape[0],):
        raise ShapeError(f"cross_entropy: expected logits (N, K) and labels (N,), got {logits.shape} and {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= logits.shape[1]):
        raise ShapeError(f"cross_entropy: labels must lie in [0, {logits.shape[1]}), got [{labels.min()}, {labels.max()}]")
    picked = ops.log_softmax(logits, 1)[np.arange(logits.shape[0]), labels.astype(np.int64)]
    return _reduce(-picked, reduction, "cross_entropy")
