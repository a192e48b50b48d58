"""The static training step: the eager step's arithmetic over arrays that persist from step to step.

The eager step (:class:`~minigan.gan.step.TrainingStep`) builds a graph every step: each op allocates
its output and records a node, and the backward walks the tape and allocates every gradient. The static
step runs the same arithmetic — the same NumPy calls in the same order, so the same numbers, bit for
bit — over arrays allocated once:

- the inputs: each real batch is gathered with ``take(..., out=)`` into a fixed array, the noise drawn
  with ``standard_normal(out=)`` into a float64 array (the eager step draws float64) and cast into G's
  input;
- every layer's output and input gradient in arrays of its own, one set per pass: G; D on the real
  rows; D on the fake rows (used again by the G update, once the D update is done with them);
- the parameters' gradients written straight into the optimizers' flat gradient arrays (the
  all-at-once path of :mod:`minigan.optim`), which the update reads; a weight D uses on the real and on
  the fake rows gets the second gradient added, as the tape adds it (two terms: the order cannot change
  the sum);
- the numbers of the update rule that change from step to step — the learning rate (with its decay) and
  Adam's bias corrections — in a small array per optimizer, rewritten before each update and read by
  it (:meth:`minigan.optim.Optimizer.apply_update`), where a replayed CUDA graph reads them from device
  memory.

The arithmetic is not written twice: each layer here calls the array functions its eager op calls,
with buffers — ``train_forward_arrays``/``train_backward_arrays`` (:mod:`minigan.nn.batchnorm`),
``leaky_relu_arrays``/``leaky_relu_backward_arrays`` (:mod:`minigan.nn.activations`),
``stable_sigmoid``/``sigmoid_backward_arrays``/``tanh_backward_arrays`` (:mod:`minigan.ops.elementwise`),
``bce_with_logits_arrays``/``bce_with_logits_backward_arrays`` (:mod:`minigan.nn.losses`) and the
optimizers' ``apply_update``. Dense layers are ``matmul(..., out=)``: y = x W + b, dW = xᵀ g, db = Σₙ g,
dx = g Wᵀ, as ``linear``'s backward.

After its warm-up the step allocates no array but one: the index vector of each real batch (B int64),
because NumPy's ``Generator.integers`` has no ``out=`` and the static step draws exactly what the eager
step draws. ``tests/test_static_step.py`` measures it with tracemalloc.

The first call runs the eager step — which creates the optimizers' state and flat arrays — and then
builds the buffers on the arrays that now hold the parameters, their gradients and the running
statistics. A later call finds out whether those arrays are still the ones in use (a checkpoint restored,
a state dict loaded, a module moved replace them): if not, it runs the eager step again and rebuilds.

What it runs (:func:`check_supported` names anything else): the unconditional GAN on the NumPy
backend; G and D of Dense layers with BatchNorm or no normalisation and the LeakyReLU, ReLU, tanh or
sigmoid activations, G's output sigmoid or linear; the BCE losses ("nonsaturating", "minimax", with
label smoothing); PacGAN's packs; ``d_steps``; Adam, SGD (with momentum) and RMSprop; the linear
learning-rate decay; G's weight average (``g_ema``).

When it runs (``TrainConfig.static_step``): by default (None) the trainer uses it for every
configuration it runs and the eager step for the others; and it steps aside, step by step, for what
only the tape can show — hooks on G's or D's modules or parameters, anomaly mode, ``minigan.profile()``
and the op trace — running the eager step instead (the static step after it rebuilds its buffers on the
arrays the eager step left). ``static_step=True`` asks for it always: a configuration it cannot run is
an error before the run starts, and hooks are refused by name. ``False``: never.

With the fused CPU kernels on (:mod:`minigan.cpu`) a Dense layer followed by a LeakyReLU is one fused
layer here (the bias and the slope in one pass), and one followed by BatchNorm and a LeakyReLU too (G's
hidden layers: one kernel each way); BatchNorm and the optimizers run their kernels: the same numbers, as
everywhere in that package.
"""

from types import SimpleNamespace

import numpy as np

from minigan import autograd, backends, cpu, random
from minigan.cuda import toggles
from minigan.gan.objectives import Minimax, NonSaturating
from minigan.gan.step import TrainingStep, check_finite, weight_grad_norms
from minigan.nn import BatchNorm1d, Dense, LeakyReLU, ReLU, Sigmoid, Tanh
from minigan.nn.activations import leaky_relu_arrays, leaky_relu_backward_arrays
from minigan.nn.batchnorm import train_backward_arrays, train_forward_arrays
from minigan.nn.losses import bce_with_logits_arrays, bce_with_logits_backward_arrays
from minigan.ops.elementwise import sigmoid_backward_arrays, stable_sigmoid, tanh_backward_arrays
from minigan.profiler import record

