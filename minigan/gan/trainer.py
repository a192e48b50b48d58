"""The GAN trainer: a run of training steps, with logging, pictures, checkpoints and evaluation.

A run is split by concern, one module each:

- :mod:`minigan.gan.config` — ``TrainConfig``: every choice of a run, its defaults and its checks;
- :mod:`minigan.gan.objectives` — the losses (minimax, non-saturating, least squares, Wasserstein,
  hinge) and D's regularisers (WGAN-GP, R1, R2, weight clipping), each a small object found by name;
- :mod:`minigan.gan.step` — ``TrainingStep``: G, D, their optimizers, the batch and noise draws, and one
  step (``d_steps`` D updates, one G update);
- :mod:`minigan.gan.checkpoint` — what a checkpoint holds, saving and restoring it;
- this module — ``Trainer``: the loop around the step (logging to ``metrics.jsonl``, sample pictures,
  evaluations during and after the run, curves, checkpoints), and sampling from G.

Samples drawn to look at G (``sample``, the pictures, ``evaluate``) take their noise from generators of
their own, never from :mod:`minigan.random`'s stream that training draws from: a run learns the same
whatever its logging, sampling and evaluation intervals, and a resumed run continues exactly as an
uninterrupted one.
"""

import dataclasses
import json
import os
import time

import numpy as np

from minigan import backends, random
from minigan.autograd import no_grad
from minigan.gan import checkpoint, plots
from minigan.gan.config import LR_DECAYS, OPTIMIZERS, TrainConfig
from minigan.gan.objectives import LOSSES as _OBJECTIVES
from minigan.gan.progress import ProgressBar
from minigan.gan.step import TrainingDiverged, TrainingStep
from minigan.serialization import atomic_write_bytes
from minigan.tensor import Tensor

LOSSES = tuple(_OBJECTIVES)
__all__ = ["Trainer", "TrainConfig", "TrainingDiverged", "LOSSES", "OPTIMIZERS", "LR_DECAYS"]
# The evaluation metrics drawn in curves.png (2-D sets), each against the step.
_CURVES = ("step", "modes_captured", "high_quality_fraction", "reverse_kl", "w2_ratio", "spread_ratio")
# Second entries of the seeds (config seed, stream, ...) of the sampling generators, one per use.
_USER_SAMPLES, _PICTURES, _EVALUATION = 1, 2, 3


def _write_json(path, value):
    atomic_write_bytes(path, lambda f: f.write(json.dumps(value, indent=2).encode()))


