"""The three implementations of one GAN training step that :mod:`benchmarks.step` and
:mod:`benchmarks.scaling` time against each other, each behind the same small interface:
``step()`` does one training step, ``sync()`` waits for the device, ``peak_memory()`` measures one step's
peak memory (bytes, method).

- :class:`MiniganStep` — ``minigan.gan.trainer.Trainer.step()`` on a ``Dataset`` of the benchmark data.
- :class:`TorchStep` — the same GAN and step in PyTorch eager (CPU or CUDA).
- :class:`FloorStep` — :class:`benchmarks.numpy_floor.FloorGAN` (NumPy or CuPy).

All three do the work ``Trainer.step`` does: draw a batch (with replacement) and noise, one D update
on a real and a fake batch (BCE with logits, fake from G without gradient), one G update
(non-saturating BCE) with D frozen, Adam(lr 2e-4, betas (0.5, 0.999)) in float32, and read back the
losses, mean σ(D(x)), mean σ(D(G(z))) and every ``*.weight`` gradient's norm (in float64), which is what
``Trainer.step`` returns.
"""

import numpy as np

from benchmarks import _common
from benchmarks.numpy_floor import FloorGAN

SEED_GAN = {"z_dim": 100, "g_hidden": (500, 500), "d_hidden": (500, 500)}


def benchmark_data(n=10_000, dim=784, seed=1234):
    """The benchmark's data: ``n`` rows uniform on [0, 1), float32, generated once (no downloads)."""
    return np.random.default_rng(seed).uniform(0.0, 1.0, (n, dim)).astype(np.float32)


class _ArrayStep:
    """What the NumPy/CuPy systems share: ``self._cupy`` is the cupy module on the GPU, else None."""

    def sync(self):
        if self._cupy is not None:
            self._cupy.cuda.Device().synchronize()

    def peak_memory(self):
        if self._cupy is not None:
            return _common.cupy_pool_peak(self._cupy, self.step)
        return _common.tracemalloc_peak(self.step)


class MiniganStep(_ArrayStep):
    """``Trainer.step()`` with the eager step (``static_step=False``: a graph built and walked each step), or
    with ``static=True`` the static step (:mod:`minigan.gan.static_step`, the same numbers over arrays
    allocated once; the trainer's default where it runs, as for this seed GAN)."""

    def __init__(self, data, batch_size, backend="numpy", z_dim=100, g_hidden=(500, 500), d_hidden=(500, 500),
                 seed=0, distributed=False, static=False):
        from minigan.data import Dataset
        from minigan.gan.trainer import TrainConfig, Trainer

        side = int(round(data.shape[1] ** 0.5))
        if side * side != data.shape[1]:   # the trainer gives G a sigmoid output only for images
            raise ValueError("benchmark data must have a square number of columns (an image), as the seed GAN")
        dataset = Dataset(x=data, name="uniform", value_range=(0.0, 1.0), image_shape=(side, side))
        config = TrainConfig(data="uniform", steps=10**9, batch_size=batch_size, z_dim=z_dim, g_hidden=tuple(g_hidden),
                             d_hidden=tuple(d_hidden), g_norm="batch", d_norm="none", loss="nonsaturating",
                             d_steps=1, optimizer="adam", lr=2e-4, betas=(0.5, 0.999), dtype="float32",
                             backend=backend, seed=seed, static_step=static)  # False: the eager step, always
        self.trainer = Trainer(config, dataset, run_dir=None, progress=False, distributed=distributed)
        self.backend = backend
        self.label = "minigan_static" if static else "minigan"
        self.name = f"minigan static step ({backend})" if static else f"minigan ({backend})"
        self._cupy = _common.load_cupy()[0] if backend == "cupy" else None

    def step(self):
        return self.trainer.step()


class FloorStep(_ArrayStep):
    label = "floor"

    def __init__(self, data, batch_size, backend="numpy", z_dim=100, g_hidden=(500, 500), d_hidden=(500, 500),
                 seed=0):
        self._cupy = None
        if backend == "cupy":
            self._cupy = _common.load_cupy()[0]
            data = self._cupy.asarray(data)
        self.floor = FloorGAN(data, batch_size, z_dim, g_hidden, d_hidden, dtype="float32", seed=seed)
        self.name = f"NumPy floor ({backend})" if backend == "numpy" else "CuPy floor"

    def step(self):
        return self.floor.step()