LOSSES = ("nonsaturating", "minimax")
OPTIMIZERS = ("adam", "sgd", "rmsprop")
SET, ADD = "set", "add"  # a pass writes its parameter gradients as the gradient, or adds them to it


def supports(config, step_class=TrainingStep, distributed=False):
    """Whether the static step runs this configuration (:func:`check_supported` says nothing)."""
    try:
        check_supported(config, step_class, distributed)
    except ValueError:
        return False
    return True


def check_supported(config, step_class=TrainingStep, distributed=False):
    """Raise ``ValueError`` naming every option of ``config`` the static step does not run (the module
    docstring lists what it does), or say nothing."""
    c = config
    problems = []
    if c.backend != "numpy":
        problems.append(f"backend={c.backend!r} (the static step runs on NumPy; its CUDA-graph replay on CuPy "
                        "is not built yet)")
    if c.loss not in LOSSES:
        problems.append(f"loss={c.loss!r} (it runs {LOSSES})")
    if c.optimizer not in OPTIMIZERS:
        problems.append(f"optimizer={c.optimizer!r} (it runs {OPTIMIZERS})")
    for name in ("g_norm", "d_norm"):
        if getattr(c, name) not in ("batch", "none"):
            problems.append(f"{name}={getattr(c, name)!r} (it runs 'batch' and 'none')")
    for name in ("feature_matching", "minibatch_kernels", "historical_averaging", "gp", "r1", "r2",
                 "spectral_norm", "clip", "info_cat", "info_cont"):
        if getattr(c, name):
            problems.append(f"{name}={getattr(c, name)!r}")
    if c.conditional != "none":
        problems.append(f"conditional={c.conditional!r}")
    if distributed:
        problems.append("distributed=True")
    if step_class is not TrainingStep:
        problems.append(f"step_class={step_class.__name__} (a study's own step: the static step replays "
                        "TrainingStep's arithmetic, not its overrides)")
    if problems:
        raise ValueError("static_step=True: the static step does not run " + "; ".join(problems)
                         + ". Turn these off, or train with the eager step (static_step=False).")


def _networks(training):
    return [("G", training.G), ("D", training.D)] + ([("G_ema", training.G_ema)] if training.G_ema is not None else [])


def obstacle(training, watched=False):
    """Why the static step cannot run ``training``'s next step as it stands, or None: what the eager step
    reads afresh each step and the static step would not replay — the configuration (checked again when it
    changed), the step's objective, grad mode (``no_grad``), an optimizer's weight decay or NumPy-scalar
    hyper-parameters, a frozen parameter, parameters or buffers not of the run's dtype (after
    ``Module.double()``), BatchNorm's momentum or eps of a NumPy type, a network out of training mode,
    hooks on a network (which only the tape runs) and, when ``watched`` is asked about, anomaly mode,
    ``minigan.profile()`` or the op trace (which see the tape's ops). (What it can follow — replaced
    arrays or modules, a slope, the objective's smoothing, kernel switches — makes it rebuild instead.)"""
    c = training.config
    try:
        check_supported(c, type(training))
    except ValueError as exc:
        return str(exc)
    if type(training.objective) not in (Minimax, NonSaturating):
        return f"static_step=True: the step's objective is {type(training.objective).__name__}; it runs the BCE losses"
    if not autograd.is_grad_enabled():
        return "static_step=True: gradients are off (no_grad); the eager step says so"
    for opt_name, opt in (("G", training.G_opt), ("D", training.D_opt)):
        if opt.hyper.get("weight_decay"):
            return f"static_step=True: {opt_name}'s optimizer has weight_decay={opt.hyper['weight_decay']}"
        odd = [k for k, v in opt.hyper.items() if not cpu.python_numbers(v)]
        if odd:  # a NumPy scalar computes in its own dtype; the update's array holds the run's
            return f"static_step=True: {opt_name}'s optimizer has {odd[0]} of type {type(opt.hyper[odd[0]]).__name__}"
    dtype = np.dtype(c.dtype)
    if training.data.dtype != dtype:
        return f"static_step=True: the data are {training.data.dtype}, the run {c.dtype}"
    for name, model in _networks(training):  # one walk over each network's modules
        for path, module in model.named_modules():
            where = f"{name}'s module {path or name!r} ({type(module).__name__})"
            if module._forward_hooks or module._forward_pre_hooks or any(
                    p._hooks for p in module._parameters.values() if p is not None):
                return (f"static_step=True: {where} has hooks, which only the eager step runs (the static step "
                        "records no graph); remove them, or train with static_step=None (the default: the eager "
                        "step then runs) or False")
            if name != "G_ema" and not module.training:
                return f"static_step=True: {where} is in eval mode; the static step trains with batch statistics"
            if isinstance(module, BatchNorm1d) and not cpu.python_numbers(module.momentum, module.eps):
                return (f"static_step=True: {where} has momentum or eps of a NumPy type (its arithmetic then "
                        "runs in that type's precision, not in the arrays' buffers)")
            for key, array in list(module._parameters.items()) + list(module._buffers.items()):
                if array is not None and array.dtype != dtype:
                    return f"static_step=True: {where}'s {key} is {array.dtype}, the run {c.dtype}"
            if name != "G_ema" and any(p is not None and not p.requires_grad for p in module._parameters.values()):
                return (f"static_step=True: {where} has a frozen parameter (requires_grad=False): the static step "
                        "updates every parameter")
    if watched and autograd._watching:
        return "anomaly mode, minigan.profile() or the op trace is on"
    return None


