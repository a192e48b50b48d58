"""The floor: one GAN training step written out by hand in NumPy (or CuPy), with no autograd.

This is what minigan's engine is measured against in :mod:`benchmarks.step`. It does exactly the
work of ``minigan.gan.trainer.Trainer.step`` for the seed GAN (loss "nonsaturating", ``d_steps=1``,
no packing, no label smoothing, no feature matching, no historical averaging):

1. draw a real batch (rows of the data, with replacement) and noise z ~ N(0, I);
2. D update: fake = G(z) in training mode (BatchNorm uses batch statistics and updates its running
   statistics, no gradient kept), D on the real and on the fake batch (two separate passes, as the
   trainer does), loss BCE(D(x), 1) + BCE(D(G(z)), 0) on logits, backward into D's weights, Adam;
3. G update: new noise, fake = G(z), loss BCE(D(G(z)), 1), backward through D (input gradient only:
   D's weights are frozen) and G, Adam;
4. the numbers ``Trainer.step`` returns: both losses (as Python floats, which is also the trainer's
   NaN check), the mean of σ(D(x)) and σ(D(G(z))), and the L2 norm (accumulated in float64) of
   every ``*.weight`` gradient: Dense weights and BatchNorm γ.

How it is written, i.e. what "floor" means here: explicit matmuls (``x @ W``, ``xᵀ @ g``, ``g @ Wᵀ``);
LeakyReLU as ``maximum(y, slope·y)`` with a branch-free backward ``g·([y > 0](1 − slope) + slope)``
(``where`` on a mask of random signs is several times slower in NumPy); BatchNorm forward in place
and its backward in the closed form ``dx = γ/(m·σ) · (m·dy − Σdy − x̂·Σ(dy·x̂))``; BCE-with-logits
gradient ``(σ(z) − t)/N``; sigmoid as ``½(1 + tanh(z/2))``; Adam fused over one flat buffer per
network (every parameter, gradient and moment is a view into it, and weight gradients are written
straight into those views with ``matmul(..., out=)``); saved activations are dropped as soon as the
backward pass has used them, as minigan's tape does. It is straightforward, careful NumPy, not a
proven lower bound: fusing the real and fake D passes into one matmul, or a compiled kernel, would go
further. Nothing here records a graph, so the difference to minigan is the cost of the engine and of
its op implementations (tape, per-op Python, generic broadcasting, ``where``, allocations).

:func:`check_floor_matches_minigan` (``python -m benchmarks.step --check``) runs minigan's
``Trainer.step`` and :meth:`FloorGAN.step` from identical weights on identical batches and noise in
float64, and checks losses, statistics, gradients, updated parameters and running statistics agree
to 1e-10 (relative), so that the floor is honestly the same computation.
"""

import math

import numpy as np

__all__ = ["FloorGAN", "FloorMismatch", "check_floor_matches_minigan", "linear_forward", "linear_backward",
           "batch_norm_forward", "batch_norm_backward", "leaky_relu_forward", "leaky_relu_backward",
           "bce_with_logits_forward", "bce_with_logits_backward", "sigmoid", "FlatAdam"]


def _array_module(array):
    """``numpy`` or ``cupy``, whichever owns ``array`` (without importing CuPy for NumPy arrays)."""
    if isinstance(array, np.ndarray):
        return np
    import cupy  # noqa: PLC0415  (only reached with a CuPy array in hand)

    return cupy


# ------------------------------------------------------------------------------------------ primitives
# Each primitive is the hand-written forward or backward of one layer. FloorGAN inlines the same
# code (with its buffers); benchmarks/ops.py times these as the "raw NumPy" column.

def linear_forward(x, weight, bias):
    """y = x @ W + b."""
    out = x @ weight
    out += bias
    return out


def linear_backward(g, x, weight, need_dx=True):
    """(dx, dW, db) = (g @ Wᵀ, xᵀ @ g, Σₙ g)."""
    return (g @ weight.T if need_dx else None), x.T @ g, g.sum(axis=0)


def leaky_relu_forward(y, slope=0.2):
    """max(y, slope·y) (equal to ``where(y > 0, y, slope·y)`` for 0 ≤ slope < 1)."""
    xp = _array_module(y)
    out = y * slope
    xp.maximum(out, y, out=out)
    return out