class GemmStep(_ArrayStep):
    """The step's matrix products alone, in float32 with ``matmul(..., out=)`` into buffers allocated once
    (an input and an output buffer of its own per layer, so that no product writes over its operand):
    what no implementation of the step can skip, the bound the step is measured against. For the D
    update: G's forward (3 products), D's forward on the real and on the fake rows (3 + 3), D's weight
    gradients for both (3 + 3) and its input gradients below the head's (2 + 2); for the G update: G's
    and D's forwards (3 + 3), D's input gradients (3), G's weight gradients (3) and input gradients (2)."""

    label = "gemm"

    def __init__(self, data, batch_size, backend="numpy", z_dim=100, g_hidden=(500, 500), d_hidden=(500, 500),
                 seed=0):
        self._cupy = _common.load_cupy()[0] if backend == "cupy" else None
        xp = self.xp = self._cupy or np
        rng = np.random.default_rng(seed)

        def array(*shape):
            return xp.asarray(rng.standard_normal(shape).astype(np.float32))

        self.networks = {}
        for name, widths in (("G", [z_dim, *g_hidden, data.shape[1]]), ("D", [data.shape[1], *d_hidden, 1])):
            self.networks[name] = {"weights": [array(a, b) for a, b in zip(widths, widths[1:])],
                                   "grads": [xp.empty((a, b), np.float32) for a, b in zip(widths, widths[1:])],
                                   "outputs": [array(batch_size, w) for w in widths],   # layer i's input: [i]
                                   "gradients": [array(batch_size, w) for w in widths]}
        self.name = f"matrix products alone ({backend})"

    def _forward(self, name):
        net, xp = self.networks[name], self.xp
        for i, w in enumerate(net["weights"]):
            xp.matmul(net["outputs"][i], w, out=net["outputs"][i + 1])

    def _backward(self, name, weight_grads, input_grad):
        net, xp = self.networks[name], self.xp
        for i in range(len(net["weights"]) - 1, -1, -1):
            if weight_grads:
                xp.matmul(net["outputs"][i].T, net["gradients"][i + 1], out=net["grads"][i])
            if i > 0 or input_grad:
                xp.matmul(net["gradients"][i + 1], net["weights"][i].T, out=net["gradients"][i])

    def step(self):
        self._forward("G")
        for _ in range(2):  # D on the real rows, then on the fake rows
            self._forward("D")
            self._backward("D", weight_grads=True, input_grad=False)
        self._forward("G")
        self._forward("D")
        self._backward("D", weight_grads=False, input_grad=True)
        self._backward("G", weight_grads=True, input_grad=False)


def torch_seed_gan(torch, data_dim, z_dim=100, g_hidden=(500, 500), d_hidden=(500, 500), batch_norm=None):
    """The seed GAN's G and D as ``torch.nn.Sequential``s: G = (Linear–BatchNorm–LeakyReLU(0.2))* –
    Linear–Sigmoid, D = (Linear–LeakyReLU(0.2))* – Linear(→ 1). ``batch_norm`` is G's normalisation
    class (default ``torch.nn.BatchNorm1d``)."""
    nn = torch.nn
    batch_norm = batch_norm or nn.BatchNorm1d
    layers, width = [], z_dim
    for w in g_hidden:
        layers += [nn.Linear(width, w), batch_norm(w), nn.LeakyReLU(0.2)]
        width = w
    G = nn.Sequential(*layers, nn.Linear(width, data_dim), nn.Sigmoid())
    layers, width = [], data_dim
    for w in d_hidden:
        layers += [nn.Linear(width, w), nn.LeakyReLU(0.2)]
        width = w
    return G, nn.Sequential(*layers, nn.Linear(width, 1))


