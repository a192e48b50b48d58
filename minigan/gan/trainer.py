"""The GAN trainer: one object holding G, D, their optimizers and the run directory.

One training step (``Trainer.step``) is ``d_steps`` discriminator updates then one generator update:

- D update: a real batch x and a fake batch G(z) (G in no_grad); with packing (PacGAN) D sees rows
  of ``pack`` samples. Loss on logits, by ``loss``:
  "minimax"/"nonsaturating": BCE(D(x), 1 − label_smoothing) + BCE(D(G(z)), 0) (one-sided smoothing);
  "least_squares": ½ (D(x) − 1)² + ½ D(G(z))²  (Mao et al., 2017).
- G update (D's parameters frozen, so no D weight gradients are computed):
  "minimax": −BCE(D(G(z)), 0) = E log(1 − D(G(z))) (Goodfellow et al., 2014, saturating);
  "nonsaturating": BCE(D(G(z)), 1) = −E log D(G(z));  "least_squares": ½ (D(G(z)) − 1)²;
  with feature matching instead ‖E f(x) − E f(G(z))‖² on D's last hidden layer (Salimans et al.).
- Historical averaging adds λ‖θ − θ̄‖² to each network's loss, θ̄ the running mean of past θ
  (Salimans et al.); its gradient 2λ(θ − θ̄) is added to ``.grad`` before the step.

Batches are drawn with replacement (``gd``: the whole data set) and noise z ~ N(0, I), both from
:mod:`minigan.random`, whose state is in every checkpoint: a resumed run continues exactly as an
uninterrupted one. Samples drawn to look at G (``sample``, the pictures, ``evaluate``) take their noise
from generators of their own, so a run learns the same whatever its logging and sampling intervals.
"""

import dataclasses
import json
import math
import os
import time
from dataclasses import dataclass

import numpy as np

from minigan import backends, random
from minigan.autograd import no_grad
from minigan.gan import plots
from minigan.gan.models import ACTIVATIONS, Discriminator, build_generator, pack_samples
from minigan.gan.progress import ProgressBar
from minigan.nn import Dense
from minigan.nn import functional as F
from minigan.optim import SGD, Adagrad, Adam
from minigan.profiler import record
from minigan.serialization import load_npz, save_npz
from minigan.tensor import Tensor

LOSSES = ("minimax", "nonsaturating", "least_squares")
OPTIMIZERS = ("adam", "sgd", "adagrad", "gd")
# Second entries of the seeds (config seed, stream, ...) of the sampling generators, one per use.
_USER_SAMPLES, _PICTURES, _EVALUATION = 1, 2, 3
LR_DECAYS = ("none", "linear")


