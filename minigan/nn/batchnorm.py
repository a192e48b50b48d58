"""Batch normalisation (Ioffe & Szegedy, 2015): the fused ``batch_norm`` op and ``BatchNorm1d``.

The op is one node on the tape whose backward returns dx, dγ and dβ in closed form. In training, for a
batch of m values of one feature (the paper's Algorithm 1):

    μ    = (1/m) Σᵢ xᵢ                    mini-batch mean
    σ²   = (1/m) Σᵢ (xᵢ − μ)²             mini-batch variance (biased)
    x̂ᵢ   = (xᵢ − μ) / √(σ² + ε)           normalise
    yᵢ   = γ x̂ᵢ + β                       scale and shift

and backward, given g = ∂ℓ/∂y (the paper's section 3, one line each):

    ∂ℓ/∂x̂ᵢ = gᵢ · γ
    ∂ℓ/∂σ² = Σᵢ ∂ℓ/∂x̂ᵢ · (xᵢ − μ) · (−½)(σ² + ε)^(−3/2)
    ∂ℓ/∂μ  = Σᵢ ∂ℓ/∂x̂ᵢ · (−1/√(σ² + ε)) + ∂ℓ/∂σ² · Σᵢ −2(xᵢ − μ) / m
    ∂ℓ/∂xᵢ = ∂ℓ/∂x̂ᵢ / √(σ² + ε) + ∂ℓ/∂σ² · 2(xᵢ − μ)/m + ∂ℓ/∂μ / m
    ∂ℓ/∂γ  = Σᵢ gᵢ · x̂ᵢ
    ∂ℓ/∂β  = Σᵢ gᵢ

In evaluation mode μ and σ² are the running statistics, constants, so ∂ℓ/∂xᵢ = gᵢ γ / √(σ² + ε).

The code computes the training backward in the closed form these four lines sum up to. With
σ = √(σ² + ε), x̂ᵢ = (xᵢ − μ)/σ and Σᵢ(xᵢ − μ) = 0 (so the second term of ∂ℓ/∂μ vanishes):

    ∂ℓ/∂σ² = −(γ / (2σ³)) Σⱼ gⱼ (xⱼ − μ)          = −(γ / (2σ²)) Σⱼ gⱼ x̂ⱼ
    ∂ℓ/∂μ  = −(γ / σ) Σⱼ gⱼ
    ∂ℓ/∂xᵢ = γ gᵢ / σ − (γ / (m σ)) x̂ᵢ Σⱼ gⱼ x̂ⱼ − (γ / (m σ)) Σⱼ gⱼ
           = (γ / (m σ)) · (m gᵢ − Σⱼ gⱼ − x̂ᵢ Σⱼ gⱼ x̂ⱼ)      with Σⱼ gⱼ = ∂ℓ/∂β and Σⱼ gⱼ x̂ⱼ = ∂ℓ/∂γ,

so one pass for the two sums and a few for ∂ℓ/∂x. Only x (saved for backward, which the layer before
usually keeps too), μ and 1/σ (C numbers each) are kept: x̂ is recomputed from x, so BatchNorm adds
no (N, C) array of its own to a training step's memory.

Second derivatives: the backward is written with operators on g, x and γ, so under
``create_graph=True`` it runs on tensors and is itself recorded (Chainer makes the same closed form a
node of its own, ``BatchNormalizationGrad``; here the node's ops are the closed form's lines). In
training μ and 1/σ are then recomputed from x as ops, so that their dependence on x is
differentiated too.

On the CuPy backend, an (N, C) input goes through the fused kernels of ``kernels/batchnorm.cu`` (the
"batchnorm" family of :mod:`minigan.cuda`): one launch for the training forward (statistics,
normalisation, affine, running statistics), one for its backward, which is the closed form above
summed up, ∂ℓ/∂x = (γ/(m σ))(m g − Σg − x̂ Σ g x̂) with σ = √(σ² + ε); and one for the eval-mode forward
when no graph is recorded (sampling, evaluation). Like ``linear``, the backward then reads ``x``
again: do not change it in place between forward and backward.

Over several processes (data parallelism), ``minigan/nn/sync_batchnorm.py`` derives the same forward and
backward with the batch spread over the ranks: the two sums Σg and Σg x̂ become sums over every rank.
"""

