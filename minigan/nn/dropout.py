"""Dropout (Srivastava et al., 2014), inverted: kept units are scaled by 1/(1−p) during training."""

from minigan import random
from minigan.nn.module import Module
from minigan.tensor import Tensor


def dropout(x, p=0.5, training=True):
    """out = x · mask / (1 − p) with mask ~ Bernoulli(1 − p) in training, x itself otherwise;
    dx = g · mask / (1 − p). The mask comes from :mod:`minigan.random` (seeded)."""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout: p must be in [0, 1), got {p}")
    if not training or p == 0.0:
        return x
    keep = random.generator().random(x.shape) >= p
    scale = x.xp.asarray(keep, dtype=x.dtype) * x.xp.asarray(1.0 / (1.0 - p), dtype=x.dtype)
    out = x.data * scale

    def backward(g, needs):
        return (g * scale,)

    return Tensor._from_op(out, (x,), backward, "dropout", saved=())


class Dropout(Module):
    """Zero each element with probability ``p`` in training (scaling the rest by 1/(1−p)); identity in eval."""

    def __init__(self, p=0.5):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x):
        return dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"