def leaky_relu_backward(g, y, slope=0.2):
    """g where y > 0, else slope·g (the kink takes the negative side, as minigan and PyTorch do).

    Written as g · ([y > 0]·(1 − slope) + slope), branch-free: a ``where``/``copyto(where=)`` on a mask
    of random signs runs at a fraction of NumPy's vectorised speed (branch mispredictions), while this
    gives bit-identical results (the factor is exactly 1 or slope).
    """
    factor = (y > 0).astype(g.dtype)
    factor *= 1 - slope
    factor += slope
    factor *= g
    return factor


def batch_norm_forward(x, gamma, beta, eps=1e-5):
    """Training-mode BatchNorm over axis 0: returns (y, x̂, 1/σ, μ, σ²_biased). ``x`` is left intact."""
    xp = _array_module(x)
    mean = x.mean(axis=0)
    x_hat = x - mean
    var = (x_hat * x_hat).mean(axis=0)
    inv_std = 1.0 / xp.sqrt(var + eps)
    x_hat *= inv_std
    y = x_hat * gamma
    y += beta
    return y, x_hat, inv_std, mean, var


def batch_norm_backward(dy, x_hat, inv_std, gamma):
    """(dx, dγ, dβ) in closed form: dx = γ/(m σ) · (m dy − Σdy − x̂ Σ(dy x̂)), dγ = Σ dy x̂,
    dβ = Σ dy."""
    m = dy.shape[0]
    d_gamma = (dy * x_hat).sum(axis=0)
    d_beta = dy.sum(axis=0)
    dx = dy * m
    dx -= d_beta
    dx -= x_hat * d_gamma
    dx *= gamma * inv_std / m
    return dx, d_gamma, d_beta


def sigmoid(z):
    """σ(z) = ½(1 + tanh(z/2)): one transcendental, no overflow for any z."""
    xp = _array_module(z)
    out = z * 0.5
    xp.tanh(out, out=out)
    out += 1
    out *= 0.5
    return out


def bce_with_logits_forward(z, target):
    """mean of max(z, 0) − z·t + log(1 + e^(−|z|)) (a 0-d array) and σ(z) (kept for the backward)."""
    xp = _array_module(z)
    loss = xp.maximum(z, 0) - z * target + xp.log1p(xp.exp(-xp.abs(z)))
    return loss.mean(), sigmoid(z)


def bce_with_logits_backward(sigmoid_z, target, n):
    """d(mean loss)/dz = (σ(z) − t) / n."""
    return (sigmoid_z - target) / n


# ------------------------------------------------------------------------------------------ Adam
class FlatAdam:
    """Parameters, gradients and Adam moments as views into one contiguous buffer each, so that one
    Adam step is eight vectorised passes over all parameters at once (PyTorch's "fused" idea).

    The update is minigan's (and PyTorch's), in the same order of operations:
    m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;
    θ ← θ − (lr/(1−β₁ᵗ)) · m / (√v/√(1−β₂ᵗ) + ε).
    """

    def __init__(self, xp, dtype, shapes, lr=2e-4, betas=(0.5, 0.999), eps=1e-8):
        sizes = [int(np.prod(s)) for s in shapes]
        total = sum(sizes)
        self.xp = xp
        self.flat = xp.zeros(total, dtype=dtype)
        self.grad_flat = xp.zeros(total, dtype=dtype)
        self.m = xp.zeros(total, dtype=dtype)
        self.v = xp.zeros(total, dtype=dtype)
        self._scratch = xp.empty(total, dtype=dtype)
        self.params, self.grads = [], []
        offset = 0
        for shape, size in zip(shapes, sizes):
            self.params.append(self.flat[offset:offset + size].reshape(shape))
            self.grads.append(self.grad_flat[offset:offset + size].reshape(shape))
            offset += size
        self.lr, (self.beta1, self.beta2), self.eps = lr, betas, eps
        self.t = 0

    def step(self):
        xp, g, m, v, tmp = self.xp, self.grad_flat, self.m, self.v, self._scratch
        self.t += 1
        m *= self.beta1
        xp.multiply(g, 1 - self.beta1, out=tmp)
        m += tmp
        v *= self.beta2
        xp.multiply(g, g, out=tmp)
        tmp *= 1 - self.beta2
        v += tmp
        xp.sqrt(v, out=tmp)
        tmp /= math.sqrt(1 - self.beta2 ** self.t)
        tmp += self.eps
        xp.divide(m, tmp, out=tmp)
        tmp *= self.lr / (1 - self.beta1 ** self.t)
        self.flat -= tmp