# ------------------------------------------------------------------------------------- layers
class _Dense:
    """``linear``: y = x W + b; backward dW = xᵀ g, db = Σₙ g, dx = g Wᵀ."""

    def __init__(self, module, grads, xp):
        self.xp = xp
        self.module = module
        self.weight = module.weight.data
        self.bias = None if module.bias is None else module.bias.data
        self.grads = grads  # (dW, db) in the optimizer's flat gradient array, or None (G_ema)
        if grads is not None:  # where a second pass's gradients go before they are added
            self.sums = tuple(xp.empty_like(g) for g in grads)

    def current(self):
        """Whether the module still holds the arrays this layer was bound to."""
        m = self.module
        return m.weight.data is self.weight and (m.bias.data if m.bias is not None else None) is self.bias

    def slot(self, rows):
        w = self.weight
        return SimpleNamespace(out=self.xp.empty((rows, w.shape[1]), w.dtype),
                               dx=self.xp.empty((rows, w.shape[0]), w.dtype), transposed=w.T)

    def forward(self, slot, x):
        self.xp.matmul(x, self.weight, out=slot.out)
        if self.bias is not None:
            slot.out += self.bias
        return slot.out

    def backward(self, slot, x, g, grads, needs_x):
        xp = self.xp
        if grads is not None:
            d_weight, d_bias = self.grads if grads == SET else self.sums
            xp.matmul(x.T, g, out=d_weight)
            if self.bias is not None:
                xp.sum(g, axis=0, out=d_bias)
            if grads == ADD:
                _add_into(self.grads, (d_weight, d_bias))
        if not needs_x:
            return None
        if self.weight.shape[1] == 1:  # D's head: a K = 1 product is the broadcast one (linear's backward)
            return xp.multiply(g, slot.transposed, out=slot.dx)
        return xp.matmul(g, slot.transposed, out=slot.dx)


class _DenseLeakyReLU(_Dense):
    """A Dense layer and the LeakyReLU after it, fused (the "bias_leaky_relu" family of :mod:`minigan.cpu`):
    the matrix product y = x W, then one pass for max(s(y + b), y + b); backward one pass for
    d = ∂ℓ/∂(y + b) = ([out > 0](1 − s) + s) g and its column sums ∂ℓ/∂b, then dW = xᵀ d and dx = d Wᵀ —
    ``linear`` and ``leaky_relu``'s numbers."""

    def __init__(self, module, grads, xp, activation):
        super().__init__(module, grads, xp)
        self.slope = activation.negative_slope
        self.bias_scratch = xp.empty_like(self.bias)  # ∂ℓ/∂b when no gradient is kept

    def slot(self, rows):
        slot = super().slot(rows)
        slot.product, slot.d_product = self.xp.empty_like(slot.out), self.xp.empty_like(slot.out)
        return slot

    def forward(self, slot, x):
        self.xp.matmul(x, self.weight, out=slot.product)
        return cpu.bias_leaky_relu_forward(slot.product, self.bias, self.slope, slot.out)

    def backward(self, slot, x, g, grads, needs_x):
        xp = self.xp
        if grads is None:
            d_bias = self.bias_scratch
        else:
            d_weight, d_bias = self.grads if grads == SET else self.sums
        d = cpu.bias_leaky_relu_backward(g, slot.out, self.slope, slot.d_product, d_bias)[0]
        if grads is not None:
            xp.matmul(x.T, d, out=d_weight)
            if grads == ADD:
                _add_into(self.grads, (d_weight, d_bias))
        return xp.matmul(d, slot.transposed, out=slot.dx) if needs_x else None