class TorchStep:
    """The seed GAN in PyTorch eager: ``nn.Linear``/``BatchNorm1d``/``LeakyReLU(0.2)``/``Sigmoid``,
    ``BCEWithLogitsLoss``, ``torch.optim.Adam`` with its defaults for the implementation (on CPU:
    the per-parameter loop, as PyTorch picks), ``zero_grad(set_to_none=True)``. D is frozen for the G
    update by ``requires_grad_(False)``, as minigan's trainer does, so no D weight gradients are
    computed there. Statistics are read with one ``.tolist()`` per update."""

    label = "pytorch"

    def __init__(self, torch, data, batch_size, device="cpu", z_dim=100, g_hidden=(500, 500), d_hidden=(500, 500),
                 seed=0, threads=None):
        nn = torch.nn
        self.torch = torch
        if device == "cpu":
            torch.set_num_threads(threads or _common.cpu_cores())
        torch.manual_seed(seed)
        self.device = torch.device(device)
        self.data = torch.from_numpy(np.ascontiguousarray(data, dtype=np.float32)).to(self.device)
        self.batch_size, self.z_dim = batch_size, z_dim
        G, D = torch_seed_gan(torch, data.shape[1], z_dim, g_hidden, d_hidden)
        self.G, self.D = G.to(self.device), D.to(self.device)
        self.G_opt = torch.optim.Adam(self.G.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.D_opt = torch.optim.Adam(self.D.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.loss = nn.BCEWithLogitsLoss()
        self.ones = torch.ones(batch_size, 1, device=self.device)
        self.zeros = torch.zeros(batch_size, 1, device=self.device)
        # the Linear weight matrices, whose gradient norms minigan's trainer logs (not BatchNorm's γ)
        self.g_weights = [m.weight for m in self.G.modules() if isinstance(m, torch.nn.Linear)]
        self.d_weights = [m.weight for m in self.D.modules() if isinstance(m, torch.nn.Linear)]
        self.name = f"PyTorch {torch.__version__.split('+')[0]} ({device})"

    def _norms(self, params):
        torch = self.torch
        return torch.stack([torch.linalg.vector_norm(p.grad, dtype=torch.float64) for p in params])

    def step(self):
        torch, n = self.torch, self.batch_size
        real = self.data[torch.randint(0, len(self.data), (n,), device=self.device)]
        with torch.no_grad():
            fake = self.G(torch.randn(n, self.z_dim, device=self.device))
        real_logits = self.D(real)
        fake_logits = self.D(fake)
        d_loss = self.loss(real_logits, self.ones) + self.loss(fake_logits, self.zeros)
        self.D_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        self.D_opt.step()
        with torch.no_grad():
            d_stats = torch.cat([d_loss.reshape(1).double(), torch.sigmoid(real_logits).mean().reshape(1).double(),
                                 torch.sigmoid(fake_logits).mean().reshape(1).double(),
                                 self._norms(self.d_weights)]).tolist()
        for p in self.D.parameters():
            p.requires_grad_(False)
        try:
            g_loss = self.loss(self.D(self.G(torch.randn(n, self.z_dim, device=self.device))), self.ones)
            self.G_opt.zero_grad(set_to_none=True)
            g_loss.backward()
        finally:
            for p in self.D.parameters():
                p.requires_grad_(True)
        self.G_opt.step()
        with torch.no_grad():
            g_stats = torch.cat([g_loss.reshape(1).double(), self._norms(self.g_weights)]).tolist()
        return {"d_loss": d_stats[0], "g_loss": g_stats[0], "d_real": d_stats[1], "d_fake": d_stats[2],
                "grad_norms": d_stats[3:] + g_stats[1:]}

    def sync(self):
        if self.device.type == "cuda":
            self.torch.cuda.synchronize()

    def peak_memory(self):
        if self.device.type == "cuda":
            return _common.torch_cuda_peak(self.torch, self.step)
        return _common.torch_cpu_peak(self.torch, self.step)


class JaxStep:
    """The seed GAN in JAX, the whole step one ``jax.jit``-compiled function (XLA fuses its elementwise
    work): the batch and noise drawn inside it (``jax.random``), G with batch statistics updating its
    running statistics, D on the real and on the fake rows in two calls, BCE with logits, the D update, then
    the G update differentiating G's parameters only (D's weights are constants there, so XLA computes no
    D weight gradients: the work minigan and PyTorch do with D frozen), Adam written out as PyTorch's
    (lr 2e-4, betas (0.5, 0.999), ε 1e-8, bias-corrected), float32. The step returns the losses, the mean
    σ(D(x)) and σ(D(G(z))) and every Linear weight gradient's norm (in float32, inside the step), read back
    to the host in one transfer — what ``Trainer.step`` returns. Weights start as PyTorch's Linear does
    (uniform ±1/√fan_in). JAX on the CPU backend; its memory is XLA's, not measured here."""

    label = "jax"

    def __init__(self, jax, data, batch_size, z_dim=100, g_hidden=(500, 500), d_hidden=(500, 500), seed=0):
        jnp = jax.numpy
        self.jax = jax
        key = jax.random.PRNGKey(seed)
        data = jnp.asarray(np.ascontiguousarray(data, dtype=np.float32))
        dim = data.shape[1]

        def linear(key, fan_in, fan_out):
            bound = 1.0 / np.sqrt(fan_in)
            k1, k2 = jax.random.split(key)
            return (jax.random.uniform(k1, (fan_in, fan_out), jnp.float32, -bound, bound),
                    jax.random.uniform(k2, (fan_out,), jnp.float32, -bound, bound))

        widths_g, widths_d = [z_dim, *g_hidden, dim], [dim, *d_hidden, 1]
        keys = jax.random.split(key, len(widths_g) + len(widths_d))
        G = {"linear": [linear(keys[i], widths_g[i], widths_g[i + 1]) for i in range(len(widths_g) - 1)],
             "bn": [(jnp.ones(w, jnp.float32), jnp.zeros(w, jnp.float32)) for w in g_hidden]}
        D = {"linear": [linear(keys[len(widths_g) + i], widths_d[i], widths_d[i + 1])
                        for i in range(len(widths_d) - 1)]}
        running = [(jnp.zeros(w, jnp.float32), jnp.ones(w, jnp.float32)) for w in g_hidden]
        zeros = lambda tree: jax.tree_util.tree_map(jnp.zeros_like, tree)  # noqa: E731
        self.state = {"G": G, "D": D, "running": running, "G_adam": (zeros(G), zeros(G)),
                      "D_adam": (zeros(D), zeros(D)), "t": jnp.zeros((), jnp.int32), "key": keys[-1]}
        lr, beta1, beta2, eps, slope, momentum, bn_eps = 2e-4, 0.5, 0.999, 1e-8, 0.2, 0.1, 1e-5

        def leaky(x):
            return jnp.maximum(x, slope * x)

        def generate(G, running, z):
            h, new_running = z, []
            for (W, b), (gamma, beta), (mean_run, var_run) in zip(G["linear"], G["bn"], running):
                h = h @ W + b
                mean, var = h.mean(axis=0), h.var(axis=0)
                m = h.shape[0]
                new_running.append(((1 - momentum) * mean_run + momentum * mean,
                                    (1 - momentum) * var_run + momentum * var * m / (m - 1)))
                h = leaky((h - mean) * jax.lax.rsqrt(var + bn_eps) * gamma + beta)
            W, b = G["linear"][-1]
            return jax.nn.sigmoid(h @ W + b), new_running

        def judge(D, x):
            for W, b in D["linear"][:-1]:
                x = leaky(x @ W + b)
            W, b = D["linear"][-1]
            return x @ W + b

        def bce(logits, target):
            return jnp.mean(jnp.maximum(logits, 0) - logits * target + jnp.log1p(jnp.exp(-jnp.abs(logits))))

        def adam(params, grads, moments, t):
            params, m, v = _common.jax_adam_update(jax, params, grads, *moments, t, lr, (beta1, beta2), eps)
            return params, (m, v)

        def weight_norms(grads):
            return [jnp.sqrt(jnp.sum(W * W)) for W, _ in grads["linear"]]

        def update(state, real, z_fake, z):
            """One step on a given real batch and noise (D's, then G's): the new state and the statistics."""
            t = (state["t"] + 1).astype(jnp.float32)
            fake, running = generate(state["G"], state["running"], z_fake)
            fake = jax.lax.stop_gradient(fake)

            def d_loss(D):
                r, f = judge(D, real), judge(D, fake)
                return bce(r, 1.0) + bce(f, 0.0), (r, f)

            (d_value, (r, f)), d_grads = jax.value_and_grad(d_loss, has_aux=True)(state["D"])
            D, D_adam = adam(state["D"], d_grads, state["D_adam"], t)

            def g_loss(G):
                out, new_running = generate(G, running, z)
                return bce(judge(D, out), 1.0), new_running

            (g_value, running), g_grads = jax.value_and_grad(g_loss, has_aux=True)(state["G"])
            G, G_adam = adam(state["G"], g_grads, state["G_adam"], t)
            stats = jnp.stack([d_value, g_value, jax.nn.sigmoid(r).mean(), jax.nn.sigmoid(f).mean(),
                               *weight_norms(d_grads), *weight_norms(g_grads)])
            new = {"G": G, "D": D, "running": running, "G_adam": G_adam, "D_adam": D_adam, "t": state["t"] + 1,
                   "key": state["key"]}
            return new, stats

        def step(state):
            key, k_index, k_fake, k_g = jax.random.split(state["key"], 4)
            real = data[jax.random.randint(k_index, (batch_size,), 0, data.shape[0])]
            new, stats = update(state, real, jax.random.normal(k_fake, (batch_size, z_dim)),
                                jax.random.normal(k_g, (batch_size, z_dim)))
            return dict(new, key=key), stats

        self.update = update  # for check_jax_matches_minigan
        self._step = jax.jit(step, donate_argnums=0)
        self.name = f"JAX {jax.__version__} jit (cpu)"

    def step(self):
        self.state, stats = self._step(self.state)
        values = np.asarray(stats).tolist()  # one transfer, as minigan's record and PyTorch's .tolist()
        return {"d_loss": values[0], "g_loss": values[1], "d_real": values[2], "d_fake": values[3],
                "grad_norms": values[4:]}

    def sync(self):
        """Nothing to wait for: ``step`` already read its results back to the host."""

    def peak_memory(self):
        return None, "not measured (XLA's CPU allocator is not visible to tracemalloc)"


def check_jax_matches_minigan(jax, batch_size=16, tolerance=2e-4):
    """Run one step of minigan (its static step, whose inputs are visible after ``prepare``) and of
    :class:`JaxStep`'s ``update`` from the same weights on the same real batch and noise, in float32, on a
    small seed GAN; the worst relative difference of the statistics and of the updated weights and running
    statistics (each over the whole array: max |a − b| / max |b|). Raises if one exceeds ``tolerance``
    (float32 rounding through a step, two libraries' GEMMs and transcendentals)."""
    arch = {"z_dim": 8, "g_hidden": (32, 24), "d_hidden": (24, 16)}
    data = benchmark_data(n=256, dim=16)
    minigan = MiniganStep(data, batch_size, static=True, **arch)
    minigan.step()  # the warm-up: the static step runs from the second step on
    trainer = minigan.trainer
    st = trainer._run_step
    peer = JaxStep(jax, data, batch_size, **arch)
    jnp = jax.numpy
    dense_g = [m for m in trainer.G if type(m).__name__ == "Dense"]
    norms_g = [m for m in trainer.G if type(m).__name__ == "BatchNorm1d"]
    dense_d = [m for m in trainer.D.body if type(m).__name__ == "Dense"] + [trainer.D.head]

    def pairs(layers):
        return [(jnp.asarray(m.weight.data), jnp.asarray(m.bias.data)) for m in layers]

    def moments(opt, layers):
        names = {id(p): i for i, p in enumerate(opt.params)}
        return tuple([(jnp.asarray(opt.state[names[id(m.weight)]][k]), jnp.asarray(opt.state[names[id(m.bias)]][k]))
                      for m in layers] for k in ("exp_avg", "exp_avg_sq"))

    g_m, g_v = moments(trainer.G_opt, dense_g)
    bn_m, bn_v = moments(trainer.G_opt, norms_g)
    d_m, d_v = moments(trainer.D_opt, dense_d)
    state = {"G": {"linear": pairs(dense_g), "bn": pairs(norms_g)}, "D": {"linear": pairs(dense_d)},
             "running": [(jnp.asarray(m.running_mean.data), jnp.asarray(m.running_var.data)) for m in norms_g],
             "G_adam": ({"linear": g_m, "bn": bn_m}, {"linear": g_v, "bn": bn_v}),
             "D_adam": ({"linear": d_m}, {"linear": d_v}), "t": jnp.asarray(trainer.G_opt.state[0]["step"], jnp.int32),
             "key": peer.state["key"]}
    st.prepare(2)
    new, stats = peer.update(state, jnp.asarray(st.reals[0]), jnp.asarray(st.zs[0]), jnp.asarray(st.zs[1]))
    record = st.run(2, grad_norms=True)
    trainer.step_count += 1
    worst = {}

    def compare(name, ours, theirs):
        theirs = np.asarray(theirs, dtype=np.float64)
        scale = max(float(np.max(np.abs(theirs))), 1e-30)
        worst[name] = max(worst.get(name, 0.0), float(np.max(np.abs(np.asarray(ours, np.float64) - theirs))) / scale)

    stats = np.asarray(stats)
    compare("statistics", [record["d_loss"], record["g_loss"], record["d_real"], record["d_fake"]], stats[:4])
    compare("weight gradient norms", list(record["grad_norms"].values()), stats[4:])
    for layers, trees in ((dense_g, new["G"]["linear"]), (norms_g, new["G"]["bn"]), (dense_d, new["D"]["linear"])):
        for m, (w, b) in zip(layers, trees):
            compare("weights", m.weight.data, w)
            compare("weights", m.bias.data, b)
    for m, (mean, var) in zip(norms_g, new["running"]):
        compare("running statistics", m.running_mean.data, mean)
        compare("running statistics", m.running_var.data, var)
    bad = {k: v for k, v in worst.items() if not v <= tolerance}
    if bad:
        raise AssertionError(f"the JAX peer's step differs from minigan's beyond {tolerance}: {bad}")
    return worst


def build_systems(data, batch_size, backend, torch=None, torch_reason=None, include=("minigan", "pytorch", "floor"),
                  threads=None, jax=None, jax_reason=None, **arch):
    """The systems to compare, and {label: reason} for those skipped.

    ``backend`` "numpy": minigan and the floor on NumPy, PyTorch on the CPU, JAX on the CPU. "cupy":
    minigan and the floor on CuPy, PyTorch on CUDA (JAX is not compared there). ``include`` may also name
    "minigan_static" (minigan's static step) and "jax".
    """
    arch = {**SEED_GAN, **arch}
    systems, skipped = [], {}
    if "minigan" in include:
        systems.append(MiniganStep(data, batch_size, backend, **arch))
    if "minigan_static" in include:
        if backend == "numpy":
            systems.append(MiniganStep(data, batch_size, backend, static=True, **arch))
        else:
            skipped["minigan_static"] = "the static step runs on NumPy (its CUDA-graph replay is not built yet)"
    if "jax" in include:
        if jax is None:
            skipped["jax"] = jax_reason or "JAX not requested"
        elif backend != "numpy":
            skipped["jax"] = "JAX is compared on the CPU only"
        else:
            systems.append(JaxStep(jax, data, batch_size, **arch))
    if "pytorch" in include:
        if torch is None:
            skipped["pytorch"] = torch_reason or "PyTorch not requested"
        elif backend == "cupy" and not torch.cuda.is_available():
            skipped["pytorch"] = (f"this PyTorch ({torch.__version__}) has no usable CUDA device; install a CUDA "
                                  "build of PyTorch to compare on the GPU")
        else:
            systems.append(TorchStep(torch, data, batch_size, "cuda" if backend == "cupy" else "cpu", threads=threads,
                                     **arch))
    if "floor" in include:
        systems.append(FloorStep(data, batch_size, backend, **arch))
    if "gemm" in include:
        systems.append(GemmStep(data, batch_size, backend, **arch))
    return systems, skipped