class Trainer:
    """Train a GAN on ``dataset`` (a :class:`minigan.data.Dataset`) with ``config`` into ``run_dir``.

    ``step_class`` (a :class:`~minigan.gan.step.TrainingStep` subclass) is what runs each step: a study
    that changes one part of the step subclasses it and sets it here.
    """

    step_class = TrainingStep

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
        self._sample_rng = np.random.default_rng([self.config.seed, _USER_SAMPLES])
        self.training_step = self.step_class(self.config, dataset)
        self.step_count = 0
        self.records = []
        self.evaluations = []
        self.last = {}

    # What the step owns, under the names a run's users know.
    G = property(lambda self: self.training_step.G)
    D = property(lambda self: self.training_step.D)
    G_ema = property(lambda self: self.training_step.G_ema)
    G_opt = property(lambda self: self.training_step.G_opt)
    D_opt = property(lambda self: self.training_step.D_opt)
    averages = property(lambda self: self.training_step.averages)
    data = property(lambda self: self.training_step.data)

    def noise(self, n):
        return self.training_step.noise(n)

    def real_batch(self, n):
        return self.training_step.real_batch(n)

    def lr_factor(self, step):
        return self.training_step.lr_factor(step)

    def step(self, grad_norms=True):
        """One training step (:class:`~minigan.gan.step.TrainingStep`); returns its record: losses, D's mean
        outputs and, if ``grad_norms``, the gradient norm of every weight (``train`` asks on logged steps)."""
        self.last = self.training_step(self.step_count + 1, grad_norms)
        self.step_count += 1
        return self.last

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

    # ------------------------------------------------------------------------------- the loop
    def train(self, steps=None):
        """Run until ``steps`` steps in all (default: the config's), logging, sampling and checkpointing
        into the run directory; on the 2-D sets each picture step is also evaluated (modes, quality,
        W2), for the curves. A NaN/inf loss raises :class:`TrainingDiverged` after keeping the last good
        checkpoint. Returns the final evaluation (a dict)."""
        total = steps or self.config.steps
        if self.run_dir:
            os.makedirs(self.run_dir, exist_ok=True)
            _write_json(os.path.join(self.run_dir, "config.json"), dataclasses.asdict(self.config))
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
                self._append_line("metrics.jsonl", record)
            if bar:
                bar.update(step, {"D loss": last["d_loss"], "G loss": last["g_loss"],
                                  "D(x)": last["d_real"], "D(G(z))": last["d_fake"]})
            if self.run_dir and (step % self.config.sample_every == 0 or step == total):
                self.save_samples(os.path.join(self.run_dir, "samples", f"step_{step:06d}.png"))
                if self.dataset.modes is not None:
                    self._evaluate_during_run()
            if self.run_dir and (step % self.config.checkpoint_every == 0 or step == total):
                self.save_checkpoint()
        result = self.evaluate()
        if self.run_dir:
            if self.records:
                curves = [{k: v for k, v in e.items() if k in _CURVES} for e in self.evaluations]
                plots.save_curves(os.path.join(self.run_dir, "curves.png"), self.records, curves or None)
            _write_json(os.path.join(self.run_dir, "evaluation.json"), result)
        return result

    def _evaluate_during_run(self):
        """Evaluate at a picture step into ``evaluations.jsonl`` and the curves: the final evaluation's
        metrics, with W2 on 1,000 samples (the same at every point of a curve)."""
        from minigan.gan.evaluation import W2_SAMPLES_DURING_RUN

        result = self.evaluate(w2_samples=W2_SAMPLES_DURING_RUN)
        record = {"step": self.step_count, **{k: v for k, v in result.items() if not isinstance(v, list)}}
        self.evaluations.append(record)
        self._append_line("evaluations.jsonl", record)

    def evaluate(self, n=None, seed=None, w2_samples=None):
        """Quality metrics of n samples (mode metrics, W2 and spread for 2-D sets, classifier metrics for
        images); ``w2_samples`` as in :func:`~minigan.gan.evaluation.evaluate_samples` (default 2,500).

        The samples' noise is seeded with ``seed``, by default with (config seed, step): evaluating the
        same weights again — later in the run, or with ``minigan eval`` on the checkpoint — gives the
        same figures. Evaluations during a run (the curves) measure W2 on 1,000 samples, the final one on
        2,500."""
        from minigan.gan.evaluation import W2_SAMPLES, evaluate_samples

        if seed is None:
            seed = [self.config.seed, _EVALUATION, self.step_count]
        return evaluate_samples(self.sample(n or self.config.eval_samples, seed=seed), self.dataset,
                                W2_SAMPLES if w2_samples is None else w2_samples)

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

    def _append_line(self, name, record):
        if self.run_dir:
            with open(os.path.join(self.run_dir, name), "a") as f:
                f.write(json.dumps(record) + "\n")

    # ---------------------------------------------------------------------------- checkpoints
    @property
    def checkpoint_path(self):
        return os.path.join(self.run_dir, "checkpoint.npz")

    def state(self):
        """Everything needed to continue exactly (:mod:`minigan.gan.checkpoint`)."""
        return checkpoint.training_state(self)

    def save_checkpoint(self, path=None):
        checkpoint.save(self, path or self.checkpoint_path)

    def load_state(self, flat, source="checkpoint"):
        checkpoint.restore(self, flat, source)

    @classmethod
    def from_checkpoint(cls, path, dataset=None, run_dir=None, progress=True):
        """Rebuild the trainer saved in ``path`` (its config included) and restore its state."""
        flat, config = checkpoint.load(path)
        if dataset is None:
            from minigan.data import load_dataset

            dataset = load_dataset(config.data, n_samples=config.n_data, seed=config.seed)
        trainer = cls(config, dataset, run_dir=run_dir, progress=progress)
        trainer.load_state(flat, source=str(path))
        return trainer