class _DenseBatchNormLeakyReLU:
    """A Dense layer, the BatchNorm after it and the LeakyReLU after that, G's hidden layer (the
    "batchnorm" and "bias_leaky_relu" families of :mod:`minigan.cpu` both on): the matrix product
    y = x W, then one kernel for leaky(batch_norm(y + b)) — three passes where the plain ops make twelve —
    and back one kernel for ∂ℓ/∂y, ∂ℓ/∂b, ∂ℓ/∂γ and ∂ℓ/∂β, then dW = xᵀ ∂ℓ/∂y and dx = ∂ℓ/∂y Wᵀ: the
    numbers of ``linear``, ``batch_norm`` and ``leaky_relu``."""

    def __init__(self, dense, norm, activation):
        self.dense, self.norm, self.slope = dense, norm, activation.negative_slope  # (_Dense, _BatchNorm)
        self.xp = dense.xp
        self.bias_scratch = self.xp.empty_like(dense.bias)  # ∂ℓ/∂b when no gradient is kept

    def current(self):
        m = self.norm.module
        return self.dense.current() and self.norm.current() and cpu.python_numbers(m.momentum, m.eps, self.slope)

    def slot(self, rows):
        slot = self.norm.slot(rows)  # out, scratch (the product y), mean, var, inv_std; dx becomes ∂ℓ/∂y
        weight = self.dense.weight
        slot.d_product, slot.dx = slot.dx, self.xp.empty((rows, weight.shape[0]), weight.dtype)
        return slot

    def forward(self, slot, x):
        d, n = self.dense, self.norm
        self.xp.matmul(x, d.weight, out=slot.scratch)
        m = n.module
        return cpu.bias_batchnorm_leaky_relu_forward(slot.scratch, d.bias, n.weight, n.bias, n.running_mean,
                                                     n.running_var, m.momentum, m.eps, self.slope, slot.out,
                                                     slot.mean, slot.var, slot.inv_std)[0]

    def backward(self, slot, x, g, grads, needs_x):
        xp, d, n = self.xp, self.dense, self.norm
        if grads is None:
            d_weight, d_bias = None, self.bias_scratch
            d_gamma, d_beta = n.sums
        else:
            d_weight, d_bias = d.grads if grads == SET else d.sums
            d_gamma, d_beta = n.grads if grads == SET else n.sums
        d_y = cpu.bias_batchnorm_leaky_relu_backward(g, slot.out, slot.scratch, d.bias, n.weight, slot.mean,
                                                     slot.inv_std, self.slope, slot.d_product, d_bias, d_beta,
                                                     d_gamma)[0]
        if grads is not None:
            xp.matmul(x.T, d_y, out=d_weight)
            if grads == ADD:
                _add_into(d.grads + n.grads, (d_weight, d_bias, d_gamma, d_beta))
        return xp.matmul(d_y, d.weight.T, out=slot.dx) if needs_x else None


class _BatchNorm:
    """``batch_norm`` in training mode (batch statistics; the running statistics updated in place)."""

    def __init__(self, module, grads, xp):
        self.xp = xp
        self.module = module
        self.weight, self.bias = module.weight.data, module.bias.data
        self.running_mean, self.running_var = module.running_mean.data, module.running_var.data
        self.grads = grads  # (dγ, dβ) or None
        self.sums = (xp.empty_like(self.weight), xp.empty_like(self.weight))  # a second pass's, or unused ones
        self.per_feature = xp.empty_like(self.weight)

    def current(self):
        m = self.module
        return (m.weight.data is self.weight and m.bias.data is self.bias and m.running_mean.data is self.running_mean
                and m.running_var.data is self.running_var)

    def slot(self, rows):
        xp, c = self.xp, self.weight
        return SimpleNamespace(out=xp.empty((rows, c.size), c.dtype), dx=xp.empty((rows, c.size), c.dtype),
                               scratch=xp.empty((rows, c.size), c.dtype), mean=xp.empty_like(c),
                               var=xp.empty_like(c), inv_std=xp.empty_like(c))

    def forward(self, slot, x):
        m = self.module
        return train_forward_arrays(x, (0,), self.weight, self.bias, self.running_mean, self.running_var,
                                    m.momentum, m.eps, out=slot.out, mean=slot.mean, var=slot.var,
                                    inv_std=slot.inv_std, square=slot.scratch, per_feature=self.per_feature)[0]

    def backward(self, slot, x, g, grads, needs_x):
        d_weight, d_bias = self.grads if grads == SET else self.sums
        d_x, _, _ = train_backward_arrays(g, x, self.weight, slot.mean, slot.inv_std, (0,), needs_x,
                                          out=slot.dx, x_hat=slot.scratch, sum_g=d_bias, sum_g_x_hat=d_weight,
                                          per_feature=self.per_feature)
        if grads == ADD:
            _add_into(self.grads, (d_weight, d_bias))
        return d_x