def _sum_of_squares(array, chunk=1 << 15):
    """Σ a² accumulated in float64. On NumPy the float64 copy is made a chunk at a time, into one small
    buffer: a float64 copy of the largest gradient was the peak of a small-batch step's memory."""
    flat = array.ravel()
    if not isinstance(flat, np.ndarray):
        flat = flat.astype(np.float64)
        return float(flat @ flat)
    buffer = np.empty(min(chunk, flat.size), dtype=np.float64)
    total = 0.0
    for start in range(0, flat.size, chunk):
        part = buffer[:min(chunk, flat.size - start)]
        np.copyto(part, flat[start:start + part.size])
        total += float(part @ part)
    return total


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite; the run stopped and the last good checkpoint was kept."""


@dataclass
class TrainConfig:
    """Every choice of a run. ``None`` means "the default for the data set" (see ``resolved``)."""

    data: str = "digits"
    steps: int = 3000
    batch_size: int = 64
    z_dim: int = None
    g_hidden: tuple = None
    d_hidden: tuple = None
    g_norm: str = None            # "none" | "batch" | "instance"
    d_norm: str = "none"
    g_activation: str = "leaky_relu"  # "leaky_relu" (slope 0.2) | "relu" | "sigmoid" | "tanh"
    d_activation: str = "leaky_relu"
    loss: str = "nonsaturating"
    d_steps: int = 1
    optimizer: str = "adam"
    lr: float = 2e-4
    d_lr: float = None            # D's learning rate; None: the same as G's (``lr``)
    betas: tuple = (0.5, 0.999)
    momentum: float = 0.9
    label_smoothing: float = 0.0  # one-sided: real targets become 1 − label_smoothing
    feature_matching: bool = False
    minibatch_kernels: int = 0
    historical_averaging: float = 0.0
    pack: int = 1
    lr_decay: str = "none"        # "none" | "linear": lr falls linearly to 0 at step ``steps``
    g_ema: float = 0.0            # > 0: sample from an exponential moving average of G's weights
    init: str = "uniform"
    seed: int = 0
    backend: str = "numpy"
    dtype: str = "float32"
    n_data: int = None            # samples drawn for the synthetic 2-D sets
    log_every: int = 50
    sample_every: int = 500
    checkpoint_every: int = 500
    eval_samples: int = 2500

    @property
    def discriminator_lr(self):
        """D's learning rate: ``d_lr``, or ``lr`` when that is None."""
        return self.lr if self.d_lr is None else self.d_lr

    def resolved(self, dataset):
        """A copy with every ``None`` replaced by the default for ``dataset``."""
        images = dataset.image_shape is not None
        values = dataclasses.asdict(self)
        defaults = {
            "z_dim": 100 if images else 2,
            "g_hidden": (500, 500) if images else (128, 128),
            "d_hidden": (500, 500) if images else (128, 128),
            "g_norm": "batch",
        }
        for key, value in defaults.items():
            if values[key] is None:
                values[key] = value
        values["g_hidden"] = tuple(values["g_hidden"])
        values["d_hidden"] = tuple(values["d_hidden"])
        values["betas"] = tuple(values["betas"])
        return TrainConfig(**values)

    def check(self):
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.pack < 1 or self.batch_size % self.pack:
            raise ValueError(f"pack={self.pack} must be ≥ 1 and divide batch_size={self.batch_size}")
        for name in ("g_activation", "d_activation"):
            if getattr(self, name) not in ACTIVATIONS:
                raise ValueError(f"{name} must be one of {ACTIVATIONS}, got {getattr(self, name)!r}")
        if self.d_lr is not None and not self.d_lr > 0:
            raise ValueError(f"d_lr must be positive (or None: the same as lr), got {self.d_lr}")
        if self.lr_decay not in LR_DECAYS:
            raise ValueError(f"lr_decay must be one of {LR_DECAYS}, got {self.lr_decay!r}")
        if not 0.0 <= self.g_ema < 1.0:
            raise ValueError(f"g_ema must be in [0, 1) (0 turns it off), got {self.g_ema}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        for name in ("steps", "batch_size", "d_steps", "log_every", "sample_every", "checkpoint_every", "eval_samples"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")


def _optimizer(config, params, lr):
    if config.optimizer == "adam":
        return Adam(params, lr=lr, betas=config.betas)
    if config.optimizer == "sgd":
        return SGD(params, lr=lr, momentum=config.momentum)
    if config.optimizer == "adagrad":
        return Adagrad(params, lr=lr)
    return SGD(params, lr=lr)  # "gd": plain steps on the full data set (batch_size = N)


