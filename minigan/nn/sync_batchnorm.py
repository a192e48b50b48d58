"""Synchronised batch normalisation: ``sync_batch_norm`` and ``SyncBatchNorm1d``, BatchNorm whose batch
is the union of every rank's batch in a data-parallel run (:mod:`minigan.distributed`).

One process (``minigan/nn/batchnorm.py``) normalises a batch of m values per feature with its mean μ
and biased variance σ², and its backward is

    ∂ℓ/∂xᵢ = (γ / (m σ)) · (m gᵢ − Σⱼ gⱼ − x̂ᵢ Σⱼ gⱼ x̂ⱼ),    ∂ℓ/∂γ = Σⱼ gⱼ x̂ⱼ,    ∂ℓ/∂β = Σⱼ gⱼ

(σ here is √(σ² + ε)). With R ranks, rank r holds nᵣ of the N = Σᵣ nᵣ rows; the layer must compute
what one process would on all N rows.

Forward. Rank r computes its count nᵣ, mean μᵣ and M2ᵣ = Σ_{i∈r} (xᵢ − μᵣ)² (two passes over its own
rows), and one all-gather gives every rank every (nᵣ, μᵣ, M2ᵣ): 1 + 2C numbers per rank. Then, as
Chan, Golub & LeVeque (1979) merge partial variances,

    μ   = Σᵣ nᵣ μᵣ / N
    M2  = Σᵣ [ M2ᵣ + nᵣ (μᵣ − μ)² ]          since Σ_{i∈r} (xᵢ − μ)² = M2ᵣ + nᵣ (μᵣ − μ)²
    σ²  = M2 / N

— exact in exact arithmetic, and, unlike σ² = Σx²/N − μ² from all-reduced sums, free of the
cancellation that ruins it when |μ| ≫ σ: every term is non-negative. Every rank merges the same
gathered numbers in the same order, so μ, σ² and the running statistics (updated with the unbiased
σ² · N/(N − 1), N the global count) are bit for bit the same on every rank.

Backward. The loss of a data-parallel step is the sum of the ranks' losses, ℓ = Σᵣ ℓᵣ, and rank r
back-propagates its own: gᵢ = ∂ℓᵣ/∂yᵢ for its rows. μ and σ² depend on every rank's rows, so ℓ_s of
another rank s reaches xᵢ through them: in the one-process derivation, ∂ℓ/∂μ = −(γ/σ) Σⱼ gⱼ and
∂ℓ/∂σ² = −(γ/(2σ²)) Σⱼ gⱼ x̂ⱼ now sum over **all N rows**, and the direct term γ gᵢ/σ stays local:

    ∂ℓ/∂xᵢ = (γ / (N σ)) · (N gᵢ − S₁ − x̂ᵢ S₂),   S₁ = Σ_all g,  S₂ = Σ_all g x̂,

so the backward needs one all-reduce of the 2C numbers [Σ_{rank} g, Σ_{rank} g x̂]. ∂ℓ/∂γ = S₂ and
∂ℓ/∂β = S₁ split over the ranks as their local parts; each rank keeps its part, and the gradient
all-reduce of the optimizer step adds them with every other parameter's (dividing by R, as it does for
all gradients: the step's loss is then the mean of the ranks' losses; minigan's trainer weighs each
rank's loss so that this mean is the global batch's mean loss).

Second derivatives. Under ``create_graph=True`` the backward runs on tensors and is recorded: μ, σ and
the two sums are recomputed from x with a differentiable all-reduce (``summed_over_ranks``: forward,
the sum over ranks; backward, the sum over ranks of the incoming gradient — the adjoint of "every rank
receives the sum"), so the double backward spans the ranks too (PyTorch's SyncBatchNorm has none).

With one rank (or inside :func:`minigan.distributed.single_rank`), and in eval mode with running
statistics, ``SyncBatchNorm1d`` is ``BatchNorm1d``, fused kernels included.
"""

from minigan import distributed
from minigan.backends import array_module
from minigan.distributed import collectives
from minigan.errors import ShapeError
from minigan.nn.batchnorm import (BatchNorm1d, _checked_parents, _data, _per_feature, _stat_axes, _update_running_statistics,
                                  _with_parameter_grads)
from minigan.tensor import Tensor


def summed_over_ranks(t):
    """A differentiable all-reduce: every rank gets Σ over ranks of ``t`` (a new tensor). Its backward is
    the same sum of the incoming gradients, so every rank must run it (forward and backward) in step."""
    out = t.data.copy()
    collectives.all_reduce(out)

    def backward(g, needs):
        if isinstance(g, Tensor):
            return (summed_over_ranks(g),)
        g = g.copy()
        collectives.all_reduce(g)
        return (g,)

    return Tensor._from_op(out, (t,), backward, "summed_over_ranks", saved=())


def _local_moments(x, axes, xp):
    """(n, μᵣ, M2ᵣ) of this rank's rows, with μᵣ = M2ᵣ = 0 when it has none."""
    channels = x.shape[1]
    n = x.size // channels
    if n == 0:
        zeros = xp.zeros(channels, dtype=x.dtype)
        return n, zeros, zeros.copy()
    mean = x.mean(axis=axes)
    centered = x - _per_feature(mean, x.ndim)
    return n, mean, (centered * centered).sum(axis=axes)