class _Activation:
    """LeakyReLU (0 ≤ slope ≤ 1), ReLU, tanh or sigmoid: y = f(x), dx = f'(x) g from the saved y."""

    def __init__(self, module, dtype, xp):
        self.xp = xp
        self.kind = type(module)
        if self.kind is LeakyReLU:
            self.slope = xp.asarray(module.negative_slope, dtype=dtype)
            self.one_minus_slope = xp.asarray(1 - self.slope)
        self.zero = xp.asarray(0, dtype=dtype)

    def current(self):
        return True

    def slot(self, rows, width, dtype):
        xp = self.xp
        return SimpleNamespace(out=xp.empty((rows, width), dtype), dx=xp.empty((rows, width), dtype),
                               mask=xp.empty((rows, width), bool))

    def forward(self, slot, x):
        xp, kind = self.xp, self.kind
        if kind is LeakyReLU:
            return leaky_relu_arrays(x, self.slope, out=slot.out)
        if kind is ReLU:
            return xp.maximum(x, self.zero, out=slot.out)
        if kind is Tanh:
            return xp.tanh(x, out=slot.out)
        return stable_sigmoid(xp, x, out=slot.out)

    def backward(self, slot, x, g, grads, needs_x):
        xp, kind, y = self.xp, self.kind, slot.out
        if kind is LeakyReLU:
            return leaky_relu_backward_arrays(g, y, self.slope, self.one_minus_slope, out=slot.dx, mask=slot.mask)
        if kind is ReLU:
            return xp.multiply(g, xp.greater(y, 0, out=slot.mask), out=slot.dx)
        if kind is Tanh:
            return tanh_backward_arrays(g, y, da=slot.dx)
        return sigmoid_backward_arrays(g, y, da=slot.dx)


def _add_into(totals, parts):
    """Each gradient of a second pass added to the first's (a weight D used on the real and the fake rows)."""
    for total, part in zip(totals, parts):
        if total is not None:
            total += part


def _supports_leaky_slope(module):
    slope = module.negative_slope
    return 0 <= slope <= 1 and (1 - slope) + slope == 1


def _fusable_dense_leaky(dense, following):
    return (isinstance(dense, Dense) and dense.bias is not None and dense.out_features > 1  # (C = 1: see batchnorm)
            and type(following) is LeakyReLU
            and _supports_leaky_slope(following) and cpu.use_fused("bias_leaky_relu", dense.weight.data))


def _fusable_dense_norm_leaky(dense, norm, following):
    return (_fusable_dense_leaky(dense, following) and isinstance(norm, BatchNorm1d)
            and norm.affine and norm.track_running_stats and norm.weight.dtype == dense.weight.dtype
            and cpu.python_numbers(norm.momentum, norm.eps)
            and cpu.use_fused("batchnorm", norm.weight.data))


def _pair(grads, dense):
    """(dW, db) of a Dense layer in its optimizer's flat array, or None (no optimizer: G_ema)."""
    if not grads:
        return None
    return grads[id(dense.weight)], None if dense.bias is None else grads[id(dense.bias)]


