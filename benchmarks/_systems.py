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
    label = "minigan"

    def __init__(self, data, batch_size, backend="numpy", z_dim=100, g_hidden=(500, 500), d_hidden=(500, 500),
                 seed=0, distributed=False):
        from minigan.data import Dataset
        from minigan.gan.trainer import TrainConfig, Trainer

        side = int(round(data.shape[1] ** 0.5))
        if side * side != data.shape[1]:   # the trainer gives G a sigmoid output only for images
            raise ValueError("benchmark data must have a square number of columns (an image), as the seed GAN")
        dataset = Dataset(x=data, name="uniform", value_range=(0.0, 1.0), image_shape=(side, side))
        config = TrainConfig(data="uniform", steps=10**9, batch_size=batch_size, z_dim=z_dim, g_hidden=tuple(g_hidden),
                             d_hidden=tuple(d_hidden), g_norm="batch", d_norm="none", loss="nonsaturating",
                             d_steps=1, optimizer="adam", lr=2e-4, betas=(0.5, 0.999), dtype="float32",
                             backend=backend, seed=seed)
        self.trainer = Trainer(config, dataset, run_dir=None, progress=False, distributed=distributed)
        self.backend = backend
        self.name = f"minigan ({backend})"
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


def build_systems(data, batch_size, backend, torch=None, torch_reason=None, include=("minigan", "pytorch", "floor"),
                  threads=None, **arch):
    """The systems to compare, and {label: reason} for those skipped.

    ``backend`` "numpy": minigan and the floor on NumPy, PyTorch on the CPU. "cupy": minigan and the
    floor on CuPy, PyTorch on CUDA.
    """
    arch = {**SEED_GAN, **arch}
    systems, skipped = [], {}
    if "minigan" in include:
        systems.append(MiniganStep(data, batch_size, backend, **arch))
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
    return systems, skipped