# ------------------------------------------------------------------------------------------ the GAN
class _Draws:
    """Batches and noise: NumPy's ``Generator`` on the host, CuPy's ``RandomState`` on the GPU (the
    floor draws where the data live; minigan draws on the host and copies)."""

    def __init__(self, xp, seed):
        self.xp = xp
        self.rng = np.random.default_rng(seed) if xp is np else xp.random.RandomState(seed)

    def indices(self, high, n):
        if self.xp is np:
            return self.rng.integers(0, high, size=n)
        return self.rng.randint(0, high, size=n)

    def normal(self, shape, dtype):
        return self.rng.standard_normal(shape, dtype=dtype)


class FloorGAN:
    """The seed GAN (or any widths) and its training step, by hand. See the module docstring.

    ``data``: (N, D) array (NumPy, or CuPy to run on the GPU), cast to ``dtype``. G: z_dim → g_hidden
    (Dense, BatchNorm, LeakyReLU each) → D sigmoid; D: D → d_hidden (Dense, LeakyReLU) → 1 logit.
    Weights start U(±1/√fan_in) (minigan's and PyTorch's default); :meth:`load_from_trainer` copies a
    minigan trainer's instead. Parameter order matches minigan's ``named_parameters()``.
    """

    def __init__(self, data, batch_size, z_dim=100, g_hidden=(500, 500), d_hidden=(500, 500), *,
                 dtype="float32", seed=0, lr=2e-4, betas=(0.5, 0.999), eps=1e-8, negative_slope=0.2,
                 bn_eps=1e-5, bn_momentum=0.1):
        xp = _array_module(data)
        self.xp = xp
        self.dtype = np.dtype(dtype)
        self.data = data.astype(self.dtype, copy=False)
        self.batch_size = int(batch_size)
        self.z_dim = z_dim
        self.g_hidden, self.d_hidden = tuple(g_hidden), tuple(d_hidden)
        self.slope = negative_slope
        self.bn_eps, self.bn_momentum = bn_eps, bn_momentum
        data_dim = data.shape[1]

        g_shapes, g_fans, width = [], [], z_dim
        for w in self.g_hidden:
            g_shapes += [(width, w), (w,), (w,), (w,)]   # Dense W, b; BatchNorm γ, β
            g_fans += [width, width, None, None]
            width = w
        g_shapes += [(width, data_dim), (data_dim,)]
        g_fans += [width, width]
        d_shapes, d_fans, width = [], [], data_dim
        for w in self.d_hidden:
            d_shapes += [(width, w), (w,)]
            d_fans += [width, width]
            width = w
        d_shapes += [(width, 1), (1,)]
        d_fans += [width, width]

        self.G = FlatAdam(xp, self.dtype, g_shapes, lr, betas, eps)
        self.D = FlatAdam(xp, self.dtype, d_shapes, lr, betas, eps)
        init = np.random.default_rng(seed)
        for net, fans in ((self.G, g_fans), (self.D, d_fans)):
            for p, fan_in in zip(net.params, fans):
                if fan_in is None:   # BatchNorm γ (set to 1 below) and β (0)
                    continue
                bound = 1.0 / math.sqrt(fan_in)
                p[...] = xp.asarray(init.uniform(-bound, bound, p.shape).astype(self.dtype))
        for i in range(len(self.g_hidden)):
            self.G.params[4 * i + 2][...] = 1
        self.running = [(xp.zeros(w, dtype=self.dtype), xp.ones(w, dtype=self.dtype)) for w in self.g_hidden]
        nh = len(self.g_hidden)
        # indices of the Dense weight matrices, whose gradient norms minigan's trainer logs, in its order
        self.g_weight_index = [4 * i for i in range(nh)] + [4 * nh]
        self.d_weight_index = [2 * i for i in range(len(self.d_hidden))] + [2 * len(self.d_hidden)]
        self.draws = _Draws(xp, seed)

    # -------------------------------------------------------------------------------- set-up
    def load_from_trainer(self, trainer):
        """Copy a minigan trainer's G and D parameters and G's BatchNorm running statistics."""
        for net, module in ((self.G, trainer.G), (self.D, trainer.D)):
            named = list(module.named_parameters())
            if len(named) != len(net.params):
                raise ValueError(f"parameter count differs: minigan {len(named)}, floor {len(net.params)}")
            for (name, p), mine in zip(named, net.params):
                if p.shape != mine.shape:
                    raise ValueError(f"{name}: minigan shape {p.shape}, floor shape {mine.shape}")
                mine[...] = self.xp.asarray(p.data)
        buffers = [b for _, b in trainer.G.named_buffers()]
        for (mean, var), (m_mg, v_mg) in zip(self.running, zip(buffers[0::2], buffers[1::2])):
            mean[...] = self.xp.asarray(m_mg.data)
            var[...] = self.xp.asarray(v_mg.data)

    def draw(self):
        """(real batch, noise for the D update, noise for the G update)."""
        n = self.batch_size
        real = self.data[self.draws.indices(len(self.data), n)]
        return real, self.draws.normal((n, self.z_dim), self.dtype), self.draws.normal((n, self.z_dim), self.dtype)

    # -------------------------------------------------------------------------------- forward
    def _g_forward(self, z, keep):
        """G(z) in training mode (running statistics updated); with ``keep``, what backward needs."""
        xp, P, slope = self.xp, self.G.params, self.slope
        h, caches = z, []
        for i, (running_mean, running_var) in enumerate(self.running):
            W, b, gamma, beta = P[4 * i:4 * i + 4]
            a = h @ W
            a += b
            m = a.shape[0]
            mean = a.mean(axis=0)
            a -= mean                                   # centred, in place
            var = (a * a).mean(axis=0)
            running_mean *= 1 - self.bn_momentum
            running_mean += self.bn_momentum * mean
            running_var *= 1 - self.bn_momentum
            running_var += (self.bn_momentum * m / (m - 1)) * var
            inv_std = 1.0 / xp.sqrt(var + self.bn_eps)
            a *= inv_std                                # x̂, in place
            y = a * gamma
            y += beta
            out = y * slope                             # LeakyReLU
            xp.maximum(out, y, out=out)
            if keep:
                caches.append((h, a, inv_std, y))
            h = out
        nh = len(self.running)
        logits = h @ P[4 * nh]
        logits += P[4 * nh + 1]
        logits *= 0.5                                   # sigmoid, in place: ½(1 + tanh(z/2))
        xp.tanh(logits, out=logits)
        logits += 1
        logits *= 0.5
        if keep:
            caches.append(h)
        return logits, caches

    def _d_forward(self, x):
        xp, P, slope = self.xp, self.D.params, self.slope
        h, caches = x, []
        for i in range(len(self.d_hidden)):
            a = h @ P[2 * i]
            a += P[2 * i + 1]
            out = a * slope
            xp.maximum(out, a, out=out)
            caches.append((h, a))
            h = out
        logits = h @ P[-2]
        logits += P[-1]
        caches.append(h)
        return logits, caches

    # -------------------------------------------------------------------------------- backward
    def _d_backward(self, d_logits, caches, accumulate=False, weights=True, need_dx=False):
        """Backward through D: weight gradients into ``D.grads`` (written, or added with
        ``accumulate``) when ``weights``, and the input gradient when ``need_dx``. Empties ``caches``
        as it goes, so each saved activation is freed once used (as minigan's tape frees its graph)."""
        P, G_, slope = self.D.params, self.D.grads, self.slope
        nh = len(self.d_hidden)
        h = caches.pop()
        if weights:
            self._weight_grads(h, d_logits, G_[-2], G_[-1], accumulate)
        del h
        dh = d_logits @ P[-2].T
        for i in reversed(range(nh)):
            h_in, a = caches.pop()
            da = leaky_relu_backward(dh, a, slope)
            if weights:
                self._weight_grads(h_in, da, G_[2 * i], G_[2 * i + 1], accumulate)
            if i > 0 or need_dx:
                dh = da @ P[2 * i].T
        return dh if need_dx else None

    def _weight_grads(self, x, g, grad_w, grad_b, accumulate):
        if accumulate:
            grad_w += x.T @ g
            grad_b += g.sum(axis=0)
        else:
            self.xp.matmul(x.T, g, out=grad_w)
            g.sum(axis=0, out=grad_b)

    def _g_backward(self, d_out, out, caches):
        xp, P, G_, slope = self.xp, self.G.params, self.G.grads, self.slope
        nh = len(self.running)
        da = 1 - out                                    # sigmoid: g · σ (1 − σ)
        da *= out
        da *= d_out
        del d_out
        self._weight_grads(caches.pop(), da, G_[4 * nh], G_[4 * nh + 1], False)
        dh = da @ P[4 * nh].T
        del da
        for i in reversed(range(nh)):                   # caches emptied as it goes, as in _d_backward
            h_in, x_hat, inv_std, y = caches.pop()
            W, gamma = P[4 * i], P[4 * i + 2]
            grad_w, grad_b, grad_gamma, grad_beta = G_[4 * i:4 * i + 4]
            dy = leaky_relu_backward(dh, y, slope)      # LeakyReLU
            m = dy.shape[0]                             # BatchNorm, closed form
            tmp = dy * x_hat
            tmp.sum(axis=0, out=grad_gamma)
            dy.sum(axis=0, out=grad_beta)
            xp.multiply(x_hat, grad_gamma, out=tmp)
            dy *= m
            dy -= grad_beta
            dy -= tmp
            dy *= gamma * inv_std / m                   # dy is now d(pre-BatchNorm)
            self._weight_grads(h_in, dy, grad_w, grad_b, False)
            if i > 0:
                dh = dy @ W.T

    # -------------------------------------------------------------------------------- the step
    def _bce(self, logits, target):
        xp = self.xp
        loss = xp.maximum(logits, 0) - logits * target + xp.log1p(xp.exp(-xp.abs(logits)))
        return loss.mean()

    def _norms(self, net, index):
        xp = self.xp
        norms = []
        for j in index:
            g = net.grads[j].astype(np.float64).ravel()
            norms.append(math.sqrt(float(xp.dot(g, g))))
        return norms

    def step(self, real=None, z_d=None, z_g=None):
        """One training step; returns {"d_loss", "g_loss", "d_real", "d_fake", "grad_norms"} like
        ``Trainer.step`` (grad_norms a list in minigan's order: D weights, then G weights).
        Batches and noise are drawn (:meth:`draw`) unless all three are given."""
        if real is None:
            real, z_d, z_g = self.draw()
        n = real.shape[0]
        # D update
        fake, _ = self._g_forward(z_d, keep=False)
        real_logits, real_caches = self._d_forward(real)
        fake_logits, fake_caches = self._d_forward(fake)
        d_value = float(self._bce(real_logits, 1.0) + self._bce(fake_logits, 0.0))
        if not math.isfinite(d_value):
            raise FloatingPointError(f"floor: the discriminator loss is {d_value}")
        s_real, s_fake = sigmoid(real_logits), sigmoid(fake_logits)
        self._d_backward((s_real - 1.0) / n, real_caches)
        self._d_backward(s_fake / n, fake_caches, accumulate=True)
        self.D.step()
        d_norms = self._norms(self.D, self.d_weight_index)
        # G update (D frozen: input gradient only)
        fake, caches = self._g_forward(z_g, keep=True)
        logits, d_caches = self._d_forward(fake)
        g_value = float(self._bce(logits, 1.0))
        if not math.isfinite(g_value):
            raise FloatingPointError(f"floor: the generator loss is {g_value}")
        self._g_backward(self._d_backward((sigmoid(logits) - 1.0) / n, d_caches, weights=False, need_dx=True),
                         fake, caches)
        self.G.step()
        return {"d_loss": d_value, "g_loss": g_value, "d_real": float(s_real.mean()),
                "d_fake": float(s_fake.mean()), "grad_norms": d_norms + self._norms(self.G, self.g_weight_index)}