class _Network:
    """A chain of static layers bound to one network's arrays; a pass's buffers come from :meth:`slots`."""

    def __init__(self, modules, optimizer, xp):
        grads = {}
        if optimizer is not None:
            flat = optimizer._flat
            grads = {id(p): view for p, view in zip(optimizer.params, flat["grads"])}
        self.layers, modules = [], list(modules)
        self.modules = modules
        self.slopes = [m.negative_slope for m in modules if isinstance(m, LeakyReLU)]
        dtype = None
        skip = 0  # modules fused into the layer before them
        for i, module in enumerate(modules):
            if skip:
                skip -= 1
                continue
            after = modules[i + 1:i + 3] + [None, None]
            if _fusable_dense_norm_leaky(module, *after[:2]):
                dtype = module.weight.dtype
                norm = _BatchNorm(after[0], None if optimizer is None else (
                    grads[id(after[0].weight)], grads[id(after[0].bias)]), xp)
                self.layers.append(_DenseBatchNormLeakyReLU(_Dense(module, _pair(grads, module), xp), norm, after[1]))
                skip = 2
            elif _fusable_dense_leaky(module, after[0]):
                dtype = module.weight.dtype
                self.layers.append(_DenseLeakyReLU(module, _pair(grads, module), xp, after[0]))
                skip = 1
            elif isinstance(module, Dense):
                dtype = module.weight.dtype
                pair = None if optimizer is None else (grads[id(module.weight)],
                                                       None if module.bias is None else grads[id(module.bias)])
                self.layers.append(_Dense(module, pair, xp))
            elif isinstance(module, BatchNorm1d) and module.affine and module.track_running_stats:
                pair = None if optimizer is None else (grads[id(module.weight)], grads[id(module.bias)])
                self.layers.append(_BatchNorm(module, pair, xp))
            elif isinstance(module, (ReLU, Tanh, Sigmoid)) or (isinstance(module, LeakyReLU)
                                                               and _supports_leaky_slope(module)):
                self.layers.append(_Activation(module, dtype, xp))
            else:
                raise ValueError(f"static_step=True: the static step has no form of layer {module!r}; use the "
                                 "eager step (static_step=False)")
        self.dtype = dtype

    def slots(self, rows, width):
        """Buffers for one pass over ``rows`` rows of ``width`` inputs."""
        slots = []
        for layer in self.layers:
            if isinstance(layer, _Activation):
                slots.append(layer.slot(rows, width, self.dtype))
            else:
                slots.append(layer.slot(rows))
                width = slots[-1].out.shape[1]
        return slots

    def current(self, modules):
        """True while ``modules`` are the modules the layers were built from, with their slopes, and every
        array the layers were bound to is still the one its module holds."""
        modules = list(modules)
        return (len(modules) == len(self.modules) and all(a is b for a, b in zip(modules, self.modules))
                and [m.negative_slope for m in modules if isinstance(m, LeakyReLU)] == self.slopes
                and all(layer.current() for layer in self.layers))

    def forward(self, slots, x):
        for layer, slot in zip(self.layers, slots):
            x = layer.forward(slot, x)
        return x

    def backward(self, slots, x, g, grads, needs_x):
        """Back from ∂ℓ/∂output ``g`` to the pass's input ``x``: parameter gradients per ``grads`` (SET, ADD
        or None), and ∂ℓ/∂x (returned) only if ``needs_x``."""
        inputs = [x] + [slot.out for slot in slots[:-1]]
        for i in range(len(self.layers) - 1, -1, -1):
            g = self.layers[i].backward(slots[i], inputs[i], g, grads, needs_x or i > 0)
        return g


class _BCELoss:
    """``binary_cross_entropy_with_logits(z, t)`` reduced by the mean over n rows, times ``sign``: the loss
    (a 0-d array) and ∂loss/∂z = (sign/n) (σ(z) − t), as the tape computes them."""

    def __init__(self, rows, target, sign, dtype, xp):
        self.xp, self.target = xp, target
        self.loss, self.scratch = xp.empty((rows, 1), dtype), xp.empty((rows, 1), dtype)
        self.grad = xp.empty((rows, 1), dtype)
        self.value = xp.empty((), dtype)
        self.sign = sign
        seed = xp.full((1, 1), sign, dtype=dtype)  # the seed 1 (through a negation: −1) over the mean's n
        self.scale = seed / rows

    def forward(self, z):
        bce_with_logits_arrays(z, self.target, out=self.loss, scratch=self.scratch)
        value = self.xp.mean(self.loss, out=self.value)
        return value if self.sign > 0 else self.xp.negative(value, out=value)

    def backward(self, z):
        return bce_with_logits_backward_arrays(self.scale, z, self.target, out=self.grad)