from minigan import autograd, backends, cpu, cuda
from minigan.errors import ShapeError
from minigan.nn.module import Module, Parameter
from minigan.tensor import Tensor, check_same_backend, get_default_dtype


def _stat_axes(x):
    if x.ndim == 2:
        return (0,)
    if x.ndim == 3:
        return (0, 2)
    raise ShapeError(f"batch_norm: expected input of shape (N, C) or (N, C, L), got {x.shape}")


def _per_feature(array, ndim):
    """Shape a (C,) array to broadcast against (N, C) or (N, C, L)."""
    return array if ndim == 2 else array.reshape(-1, 1)


def batch_norm(x, weight, bias, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    """Normalise ``x`` (N, C) or (N, C, L) per feature C; one op with the closed-form backward above.

    ``weight`` (γ) and ``bias`` (β) are (C,) tensors or None, independently (γ = 1 or β = 0 when
    absent, as in PyTorch). ``running_mean``/``running_var`` are (C,) tensors or None. In training
    (``training=True``) the batch statistics normalise, and the running statistics, when given, are
    updated in place:

        running_mean ← (1 − momentum) · running_mean + momentum · μ
        running_var  ← (1 − momentum) · running_var  + momentum · σ² · m / (m − 1)   (unbiased σ²)

    Otherwise the running statistics normalise.
    """
    axes = _stat_axes(x)
    parents = _checked_parents("batch_norm", x, weight, bias, running_mean, running_var)
    channels = x.shape[1]
    m = x.size // channels
    xp = x.xp
    if training and m < 2:
        raise ShapeError(
            f"batch_norm: training needs more than one value per feature to estimate a variance, got "
            f"input of shape {x.shape}; use a batch of at least 2, or eval() mode"
        )
    if not training and (running_mean is None or running_var is None):
        raise ShapeError("batch_norm: evaluation mode needs running_mean and running_var")
    if _kernel_applies(x, weight, bias, running_mean, running_var, training):
        return _batch_norm_on_kernels(x, weight, bias, running_mean, running_var, training, momentum, eps, parents)
    if training:
        out, mean, inv_std = train_forward_arrays(
            x.data, axes, _data(weight), _data(bias), _data(running_mean), _data(running_var), momentum, eps)
    else:
        # A copy of the running mean (C numbers): a training-mode call before this op's backward
        # updates the buffer in place, and the backward must see the mean the forward used.
        mean, var = running_mean.data.copy(), running_var.data
        x_hat = x.data - _per_feature(mean, x.ndim)
        inv_std = 1 / xp.sqrt(var + eps)
        x_hat *= _per_feature(inv_std, x.ndim)
        out = x_hat if weight is None else x_hat * _per_feature(weight.data, x.ndim)
        del x_hat  # not kept for backward: it is recomputed there from x
        if bias is not None:
            out += _per_feature(bias.data, x.ndim)
    backward = _closed_form_backward(x.ndim, axes, m, mean, inv_std, training, eps,
                                     weight is not None, bias is not None)
    return Tensor._from_op(out, parents, backward, "batch_norm", saved=_saved(x, weight, training))


def _data(t):
    return None if t is None else t.data


def train_forward_arrays(x, axes, weight, bias, running_mean, running_var, momentum, eps,
                         out=None, mean=None, var=None, inv_std=None, square=None, per_feature=None):
    """The training forward on arrays (γ, β and the running statistics arrays or None): returns
    (y, μ, 1/σ) and updates the running statistics in place.

    Every result and temporary goes into the buffer given for it (y and ``square`` shaped like x, the
    rest (C,)), or into a new array where none is: :func:`batch_norm` passes none, the static training
    step (:mod:`minigan.gan.static_step`) passes buffers that persist across steps — the same
    operations in the same order either way, so the numbers are the same bit for bit. On (N, C) NumPy
    arrays with the fused CPU kernels on (:mod:`minigan.cpu`) the same arithmetic runs in three passes
    (``square`` and ``per_feature`` then go unused)."""
    if bias is not None and (running_mean is None) == (running_var is None) and cpu.python_numbers(momentum, eps) and _fused(
            x, weight, bias, running_mean, running_var):
        return cpu.batchnorm_forward(x, weight, bias, running_mean, running_var, momentum, eps,
                                     *_buffers((out, x.shape), (mean, weight.shape), (var, weight.shape),
                                               (inv_std, weight.shape), like=x))
    xp = backends.array_module(x)
    m = x.size // x.shape[1]
    mean = xp.mean(x, axis=axes, out=mean)
    x_hat = xp.subtract(x, _per_feature(mean, x.ndim), out=out)  # xᵢ − μ, normalised in place below
    var = xp.mean(xp.multiply(x_hat, x_hat, out=square), axis=axes, out=var)
    _update_running_statistics(running_mean, running_var, mean, var, momentum, m, per_feature)
    inv_std = xp.add(var, eps, out=inv_std)                       # 1 / √(σ² + ε)
    xp.divide(1, xp.sqrt(inv_std, out=inv_std), out=inv_std)
    x_hat *= _per_feature(inv_std, x.ndim)
    if weight is not None:
        x_hat *= _per_feature(weight, x.ndim)
    if bias is not None:
        x_hat += _per_feature(bias, x.ndim)
    return x_hat, mean, inv_std


def train_backward_arrays(g, x, weight, mean, inv_std, axes, needs_x,
                          out=None, x_hat=None, sum_g=None, sum_g_x_hat=None, per_feature=None):
    """The training backward on arrays: (∂ℓ/∂x or None unless ``needs_x``, Σ g x̂ = ∂ℓ/∂γ, Σ g = ∂ℓ/∂β),
    the module docstring's closed form ∂ℓ/∂x = (γ/(m σ))(m g − Σg − x̂ Σ g x̂) with x̂ recomputed from x.
    Buffers as in :func:`train_forward_arrays` (``out`` and ``x_hat`` shaped like x, the rest (C,)); fused
    into two passes like the forward."""
    if g.shape == x.shape and _fused(g, weight, x, mean, inv_std):
        return cpu.batchnorm_backward(g, x, weight, mean, inv_std, needs_x,
                                      *_buffers((out, x.shape), (sum_g, mean.shape), (sum_g_x_hat, mean.shape), like=x))
    xp = backends.array_module(g)
    ndim, m = x.ndim, x.size // x.shape[1]
    x_hat = xp.subtract(x, _per_feature(mean, ndim), out=x_hat)  # the forward's x̂, bit for bit
    x_hat *= _per_feature(inv_std, ndim)
    sum_g = xp.sum(g, axis=axes, out=sum_g)
    sum_g_x_hat = xp.sum(xp.multiply(g, x_hat, out=out), axis=axes, out=sum_g_x_hat)
    if not needs_x:
        return None, sum_g_x_hat, sum_g
    scale = inv_std if weight is None else xp.multiply(inv_std, weight, out=per_feature)
    d_x = xp.multiply(g, m, out=out)
    d_x -= _per_feature(sum_g, ndim)
    x_hat *= _per_feature(sum_g_x_hat, ndim)
    d_x -= x_hat
    d_x *= _per_feature(xp.divide(scale, m, out=per_feature), ndim)
    return d_x, sum_g_x_hat, sum_g


def _fused(x, weight, *others):
    """Whether the fused CPU kernels (:mod:`minigan.cpu`, family "batchnorm") take this call: (N, C) NumPy
    arrays of one dtype, γ given (β and the running statistics both given or both absent: the caller's
    ``others``, None ones left out), every array contiguous, and C > 1 (NumPy sums an (N, 1) column
    pairwise, not row by row as the kernels do: its bits would differ)."""
    if x.ndim != 2 or x.shape[1] < 2 or weight is None:
        return False
    arrays = [x, weight] + [a for a in others if a is not None]
    return all(a.dtype == x.dtype for a in arrays) and cpu.use_fused("batchnorm", *arrays)


def _buffers(*wanted, like):
    """Each (buffer, shape) as the buffer, or a new array of that shape and ``like``'s dtype when None."""
    return [backends.array_module(like).empty(shape, like.dtype) if buffer is None else buffer
            for buffer, shape in wanted]


def _update_running_statistics(running_mean, running_var, mean, var, momentum, m, scratch=None):
    """running ← (1 − momentum) · running + momentum · batch statistic, in place on the arrays, with the
    unbiased variance σ² · m / (m − 1) of the m values per feature (the buffers that are None stay
    absent); the products go into ``scratch`` ((C,), or a new array when None)."""
    xp = backends.array_module(mean)
    if running_mean is not None:
        running_mean *= 1 - momentum
        running_mean += xp.multiply(mean, momentum, out=scratch)
    if running_var is not None:
        running_var *= 1 - momentum
        running_var += xp.multiply(var, momentum * m / (m - 1), out=scratch)


def _checked_parents(op, x, weight, bias, running_mean, running_var):
    """(x, γ, β) without the absent ones, after checking that they share x's backend and that every
    per-feature tensor has shape (C,)."""
    parents = (x,) + tuple(t for t in (weight, bias) if t is not None)
    check_same_backend(op, *parents)
    channels = x.shape[1]
    for name, t in (("weight", weight), ("bias", bias), ("running_mean", running_mean), ("running_var", running_var)):
        if t is not None and t.shape != (channels,):
            raise ShapeError(f"{op}: {name} has shape {t.shape}, expected ({channels},) for input {x.shape}")
    return parents


def _with_parameter_grads(d_x, sum_g_x_hat, sum_g, needs, has_weight, has_bias):
    """The backward's result: ∂ℓ/∂x, then ∂ℓ/∂γ = Σ g x̂ and ∂ℓ/∂β = Σ g for the parameters that exist
    (None where not needed)."""
    grads = [d_x]
    if has_weight:
        grads.append(sum_g_x_hat if needs[1] else None)
    if has_bias:
        grads.append(sum_g if needs[-1] else None)
    return tuple(grads)


def _saved(x, weight, training):
    """x (for x̂) unless only an eval-mode dx is wanted, which needs γ/σ alone; γ if given."""
    needs_x = training or (weight is not None and weight.requires_grad)
    return (x if needs_x else None, weight)


def _closed_form_backward(ndim, axes, m, mean, inv_std, training, eps, has_weight, has_bias):
    """The backward of one batch_norm call: the module docstring's closed form.

    In an ordinary pass g, x and γ are arrays and μ, 1/σ are the forward's (C numbers each). Under
    ``create_graph`` they are tensors, and in training μ and 1/σ are recomputed from x as ops, so that
    the second derivative sees their dependence on x; the closed form holds for every x (it only
    used Σᵢ(xᵢ − μ) = 0, true everywhere), so differentiating it gives the exact double backward. In
    eval mode μ and σ are the running statistics, constants either way.
    """
    def per_feature(v):
        return _per_feature(v, ndim)

    def backward(g, needs, x, weight):
        if training and not isinstance(g, Tensor):
            d_x, sum_g_x_hat, sum_g = train_backward_arrays(g, x, weight, mean, inv_std, axes, needs[0])
            return _with_parameter_grads(d_x, sum_g_x_hat, sum_g, needs, has_weight, has_bias)
        if training:
            centered = x - per_feature(x.mean(axis=axes))
            inv = 1 / ((centered * centered).mean(axis=axes) + eps) ** 0.5
            x_hat = centered * per_feature(inv)
        else:
            inv = inv_std
            x_hat = None if x is None else x - per_feature(mean)  # the forward's x̂, bit for bit
            if x_hat is not None:
                x_hat *= per_feature(inv)
        sum_g = g.sum(axis=axes)                                          # Σ g    = ∂ℓ/∂β
        sum_g_x_hat = None if x_hat is None else (g * x_hat).sum(axis=axes)  # Σ g x̂ = ∂ℓ/∂γ
        scale = inv * weight if has_weight else inv
        d_x = None
        if needs[0] and training:  # ∂ℓ/∂x = (γ/(m σ)) (m g − Σg − x̂ Σ g x̂)
            d_x = g * m
            d_x -= per_feature(sum_g)
            x_hat *= per_feature(sum_g_x_hat)
            d_x -= x_hat
            d_x *= per_feature(scale / m)
        elif needs[0]:             # μ and σ² are constants: ∂ℓ/∂x = g γ / σ
            d_x = g * per_feature(scale)
        return _with_parameter_grads(d_x, sum_g_x_hat, sum_g, needs, has_weight, has_bias)

    return backward


def _kernel_applies(x, weight, bias, running_mean, running_var, training):
    """The fused kernels take (N, C) CuPy inputs whose tensors share x's dtype and backend (running
    statistics contiguous: the kernel writes them in place), with γ and β both given or both absent,
    and the running mean and variance both given or both absent (the plain path updates the one it
    has); in eval mode only when no graph is recorded (the eval backward stays the plain ops above)."""
    if x.ndim != 2 or not cuda.use_kernel("batchnorm", x.data) or (weight is None) != (bias is None):
        return False
    if (running_mean is None) != (running_var is None):
        return False
    running = tuple(t for t in (running_mean, running_var) if t is not None)
    affine = tuple(t for t in (weight, bias) if t is not None)
    if any(t.dtype != x.dtype or type(t.data) is not type(x.data) for t in affine + running):
        return False
    if not all(t.data.flags.c_contiguous for t in running):
        return False
    return training or not (autograd.is_grad_enabled() and any(t.requires_grad for t in (x,) + affine))


def _batch_norm_on_kernels(x, weight, bias, running_mean, running_var, training, momentum, eps, parents):
    """batch_norm of an (N, C) CuPy input through ``kernels/batchnorm.cu``: the same math, one launch
    each way (and the closed form as tensor ops under ``create_graph``)."""
    affine = weight is not None
    gamma, beta = (weight.data, bias.data) if affine else (None, None)
    if not training:
        out = cuda.batchnorm_forward_eval(x.data, gamma, beta, running_mean.data, running_var.data, eps)
        return Tensor._from_op(out, (), None, "batch_norm")  # nothing needs a gradient: no node, but named
    out, mean, inv_std = cuda.batchnorm_forward(
        x.data, gamma, beta, None if running_mean is None else running_mean.data,
        None if running_var is None else running_var.data, momentum, eps)
    on_tensors = _closed_form_backward(2, (0,), x.shape[0], mean, inv_std, True, eps, affine, affine)

    def backward(g, needs, x, weight):
        if isinstance(g, Tensor):
            return on_tensors(g, needs, x, weight)
        d_x, d_weight, d_bias = cuda.batchnorm_backward(g, x, weight, mean, inv_std)
        if not affine:
            return (d_x,)
        return d_x, (d_weight if needs[1] else None), (d_bias if needs[2] else None)

    return Tensor._from_op(out, parents, backward, "batch_norm", saved=(x, weight))


class BatchNorm1d(Module):
    """Batch normalisation over (N, C) (or (N, C, L)) inputs, with running statistics.

    - training: normalise with the batch mean and the **biased** batch variance (divide by m); update
      running_mean ← (1−momentum)·running_mean + momentum·μ and running_var likewise with the
      **unbiased** batch variance (divide by m−1). This is PyTorch's convention. Keras's
      ``BatchNormalization`` instead writes ``momentum`` for the weight of the *old* value (0.99 there
      ≈ 0.01 here) and stores the biased variance.
    - eval (``.eval()``): normalise with the running statistics.
    - ``track_running_stats=False``: no running statistics; batch statistics in both modes.

    GAN users often sample from G in training mode on purpose (batch statistics); say which you mean.
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, dtype=None):
        super().__init__()
        if num_features < 1:
            raise ValueError(f"BatchNorm1d: num_features must be positive, got {num_features}")
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"BatchNorm1d: momentum must be in [0, 1], got {momentum}")
        dtype = dtype or get_default_dtype()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        self.weight = Parameter([1.0] * num_features, dtype=dtype) if affine else None
        self.bias = Parameter([0.0] * num_features, dtype=dtype) if affine else None
        if track_running_stats:
            self.register_buffer("running_mean", Tensor([0.0] * num_features, dtype=dtype))
            self.register_buffer("running_var", Tensor([1.0] * num_features, dtype=dtype))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)

    def _check_input(self, x):
        """Refuse an input that is not (N, C) or (N, C, L) with this layer's C, naming the layer."""
        if x.ndim not in (2, 3) or x.shape[1] != self.num_features:
            raise ShapeError(
                f"{type(self).__name__}({self.num_features}): expected input of shape (N, {self.num_features}) "
                f"or (N, {self.num_features}, L), got {x.shape}"
            )

    def forward(self, x):
        self._check_input(x)
        use_batch_stats = self.training or not self.track_running_stats
        return batch_norm(x, self.weight, self.bias, self.running_mean, self.running_var,
                          training=use_batch_stats, momentum=self.momentum, eps=self.eps)

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}"