# ------------------------------------------------------------------------------------------ self-check
class FloorMismatch(AssertionError):
    """The floor and minigan disagree: the floor would not be an honest reference."""


def _relative_error(mine, reference, scale=None):
    """max |mine − reference| / scale, scale = max |reference| unless given (normwise relative error;
    an exact zero reference compares absolutely)."""
    mine, reference = np.asarray(mine, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    if scale is None:
        scale = float(np.max(np.abs(reference))) if reference.size else 0.0
    diff = float(np.max(np.abs(mine - reference))) if reference.size else 0.0
    return diff / scale if scale > 0 else diff


def check_floor_matches_minigan(batch_size=32, steps=2, tolerance=1e-10, n_data=256, verbose=True):
    """Run ``steps`` steps of minigan's ``Trainer.step`` and of :meth:`FloorGAN.step` from the same
    weights, on the same batches and noise, in float64, on NumPy; raise :class:`FloorMismatch` unless
    every compared quantity agrees to ``tolerance`` (normwise relative error).

    Compared after every step: D and G losses, mean σ(D(x)) and σ(D(G(z))), every weight-gradient
    norm, every parameter's gradient (D's from the D update, G's from the G update: minigan leaves
    them in ``.grad``), every parameter after the Adam update, and G's BatchNorm running mean and
    variance. The batches and noise are replayed from a copy of minigan's generator state taken
    before each step, and the copy is checked to end in the same state (so both drew the same
    numbers). Two steps also exercise Adam's bias correction at t = 2. Returns {quantity: worst error}.
    """
    from minigan import random as mg_random
    from minigan.data import Dataset
    from minigan.gan.trainer import TrainConfig, Trainer

    data = np.random.default_rng(1).uniform(0.0, 1.0, (n_data, 784)).astype(np.float32)
    dataset = Dataset(x=data, name="uniform784", image_shape=(28, 28), value_range=(0.0, 1.0))
    config = TrainConfig(data="uniform784", steps=10**9, batch_size=batch_size, z_dim=100, g_hidden=(500, 500),
                         d_hidden=(500, 500), g_norm="batch", d_norm="none", loss="nonsaturating",
                         optimizer="adam", lr=2e-4, betas=(0.5, 0.999), dtype="float64", backend="numpy", seed=0)
    trainer = Trainer(config, dataset, run_dir=None, progress=False)
    floor = FloorGAN(trainer.data, batch_size, 100, (500, 500), (500, 500), dtype="float64")
    floor.load_from_trainer(trainer)

    worst = {}

    def compare(what, mine, reference, scale=None):
        error = _relative_error(mine, reference, scale)
        key = what.split("[")[0]
        worst[key] = max(worst.get(key, 0.0), error)
        if not error <= tolerance:
            raise FloorMismatch(f"floor vs minigan: {what} differs by {error:.3e} (relative), "
                                f"more than {tolerance:.0e}")

    for step in range(1, steps + 1):
        replay = np.random.default_rng()
        replay.bit_generator.state = mg_random.get_state()
        index = replay.integers(0, len(trainer.data), size=batch_size)
        z_d = replay.standard_normal((batch_size, 100))
        z_g = replay.standard_normal((batch_size, 100))
        result = trainer.step()
        if replay.bit_generator.state != mg_random.get_state():
            raise FloorMismatch("the replayed draws did not follow minigan's: Trainer.step draws in another order")
        mine = floor.step(trainer.data[index], z_d, z_g)

        for key in ("d_loss", "g_loss", "d_real", "d_fake"):
            compare(f"{key}[step {step}]", mine[key], result[key])
        compare(f"grad_norms[step {step}]", mine["grad_norms"], list(result["grad_norms"].values()))
        for net, module, label in ((floor.D, trainer.D, "D"), (floor.G, trainer.G, "G")):
            network_scale = max(float(np.max(np.abs(p.grad))) for p in module.parameters())
            for j, ((name, p), param, grad) in enumerate(zip(module.named_parameters(), net.params, net.grads)):
                # A Dense bias right before BatchNorm has a true gradient of exactly 0 (BatchNorm
                # subtracts the batch mean); both sides hold rounding noise (~1e-20) there, so it is
                # compared against the network's largest gradient instead of its own size.
                before_bn = label == "G" and j % 4 == 1 and j < 4 * len(floor.g_hidden)
                compare(f"gradients[{label}.{name}, step {step}]", grad, p.grad,
                        network_scale if before_bn else None)
                compare(f"parameters[{label}.{name}, step {step}]", param, p.data)
        buffers = [b.data for _, b in trainer.G.named_buffers()]
        for i, (mean, var) in enumerate(floor.running):
            compare(f"running_mean[{i}, step {step}]", mean, buffers[2 * i])
            compare(f"running_var[{i}, step {step}]", var, buffers[2 * i + 1])

    if verbose:
        print(f"check: the NumPy floor matches minigan's Trainer.step (float64, batch {batch_size}, {steps} steps); "
              f"worst relative errors (tolerance {tolerance:.0e}):")
        for key, error in worst.items():
            print(f"  {key:<14} {error:.2e}")
    return worst