# ------------------------------------------------------------------------------ the step
class StaticStep:
    """Runs the steps of ``training`` (a :class:`~minigan.gan.step.TrainingStep`) over static buffers;
    called as the training step itself is: ``static(step, grad_norms)`` returns the step's record."""

    def __init__(self, training, required=True):
        check_supported(training.config, type(training))
        self.training = training
        self.required = required
        self.built = False

    # ---------------------------------------------------------------------------- building
    def _build(self):
        ts, c = self.training, self.training.config
        xp = backends.current_module()
        self.xp = xp
        self.G = _Network(ts.G, ts.G_opt, xp)
        self.D = _Network(list(ts.D.body) + [ts.D.head], ts.D_opt, xp)
        self.G_ema = None if ts.G_ema is None else _Network(ts.G_ema, None, xp)
        dtype = self.G.dtype
        b, pack = c.batch_size, c.pack
        data_dim = ts.data.shape[1]
        rows = b // pack
        # A step's draws (prepare): real rows for each D update, noise for each D update and for G's.
        self.reals = [xp.empty((b, data_dim), dtype) for _ in range(c.d_steps)]
        self.reals_packed = [real.reshape(rows, pack * data_dim) for real in self.reals]
        self.zs = [xp.empty((b, c.z_dim), dtype) for _ in range(c.d_steps + 1)]
        self.noise64 = xp.empty((b, c.z_dim), "float64")  # the eager step draws float64, then casts
        self.g_slots = self.G.slots(b, c.z_dim)
        self.g_ema_slots = None if self.G_ema is None else self.G_ema.slots(b, c.z_dim)
        fake = self.g_slots[-1].out
        self.fake_packed = fake.reshape(rows, pack * data_dim)
        self.d_real_slots = self.D.slots(rows, pack * data_dim)
        self.d_fake_slots = self.D.slots(rows, pack * data_dim)
        self.fake_grad = self.d_fake_slots[0].dx.reshape(b, data_dim)  # ∂ℓ/∂G(z), D's input gradient unpacked
        # The losses of the step's own objective (built once by TrainingStep, as the eager step uses it).
        self.objective, self.smoothing = ts.objective, ts.objective.label_smoothing
        self.real_loss = _BCELoss(rows, 1.0 - self.smoothing, 1.0, dtype, xp)
        self.fake_loss = _BCELoss(rows, 0.0, 1.0, dtype, xp)
        if type(ts.objective) is NonSaturating:
            self.g_loss = _BCELoss(rows, 1.0, 1.0, dtype, xp)
        else:  # minimax: G minimises −BCE(f, 0)
            self.g_loss = _BCELoss(rows, 0.0, -1.0, dtype, xp)
        self.values = {name: xp.empty((), dtype) for name in ("d_loss", "g_loss", "d_real", "d_fake")}
        self.report = xp.empty((rows, 1), dtype)
        self.scalars = {}  # per optimizer: a row of the update rule's changing numbers per update of a step
        for opt, updates in ((ts.G_opt, 1), (ts.D_opt, c.d_steps)):
            array = xp.empty((updates, len(opt.step_scalars(1))), dtype)
            self.scalars[id(opt)] = (array, [[row[i:i + 1] for i in range(row.size)] for row in array])
        if ts.G_ema is not None:
            largest = max(p.size for p in ts.G.parameters())
            self.ema_scratch = xp.empty(largest, dtype)
            self.ema_views = [self.ema_scratch[:p.size].reshape(p.shape) for p in ts.G.parameters()]
            self.ema_arrays = [(a.data, p.data) for a, p in zip(ts.G_ema.parameters(), ts.G.parameters())]
        for opt in (ts.G_opt, ts.D_opt):  # the gradients live in the flat array: .grad shows them
            for p, view in zip(opt.params, opt._flat["grads"]):
                p.grad = view
        self.switches = dict(toggles._enabled)  # the kernel families on when the layers were chosen
        self.config_seen = dict(vars(c))          # the configuration the buffers were sized for
        self.built = True

    def _flat_paths(self):
        """Whether both optimizers now keep their parameters and gradients in flat arrays (the all-at-once
        path: every parameter with a gradient, one dtype, one step count), which the buffers are bound to."""
        return all(opt._flat is not None and opt._flat_is_current() and opt._can_step_flat()
                   for opt in (self.training.G_opt, self.training.D_opt))

    def _current(self):
        ts = self.training
        if not self.built or toggles._enabled != self.switches or vars(ts.config) != self.config_seen:
            return False
        if not self._flat_paths():
            return False
        return (self.G.current(ts.G) and self.D.current(list(ts.D.body) + [ts.D.head])
                and (self.G_ema is None or self.G_ema.current(ts.G_ema))
                and ts.objective is self.objective and ts.objective.label_smoothing == self.smoothing
                and all(p.grad is view for opt in (ts.G_opt, ts.D_opt)
                        for p, view in zip(opt.params, opt._flat["grads"])))

    # --------------------------------------------------------------------------- one step
    def __call__(self, step, grad_norms=True):
        problem = obstacle(self.training, watched=not self.required)
        if problem:
            if self.required:
                raise ValueError(problem)
            # Chosen by default, the static step steps aside for what it cannot replay and for what only
            # the tape shows; the eager step runs (and the next static step rebuilds).
            return self.training(step, grad_norms)
        if not self._current():  # warm-up: the eager step, then the buffers on the arrays it left
            last = self.training(step, grad_norms)
            if self._flat_paths():
                self._build()
            return last
        self.prepare(step)
        return self.run(step, grad_norms)

    def prepare(self, step):
        """The host's part of step ``step``, before :meth:`run`: the learning rates, the numbers each
        optimizer update of the step reads (a row per update), and every draw of the step into the input
        arrays — in the eager step's order (real rows and noise for each D update, then G's noise: nothing
        draws in between, so drawing them first draws the same numbers)."""
        ts, c = self.training, self.training.config
        factor = ts.lr_factor(step)
        ts.G_opt.lr = c.lr * factor
        ts.D_opt.lr = c.discriminator_lr * factor
        for opt, updates in ((ts.D_opt, c.d_steps), (ts.G_opt, 1)):
            array = self.scalars[id(opt)][0]
            t = opt.state[0]["step"]
            for k in range(updates):
                for i, value in enumerate(opt.step_scalars(t + k + 1)):
                    array[k, i] = value
        generator, xp = random.generator(), self.xp
        for real, z in zip(self.reals, self.zs):
            with record("real batch"):
                # (mode "clip": with the default "raise", take(out=) gathers into a temporary first; the
                # indices are in range by construction)
                xp.take(ts.data, generator.integers(0, len(ts.data), size=real.shape[0]), axis=0, out=real,
                        mode="clip")
            self._draw_noise(z)
        self._draw_noise(self.zs[-1])

    def _draw_noise(self, z):
        with record("noise"):
            random.randn_into(z, self.noise64)

    def run(self, step, grad_norms=True):
        """Step ``step`` on the arrays :meth:`prepare` filled: the D updates, the G update and G_ema's; its
        record as :class:`~minigan.gan.step.TrainingStep` returns it. Allocates no array (but the gradient
        norms' float64 chunk, when ``grad_norms``)."""
        ts, c = self.training, self.training.config
        for k in range(c.d_steps):
            self._d_update(step, k)
        with record("gradient norms"):
            d_grad_norms = weight_grad_norms("D", ts.D) if grad_norms else {}
        self._g_update(step)
        if ts.G_ema is not None:
            with record("EMA and averages"):
                self._update_ema()
        v = self.values
        return {"step": step, "d_loss": float(v["d_loss"]), "g_loss": float(v["g_loss"]),
                "d_real": float(v["d_real"]), "d_fake": float(v["d_fake"]),
                "grad_norms": {**d_grad_norms, **weight_grad_norms("G", ts.G)} if grad_norms else {}}

    def _d_update(self, step, k):
        """D update ``k`` of the step: as :meth:`TrainingStep.d_update`."""
        G, D, xp = self.G, self.D, self.xp
        real = self.reals_packed[k]
        G.forward(self.g_slots, self.zs[k])
        real_out = D.forward(self.d_real_slots, real)
        fake_out = D.forward(self.d_fake_slots, self.fake_packed)
        d_loss = xp.add(self.real_loss.forward(real_out), self.fake_loss.forward(fake_out), out=self.values["d_loss"])
        check_finite(d_loss, "discriminator", step)
        D.backward(self.d_real_slots, real, self.real_loss.backward(real_out), SET, False)
        D.backward(self.d_fake_slots, self.fake_packed, self.fake_loss.backward(fake_out), ADD, False)
        self._optimizer_step(self.training.D_opt, k)
        for name, out in (("d_real", real_out), ("d_fake", fake_out)):  # the logged mean probabilities
            xp.mean(stable_sigmoid(xp, out, out=self.report), out=self.values[name])

    def _g_update(self, step):
        """The G update, D's weights left alone: as :meth:`TrainingStep.g_update`."""
        z = self.zs[-1]
        self.G.forward(self.g_slots, z)
        fake_out = self.D.forward(self.d_fake_slots, self.fake_packed)
        g_loss = self.g_loss.forward(fake_out)
        self.xp.copyto(self.values["g_loss"], g_loss)
        check_finite(g_loss, "generator", step)
        self.D.backward(self.d_fake_slots, self.fake_packed, self.g_loss.backward(fake_out), None, True)
        self.G.backward(self.g_slots, z, self.fake_grad, SET, False)
        self._optimizer_step(self.training.G_opt, 0)

    def _optimizer_step(self, opt, k):
        """``opt.step()`` of the all-at-once path on the gradients already in its flat array, reading the
        step's numbers from row ``k`` of its array (written by :meth:`prepare`)."""
        with record(type(opt).__name__ + ".step"):
            flat = opt._flat
            opt.apply_update(flat["param"], flat["grad"], flat["state"], flat["scratch"], *self.scalars[id(opt)][1][k])
            opt._share_new_state()  # a buffer the update created (momentum switched on): each parameter's view
            t = opt.state[0]["step"] + 1
            for s in opt.state:
                s["step"] = t

    def _update_ema(self):
        """G_ema ← decay · G_ema + (1 − decay) · G, then G_ema in training mode on the step's noise (its
        running statistics), as :meth:`TrainingStep.update_ema`."""
        decay = self.training.config.g_ema
        for (average, p), scratch in zip(self.ema_arrays, self.ema_views):
            average *= decay
            average += self.xp.multiply(p, 1.0 - decay, out=scratch)
        if self.training.G_ema.buffers():
            self.G_ema.forward(self.g_ema_slots, self.zs[-1])

