"""Per-sample normalisations, composed from core ops (their gradients come from the ops' backward).

- ``layer_norm``: each sample normalised over its last axes (Ba et al., 2016), then scaled and shifted.
- ``instance_norm``: each sample normalised on its own (Ulyanov et al., 2016): over L per channel for
  (N, C, L) input, and over the C features for (N, C) input — the per-sample normalisation a dense
  GAN can use instead of BatchNorm, so that no sample's output depends on the rest of the batch.

Both use the biased variance, as BatchNorm does for normalising.
"""

import numpy as np

from minigan import ops
from minigan.errors import ShapeError
from minigan.nn.module import Module, Parameter
from minigan.tensor import get_default_dtype


def _normalize(x, axes, eps):
    centered = x - ops.mean(x, axes, keepdims=True)
    return centered / ops.sqrt(ops.mean(centered * centered, axes, keepdims=True) + eps)


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """(x − mean) / √(var + eps) over the last ``len(normalized_shape)`` axes, then · weight + bias.

    ``normalized_shape`` is an int (the last axis) or a sequence of ints, as in PyTorch.
    """
    if isinstance(normalized_shape, (int, np.integer)):
        normalized_shape = (int(normalized_shape),)
    normalized_shape = tuple(normalized_shape)
    if x.shape[x.ndim - len(normalized_shape):] != normalized_shape:
        raise ShapeError(f"layer_norm: input of shape {x.shape} does not end in normalized_shape {normalized_shape}")
    out = _normalize(x, tuple(range(x.ndim - len(normalized_shape), x.ndim)), eps)
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def instance_norm(x, weight=None, bias=None, eps=1e-5):
    """Normalise each sample alone: over L for (N, C, L), over C for (N, C); then · weight + bias per C."""
    if x.ndim == 2 and x.shape[1] < 2:
        raise ShapeError(f"instance_norm: (N, C) input needs at least 2 features to normalise over, got {x.shape}")
    if x.ndim == 2:
        out = _normalize(x, (1,), eps)
        shape = (1, -1)
    elif x.ndim == 3:
        out = _normalize(x, (2,), eps)
        shape = (1, -1, 1)
    else:
        raise ShapeError(f"instance_norm: expected input of shape (N, C) or (N, C, L), got {x.shape}")
    if weight is not None:
        out = out * ops.reshape(weight, shape)
    if bias is not None:
        out = out + ops.reshape(bias, shape)
    return out


class LayerNorm(Module):
    """Layer normalisation over the last axes ``normalized_shape``, with a learned scale and shift."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, dtype=None):
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps = eps
        dtype = dtype or get_default_dtype()
        if elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape), dtype=dtype)
            self.bias = Parameter(np.zeros(self.normalized_shape), dtype=dtype)
        else:
            self.weight = self.bias = None

    def forward(self, x):
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}"


class InstanceNorm1d(Module):
    """Instance normalisation (see :func:`instance_norm`); ``affine=True`` adds a per-feature scale and shift.

    It keeps no running statistics: training and eval behave the same.
    """

    def __init__(self, num_features, eps=1e-5, affine=False, dtype=None):
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        dtype = dtype or get_default_dtype()
        if affine:
            self.weight = Parameter([1.0] * num_features, dtype=dtype)
            self.bias = Parameter([0.0] * num_features, dtype=dtype)
        else:
            self.weight = self.bias = None

    def forward(self, x):
        if x.ndim not in (2, 3) or x.shape[1] != self.num_features:
            raise ShapeError(
                f"InstanceNorm1d({self.num_features}): expected input of shape (N, {self.num_features}) or "
                f"(N, {self.num_features}, L), got {x.shape}"
            )
        return instance_norm(x, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, affine={self.weight is not None}"