class Trainer:
    """Train a GAN on ``dataset`` (a :class:`minigan.data.Dataset`) with ``config`` into ``run_dir``."""

    def __init__(self, config, dataset, run_dir=None, progress=True):
        self.config = config.resolved(dataset)
        self.config.check()
        self.dataset = dataset
        self.run_dir = run_dir
        self.progress = progress
        if self.config.optimizer == "gd":
            self.config.batch_size = len(dataset.x) - len(dataset.x) % self.config.pack
        backends.set_backend(self.config.backend)
        random.seed(self.config.seed)
        # Samples for the user, for the sample grids and for evaluations come from generators of their
        # own, never from minigan.random's stream that training draws from: how often a run is looked
        # at cannot change what it learns.
        self._sample_rng = np.random.default_rng([self.config.seed, _USER_SAMPLES])
        c = self.config
        data_dim = dataset.x.shape[1]
        self.G = self._build_generator(data_dim)
        self.D = Discriminator(data_dim, c.d_hidden, c.d_norm, c.pack, c.minibatch_kernels, dtype=c.dtype,
                               init=c.init, activation=c.d_activation)
        self.G_ema = None
        if c.g_ema:
            self.G_ema = self._build_generator(data_dim)
            self.G_ema.load_state_dict(self.G.state_dict())
            self.G_ema.train(False)
            for p in self.G_ema.parameters():
                p.requires_grad = False
        self.G_opt = _optimizer(c, self.G.parameters(), c.lr)
        self.D_opt = _optimizer(c, self.D.parameters(), c.discriminator_lr)
        self.data = backends.current_module().asarray(dataset.x.astype(c.dtype))
        self.averages = {"G": [p.data.copy() for p in self.G.parameters()],
                         "D": [p.data.copy() for p in self.D.parameters()]}
        self.step_count = 0
        self.records = []
        self.last = {}

    def _build_generator(self, data_dim):
        c = self.config
        return build_generator(c.z_dim, data_dim, c.g_hidden, c.g_norm, "sigmoid" if self.dataset.image_shape else
                               "linear", c.dtype, c.init, c.g_activation)

    # ------------------------------------------------------------------------------ sampling
    def noise(self, n):
        with record("noise"):
            return random.randn(n, self.config.z_dim, dtype=self.config.dtype)

    def real_batch(self, n):
        """n real samples, drawn uniformly with replacement — except with ``optimizer="gd"`` (full-batch
        gradient descent), where a batch is the whole data set, each sample once: in its stored order,
        or, when D judges packs of m samples, in a fresh random order each time (so that the packs
        differ), leaving out the N mod m samples that do not fill a pack."""
        c = self.config
        with record("real batch"):
            if c.optimizer == "gd" and n == c.batch_size:
                if c.pack == 1:
                    return Tensor(self.data)
                index = random.generator().permutation(len(self.data))[:n]
            else:
                index = random.generator().integers(0, len(self.data), size=n)
            return Tensor(self.data[backends.current_module().asarray(index)])

    def sample(self, n, train_mode=False, average=True, seed=None):
        """n samples from G as a host NumPy array.

        The noise z comes from a generator seeded with ``seed`` (an int or a sequence of ints), or, when
        ``seed`` is None, from the trainer's own sampling stream (seeded from the config's seed, not
        saved in checkpoints). Neither is the stream that training draws from, so sampling never
        changes a run. BatchNorm uses running statistics unless ``train_mode`` (batch statistics of
        these n samples, as during training); sampling never changes the running statistics either
        way. With ``g_ema`` on, the samples come from the weight average unless ``average`` is False
        (then from the generator being trained)."""
        rng = self._sample_rng if seed is None else np.random.default_rng(seed)
        z = rng.standard_normal((n, self.config.z_dim)).astype(self.config.dtype)
        G = self.G_ema if average and self.G_ema is not None else self.G
        kept = [b.data.copy() for b in G.buffers()] if train_mode else []
        G.train(train_mode)
        with no_grad():
            out = G(Tensor(backends.current_module().asarray(z))).numpy()
        G.train(G is self.G)
        for buffer, data in zip(G.buffers(), kept):
            buffer.data[...] = data
        return out

    # ------------------------------------------------------------------------------- losses
    def _d_loss(self, real_logits, fake_logits):
        c = self.config
        if c.loss == "least_squares":
            return 0.5 * F.mse_loss(real_logits, 1.0) + 0.5 * F.mse_loss(fake_logits, 0.0)
        return (F.binary_cross_entropy_with_logits(real_logits, 1.0 - c.label_smoothing)
                + F.binary_cross_entropy_with_logits(fake_logits, 0.0))

    def _g_loss(self, fake_logits):
        c = self.config
        if c.loss == "least_squares":
            return 0.5 * F.mse_loss(fake_logits, 1.0)
        if c.loss == "minimax":
            return -F.binary_cross_entropy_with_logits(fake_logits, 0.0)
        return F.binary_cross_entropy_with_logits(fake_logits, 1.0)

    def _add_historical_average(self, name, params):
        weight = self.config.historical_averaging
        if not weight:
            return
        for p, average in zip(params, self.averages[name]):
            if p.grad is not None:
                p.grad = p.grad + (2 * weight) * (p.data - average)

    def _update_ema(self, z):
        """G_ema ← decay · G_ema + (1 − decay) · G for the weights. BatchNorm's running statistics belong
        to the weights that produced them, so G's are not averaged: G_ema runs once in training mode on
        the step's noise ``z`` (no gradient), which updates its own running statistics."""
        decay = self.config.g_ema
        for average, p in zip(self.G_ema.parameters(), self.G.parameters()):
            average.data *= decay
            average.data += (1.0 - decay) * p.data
        if self.G_ema.buffers():
            self.G_ema.train(True)
            with no_grad():
                self.G_ema(z)
            self.G_ema.train(False)

    def lr_factor(self, step):
        """The factor on both learning rates at step ``step`` (1-based): 1, or with ``lr_decay="linear"``
        1 − (step − 1) / steps, falling to 1 / steps at the last step (0 after it)."""
        if self.config.lr_decay == "linear":
            return max(0.0, 1.0 - (step - 1) / self.config.steps)
        return 1.0

    def _update_averages(self, name, params):
        if not self.config.historical_averaging:
            return
        t = self.step_count
        for p, average in zip(params, self.averages[name]):
            average *= t / (t + 1)
            average += p.data / (t + 1)

    @staticmethod
    def _check_finite(loss, which, step):
        value = float(loss.item())
        if not math.isfinite(value):
            raise TrainingDiverged(f"step {step}: the {which} loss is {value}; training stopped")
        return value

    # ---------------------------------------------------------------------------------- step
    def _d_logits(self, real, fake):
        """D's logits of the real and the fake rows of one D update: two calls, so that BatchNorm in D
        (if any) normalises each batch by its own statistics (``examples/bn_in_gans.py`` overrides
        this to normalise one mixed batch)."""
        return self.D(real), self.D(fake)

    def _d_update(self, step):
        """One D update; returns its loss and the logits of the real and the fake rows. (A method of its
        own so that the two batches are freed before the G update starts.)"""
        c = self.config
        real = self.real_batch(c.batch_size)
        with no_grad():
            fake = self.G(self.noise(c.batch_size))
        real_logits, fake_logits = self._d_logits(pack_samples(real, c.pack), pack_samples(fake, c.pack))
        d_loss = self._d_loss(real_logits, fake_logits)
        d_value = self._check_finite(d_loss, "discriminator", step)
        self.D_opt.zero_grad()
        d_loss.backward()
        self._add_historical_average("D", self.D_opt.params)
        self.D_opt.step()
        return d_value, real_logits, fake_logits

    def step(self, grad_norms=True):
        """One training step (``d_steps`` D updates, one G update); returns its losses, D outputs and,
        if ``grad_norms``, the gradient norm of every weight (``train`` asks for them on logged steps)."""
        c = self.config
        step = self.step_count + 1
        factor = self.lr_factor(step)
        self.G_opt.lr = c.lr * factor
        self.D_opt.lr = c.discriminator_lr * factor
        for _ in range(c.d_steps):
            d_value, real_logits, fake_logits = self._d_update(step)
        with record("gradient norms"):
            d_grad_norms = self._grad_norms("D", self.D) if grad_norms else {}

        for p in self.D_opt.params:
            p.requires_grad = False
        try:
            z = self.noise(c.batch_size)
            fake = self.G(z)
            if c.feature_matching:
                with no_grad():
                    real_features = self.D.features(pack_samples(self.real_batch(c.batch_size), c.pack))
                g_loss = F.feature_matching_loss(real_features, self.D.features(pack_samples(fake, c.pack)))
            else:
                g_loss = self._g_loss(self.D(pack_samples(fake, c.pack)))
            g_value = self._check_finite(g_loss, "generator", step)
            self.G_opt.zero_grad()
            g_loss.backward()
        finally:
            for p in self.D_opt.params:
                p.requires_grad = True
        self._add_historical_average("G", self.G_opt.params)
        self.G_opt.step()
        with record("EMA and averages"):
            if self.G_ema is not None:
                self._update_ema(z)
            self.step_count = step
            self._update_averages("G", self.G_opt.params)
            self._update_averages("D", self.D_opt.params)

        self.last = {
            "step": step, "d_loss": d_value, "g_loss": g_value,
            "d_real": float(F.sigmoid(real_logits).mean().item()),
            "d_fake": float(F.sigmoid(fake_logits).mean().item()),
            "grad_norms": {**d_grad_norms, **self._grad_norms("G", self.G)} if grad_norms else {},
        }
        return self.last

    @staticmethod
    def _grad_norms(prefix, model):
        """‖∂loss/∂W‖₂ of the weight matrix W of every Dense layer — the per-layer view of vanishing
        gradients; BatchNorm's γ and the biases are left out — keyed ``"<prefix>.<layer>.weight"``.
        Accumulated in float64 (a float32 sum of 250k squares loses digits)."""
        norms = {}
        for name, module in model.named_modules():
            p = module.weight if isinstance(module, Dense) else None
            if p is not None and p.grad is not None:
                norms[f"{prefix}.{name}.weight"] = math.sqrt(_sum_of_squares(p.grad))
        return norms

    # ------------------------------------------------------------------------------- running
    def train(self, steps=None):
        """Run until ``steps`` steps in all (default: the config's), logging, sampling and checkpointing
        into the run directory. A NaN/inf loss raises :class:`TrainingDiverged` after keeping the last
        good checkpoint. Returns the final evaluation (a dict)."""
        total = steps or self.config.steps
        if self.run_dir:
            os.makedirs(self.run_dir, exist_ok=True)
            self._write_config()
        bar = ProgressBar(total, start=self.step_count) if self.progress else None
        started = time.perf_counter()
        while self.step_count < total:
            logged = (self.step_count + 1) % self.config.log_every == 0 or self.step_count + 1 == total
            try:
                last = self.step(grad_norms=logged)
            except TrainingDiverged as exc:
                if bar:
                    bar.close()
                kept = self.checkpoint_path if self.run_dir and os.path.exists(self.checkpoint_path) else None
                raise TrainingDiverged(f"{exc}; last good checkpoint: {kept or 'none written yet'}") from None
            step = self.step_count
            if logged:
                record = dict(last, seconds=time.perf_counter() - started)
                self.records.append(record)
                self._append_metrics(record)
            if bar:
                bar.update(step, {"D loss": last["d_loss"], "G loss": last["g_loss"],
                                  "D(x)": last["d_real"], "D(G(z))": last["d_fake"]})
            if self.run_dir and (step % self.config.sample_every == 0 or step == total):
                self.save_samples(os.path.join(self.run_dir, "samples", f"step_{step:06d}.png"))
            if self.run_dir and (step % self.config.checkpoint_every == 0 or step == total):
                self.save_checkpoint()
        result = self.evaluate()
        if self.run_dir:
            if self.records:
                plots.save_curves(os.path.join(self.run_dir, "curves.png"), self.records)
            with open(os.path.join(self.run_dir, "evaluation.json"), "w") as f:
                json.dump(result, f, indent=2)
        return result

    def evaluate(self, n=None, seed=None):
        """Quality metrics of n samples (mode metrics for 2-D sets, classifier metrics for images).

        The samples' noise is seeded with ``seed``, by default with (config seed, step): evaluating the
        same weights again — later in the run, or with ``minigan eval`` on the checkpoint — gives the
        same figures."""
        from minigan.gan.evaluation import evaluate_samples

        if seed is None:
            seed = [self.config.seed, _EVALUATION, self.step_count]
        return evaluate_samples(self.sample(n or self.config.eval_samples, seed=seed), self.dataset)

    def save_samples(self, path):
        """A sample grid (images) or scatter plot (2-D) of G at this step; every step's picture uses the
        same noise z, so that a run's pictures show one set of samples changing."""
        d = self.dataset
        seed = [self.config.seed, _PICTURES]
        if d.image_shape is not None:
            plots.save_sample_grid(path, self.sample(64, seed=seed), d.image_shape, title=f"step {self.step_count}")
        else:
            real = d.x[:2000]
            plots.save_scatter(path, self.sample(1000, seed=seed), real, d.modes, title=f"step {self.step_count}")

    # ---------------------------------------------------------------------------- checkpoints
    @property
    def checkpoint_path(self):
        return os.path.join(self.run_dir, "checkpoint.npz")

    def state(self):
        """Everything needed to continue exactly: weights, optimizer states, averages, step, RNG."""
        flat = {}
        modules = (("G", self.G), ("D", self.D)) + ((("G_ema", self.G_ema),) if self.G_ema is not None else ())
        for prefix, module in modules:
            for k, v in module.state_dict().items():
                flat[f"{prefix}/{k}"] = v
        for prefix, opt in (("G_opt", self.G_opt), ("D_opt", self.D_opt)):
            for k, v in opt.flat_state().items():
                flat[f"{prefix}/{k}"] = v
        for prefix in ("G", "D"):
            for i, a in enumerate(self.averages[prefix]):
                flat[f"average/{prefix}/{i}"] = a
        flat["step"] = np.asarray(self.step_count)
        flat["rng"] = np.frombuffer(json.dumps(random.get_state()).encode(), dtype=np.uint8)
        flat["config"] = np.frombuffer(json.dumps(dataclasses.asdict(self.config)).encode(), dtype=np.uint8)
        return flat

    def save_checkpoint(self, path=None):
        save_npz(path or self.checkpoint_path, self.state())

    def load_state(self, flat, source="checkpoint"):
        def part(prefix):
            return {k[len(prefix) + 1:]: v for k, v in flat.items() if k.startswith(prefix + "/")}

        self.G.load_state_dict(part("G"))
        self.D.load_state_dict(part("D"))
        if self.G_ema is not None:
            self.G_ema.load_state_dict(part("G_ema"))
        self.G_opt.load_flat_state(part("G_opt"), source)
        self.D_opt.load_flat_state(part("D_opt"), source)
        xp = backends.current_module()
        for prefix in ("G", "D"):
            stored = part(f"average/{prefix}")
            self.averages[prefix] = [xp.asarray(stored[str(i)]) for i in range(len(self.averages[prefix]))]
        self.step_count = int(flat["step"])
        random.set_state(json.loads(bytes(flat["rng"]).decode()))

    @classmethod
    def from_checkpoint(cls, path, dataset=None, run_dir=None, progress=True):
        """Rebuild the trainer saved in ``path`` (its config included) and restore its state."""
        flat = load_npz(path)
        if "config" not in flat:
            raise ValueError(f"{path} is not a minigan training checkpoint (no 'config' entry)")
        config = TrainConfig(**json.loads(bytes(flat["config"]).decode()))
        if dataset is None:
            from minigan.data import load_dataset

            dataset = load_dataset(config.data, n_samples=config.n_data, seed=config.seed)
        trainer = cls(config, dataset, run_dir=run_dir, progress=progress)
        trainer.load_state(flat, source=str(path))
        return trainer

    # ------------------------------------------------------------------------------- logging
    def _write_config(self):
        with open(os.path.join(self.run_dir, "config.json"), "w") as f:
            json.dump(dataclasses.asdict(self.config), f, indent=2)

    def _append_metrics(self, record):
        if self.run_dir:
            with open(os.path.join(self.run_dir, "metrics.jsonl"), "a") as f:
                f.write(json.dumps(record) + "\n")