def sync_batch_norm(x, weight, bias, running_mean, running_var, momentum=0.1, eps=1e-5):
    """Training-mode batch normalisation of ``x`` (N, C) or (N, C, L) over the union of every rank's
    batch: the module docstring's forward (one all-gather) and backward (one all-reduce). Arguments as
    :func:`minigan.nn.batchnorm.batch_norm`'s; the running statistics are updated in place."""
    axes = _stat_axes(x)
    parents = _checked_parents("sync_batch_norm", x, weight, bias, running_mean, running_var)
    channels = x.shape[1]
    xp, dtype = x.xp, x.data.dtype
    n, local_mean, local_m2 = _local_moments(x.data, axes, xp)
    local = xp.concatenate([xp.asarray([n], dtype=dtype), local_mean, local_m2])
    parts = collectives.all_gather(local)                   # (R, 1 + 2C), the same on every rank
    counts = parts[:, :1]
    total = int(round(float(counts.sum())))
    if total < 2:
        raise ShapeError(f"sync_batch_norm: training needs more than one value per feature over all ranks to "
                         f"estimate a variance, got {total} (this rank's input {x.shape})")
    means, m2s = parts[:, 1:1 + channels], parts[:, 1 + channels:]
    mean = (counts * means).sum(axis=0) / total
    spread = means - mean
    var = (m2s.sum(axis=0) + (counts * spread * spread).sum(axis=0)) / total
    _update_running_statistics(_data(running_mean), _data(running_var), mean, var, momentum, total)
    inv_std = 1 / xp.sqrt(var + eps)
    x_hat = (x.data - _per_feature(mean, x.ndim)) * _per_feature(inv_std, x.ndim)
    out = x_hat if weight is None else x_hat * _per_feature(weight.data, x.ndim)
    del x_hat
    if bias is not None:
        out += _per_feature(bias.data, x.ndim)
    backward = _synchronised_backward(x.ndim, axes, total, mean, inv_std, eps, weight is not None, bias is not None)
    return Tensor._from_op(out, parents, backward, "sync_batch_norm", saved=(x, weight))


def _synchronised_backward(ndim, axes, total, mean, inv_std, eps, has_weight, has_bias):
    """The backward of one sync_batch_norm call (module docstring): arrays in an ordinary pass, tensors
    (recorded, with μ, σ and the sums recomputed from x across the ranks) under ``create_graph``."""
    def per_feature(v):
        return _per_feature(v, ndim)

    def backward(g, needs, x, weight):
        on_tensors = isinstance(g, Tensor)
        if on_tensors:
            mu = summed_over_ranks(x.sum(axis=axes)) / total
            centered = x - per_feature(mu)
            inv = 1 / (summed_over_ranks((centered * centered).sum(axis=axes)) / total + eps) ** 0.5
            x_hat = centered * per_feature(inv)
        else:
            inv = inv_std
            x_hat = (x - per_feature(mean)) * per_feature(inv)
        sum_g = g.sum(axis=axes)                 # this rank's parts of ∂ℓ/∂β and ∂ℓ/∂γ
        sum_g_x_hat = (g * x_hat).sum(axis=axes)
        d_x = None
        if needs[0]:
            channels = sum_g.shape[0]
            if on_tensors:
                s1, s2 = summed_over_ranks(sum_g), summed_over_ranks(sum_g_x_hat)
            else:
                sums = array_module(sum_g).concatenate([sum_g, sum_g_x_hat])
                collectives.all_reduce(sums)    # [S₁, S₂]: the one collective of the backward
                s1, s2 = sums[:channels], sums[channels:]
            scale = inv * weight if has_weight else inv
            d_x = (g * total - per_feature(s1) - x_hat * per_feature(s2)) * per_feature(scale / total)
        return _with_parameter_grads(d_x, sum_g_x_hat, sum_g, needs, has_weight, has_bias)

    return backward


class SyncBatchNorm1d(BatchNorm1d):
    """``BatchNorm1d`` whose training-mode statistics (and backward) span every rank of a data-parallel
    run (module docstring); the same arguments, parameters, buffers and state dict as ``BatchNorm1d``.

    ``SyncBatchNorm1d.convert(model)`` swaps every ``BatchNorm1d`` inside ``model`` for one, keeping its
    Parameter and buffer objects (an optimizer built before still holds them), as PyTorch's
    ``SyncBatchNorm.convert_sync_batchnorm``. In eval mode (running statistics), with one rank, and
    inside :func:`minigan.distributed.single_rank` it computes exactly what ``BatchNorm1d`` does; so
    does eval mode without running statistics (``track_running_stats=False``: this rank's batch), as
    PyTorch synchronises in training mode only.
    """

    def forward(self, x):
        if not self.training or distributed.is_single_rank_scope():  # as PyTorch: only training syncs
            return super().forward(x)
        self._check_input(x)
        return sync_batch_norm(x, self.weight, self.bias, self.running_mean, self.running_var,
                               momentum=self.momentum, eps=self.eps)

    @classmethod
    def convert(cls, module):
        """``module`` with every ``BatchNorm1d`` in it (itself included) replaced by a ``SyncBatchNorm1d``
        sharing its parameters, buffers, hooks and mode. Converts in place and returns the module (a
        new object only when ``module`` itself is a BatchNorm1d)."""
        if isinstance(module, BatchNorm1d) and not isinstance(module, cls):
            return _as_sync(cls, module)
        for parent in module.modules():
            for name, child in parent._modules.items():
                if isinstance(child, BatchNorm1d) and not isinstance(child, cls):
                    parent._modules[name] = _as_sync(cls, child)
        return module


def _as_sync(cls, layer):
    """The same layer as a ``cls``: its attributes, registries and hook lists shared, not copied, so
    hook handles made before the conversion still remove their hooks."""
    sync = cls.__new__(cls)
    sync.__dict__.update(layer.__dict__)
    return sync


__all__ = ["SyncBatchNorm1d", "sync_batch_norm", "summed_over_ranks"]
