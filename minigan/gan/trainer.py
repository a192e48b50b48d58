"""The GAN trainer: a run of training steps, with logging, pictures, checkpoints and evaluation.

A run is split by concern, one module each:

- :mod:`minigan.gan.config` — ``TrainConfig``: every choice of a run, its defaults and its checks;
- :mod:`minigan.gan.objectives` — the losses (minimax, non-saturating, least squares, Wasserstein,
  hinge) and D's regularisers (WGAN-GP, R1, R2, weight clipping), each a small object found by name;
- :mod:`minigan.gan.conditioning` — conditional GANs (concat, projection, AC-GAN) and InfoGAN's codes:
  G's extra inputs, the label D sees, and the terms they add to the losses;
- :mod:`minigan.gan.step` — ``TrainingStep``: G, D, their optimizers, the batch and noise draws, and one
  step (``d_steps`` D updates, one G update);
- :mod:`minigan.gan.checkpoint` — what a checkpoint holds, saving and restoring it;
- :mod:`minigan.gan.static_step` — ``StaticStep``: the same step over arrays allocated once, the same
  numbers bit for bit; used wherever it runs (``static_step=None``, the default), always (``True``:
  an error where it cannot) or never (``False``);
- :mod:`minigan.gan.parallel` — data-parallel runs over MPI ranks (``distributed=True``): each rank's
  share of the batch, synchronised BatchNorm, averaged gradients;
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
from minigan import distributed as _distributed
from minigan.autograd import no_grad
from minigan.gan import checkpoint, parallel, plots, static_step
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
_USER_SAMPLES, _PICTURES, _EVALUATION, _EVALUATION_CODES = 1, 2, 3, 4


PER_CLASS_ROW = 10  # samples a row in a conditional run's pictures
MAX_CLASS_ROWS = 10


def class_rows(n_classes, rows=MAX_CLASS_ROWS):
    """The classes a conditional sample grid shows, one a row: all of them, or ``rows`` spread evenly."""
    if n_classes <= rows:
        return np.arange(n_classes)
    return np.linspace(0, n_classes - 1, rows).round().astype(np.int64)


def _integers(what, values, n, k):
    """``values`` (one int, or n ints) as an int64 array (n,) in [0, k), or a ValueError naming ``what``."""
    array = np.asarray(values)
    if array.ndim == 0:
        array = np.full(n, array)
    if array.shape != (n,) or not (np.issubdtype(array.dtype, np.integer) or array.dtype == bool):
        raise ValueError(f"{what}: expected one integer or {n} integers, got {array.dtype} of shape {np.shape(values)}")
    if n and (array.min() < 0 or array.max() >= k):
        raise ValueError(f"{what}: every value must lie in [0, {k}) (the run has {k}), got values from "
                         f"{array.min()} to {array.max()}")
    return array.astype(np.int64)


def _file_digest(path):
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_json(path, value):
    atomic_write_bytes(path, lambda f: f.write(json.dumps(value, indent=2).encode()))


class Trainer:
    """Train a GAN on ``dataset`` (a :class:`minigan.data.Dataset`) with ``config`` into ``run_dir``.

    ``step_class`` (a :class:`~minigan.gan.step.TrainingStep` subclass) is what runs each step: a study
    that changes one part of the step subclasses it and sets it here.

    ``distributed=True``: this process is one rank of a data-parallel run (:mod:`minigan.gan.parallel`;
    :func:`minigan.distributed.init` first, under ``mpiexec``). Every rank builds the trainer with the
    same config (checked at start-up); rank 0 alone writes ``run_dir`` (the others ignore it) and
    evaluates at the end.
    """

    step_class = TrainingStep

    def __init__(self, config, dataset, run_dir=None, progress=True, distributed=False):
        self.config = config.resolved(dataset)
        self.config.check()
        self.config.check_data(dataset)
        self.dataset = dataset
        self.run_dir = run_dir
        self.progress = progress
        self.distributed = distributed
        if self.config.optimizer == "gd":
            self.config.batch_size = len(dataset.x) - len(dataset.x) % self.config.pack
        if distributed:
            _distributed.check_consistent(parallel.start_up_facts(self.config))
            parallel.check_supported(self.config, _distributed.world_size())
            if _distributed.rank() != 0:
                self.run_dir = None  # rank 0 alone writes
            if self.config.backend == "cupy":
                _distributed.use_local_gpu()
        static = self.config.static_step
        if static:
            static_step.check_supported(self.config, self.step_class, distributed)
        elif static is None:
            static = static_step.supports(self.config, self.step_class, distributed)
        backends.set_backend(self.config.backend)
        random.seed(self.config.seed)
        self._sample_rng = np.random.default_rng([self.config.seed, _USER_SAMPLES])
        self.training_step = self.step_class(self.config, dataset)
        if distributed:
            parallel.make_data_parallel(self.training_step)
        # What runs each step: the training step itself, or its static form over persistent buffers.
        self._run_step = (static_step.StaticStep(self.training_step, required=bool(self.config.static_step))
                          if static else self.training_step)
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
        self.last = self._run_step(self.step_count + 1, grad_norms)
        self.step_count += 1
        return self.last

    @property
    def condition(self):
        """The run's :class:`~minigan.gan.conditioning.Condition` (labels, InfoGAN codes)."""
        return self.training_step.condition

    def sample(self, n, train_mode=False, average=True, seed=None, labels=None, info_cat=None, info_cont=None):
        """n samples from G as a host NumPy array.

        The noise z comes from a generator seeded with ``seed`` (an int or a sequence of ints), or, when
        ``seed`` is None, from the trainer's own sampling stream (seeded from the config's seed, not
        saved in checkpoints). Neither is the stream that training draws from, so sampling never
        changes a run. BatchNorm uses running statistics unless ``train_mode`` (batch statistics of
        these n samples, as during training); sampling never changes the running statistics either
        way. With ``g_ema`` on, the samples come from the weight average unless ``average`` is False
        (then from the generator being trained).

        A conditional run samples for ``labels``: one int for all n, or n ints in [0, n_classes); by
        default the classes in turn (sample i is of class i mod K). An InfoGAN run takes its codes from
        ``info_cat`` (n ints in [0, info_cat), or one for all) and ``info_cont`` ((n, info_cont) values, or
        one row for all); codes not given are drawn as in training (c uniform, u uniform on [−1, 1]) from
        the same generator as z, after it."""
        rng = self._sample_rng if seed is None else np.random.default_rng(seed)
        z = rng.standard_normal((n, self.config.z_dim))
        labels, cat, cont = self._sampling_condition(n, rng, labels, info_cat, info_cont)
        return self._generate(z, labels, cat, cont, train_mode, average)

    def _generate(self, z, labels=None, cat=None, cont=None, train_mode=False, average=True):
        """G (or G_ema) on host noise ``z`` with host labels and codes (checked by the caller) → host array.
        One rank's work alone, also in a data-parallel run: BatchNorm in training mode uses these samples."""
        with _distributed.single_rank():
            return self._generate_here(z, labels, cat, cont, train_mode, average)

    def _generate_here(self, z, labels, cat, cont, train_mode, average):
        from minigan.gan.conditioning import Codes

        xp = backends.current_module()
        dtype = self.config.dtype
        if cont is not None:
            cont = Tensor(xp.asarray(np.asarray(cont).astype(dtype)))
        codes = Codes(cat, cont) if self.condition.info else None
        G = self.G_ema if average and self.G_ema is not None else self.G
        kept = [b.data.copy() for b in G.buffers()] if train_mode else []
        G.train(train_mode)
        with no_grad():
            g_input = self.condition.generator_input(Tensor(xp.asarray(np.asarray(z).astype(dtype))), labels, codes)
            out = G(g_input).numpy()
        G.train(G is self.G)
        for buffer, data in zip(G.buffers(), kept):
            buffer.data[...] = data
        return out

    def _sampling_condition(self, n, rng, labels, info_cat, info_cont):
        """(labels, info_cat, info_cont) for :meth:`sample` as host arrays (None where the run has none),
        checked; codes not given are drawn from ``rng``."""
        cond = self.condition
        if labels is not None and not cond.conditional:
            raise ValueError("sample: labels were given, but this run is not conditional (it was trained with "
                             "conditional='none'); train with conditional='concat', 'projection' or 'acgan'")
        if (info_cat is not None and not cond.info_cat) or (info_cont is not None and not cond.info_cont):
            raise ValueError(f"sample: InfoGAN codes were given, but this run has info_cat={cond.info_cat}, "
                             f"info_cont={cond.info_cont}")
        if cond.conditional:
            labels = (np.arange(n) % cond.n_classes if labels is None
                      else _integers("sample: labels", labels, n, cond.n_classes))
        cat = cont = None
        if cond.info_cat:
            cat = (rng.integers(0, cond.info_cat, size=n) if info_cat is None
                   else _integers("sample: info_cat codes", info_cat, n, cond.info_cat))
        if cond.info_cont:
            if info_cont is None:
                cont = rng.uniform(-1.0, 1.0, (n, cond.info_cont))
            else:
                cont = np.asarray(info_cont, dtype=np.float64)
                if cont.ndim == 1 and cont.shape == (cond.info_cont,):
                    cont = np.broadcast_to(cont, (n, cond.info_cont))
                if cont.shape != (n, cond.info_cont) or not np.all(np.isfinite(cont)):
                    raise ValueError(f"sample: info_cont must be finite values of shape ({n}, {cond.info_cont}) "
                                     f"or ({cond.info_cont},), got shape {np.shape(info_cont)}")
        return labels, cat, cont

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
                if not self.is_main_rank:
                    raise TrainingDiverged(f"{exc}; the last good checkpoint is in rank 0's run directory") from None
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
        result = self.evaluate() if self.is_main_rank else None
        if self.run_dir:
            if self.records:
                curves = [{k: v for k, v in e.items() if k in _CURVES} for e in self.evaluations]
                plots.save_curves(os.path.join(self.run_dir, "curves.png"), self.records, curves or None)
            if self.condition.info and self.dataset.image_shape is not None:
                self.save_code_picture(os.path.join(self.run_dir, "info_codes.png"))
            _write_json(os.path.join(self.run_dir, "evaluation.json"), result)
        if self.distributed:
            _distributed.barrier("the end of the run (rank 0 evaluating and writing)")
        return result

    @property
    def is_main_rank(self):
        """True in a one-process run and on rank 0 of a data-parallel one (the rank that evaluates)."""
        return not self.distributed or _distributed.rank() == 0

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
        images, modes and KL for stacked digits); ``w2_samples`` as in
        :func:`~minigan.gan.evaluation.evaluate_samples` (default 2,500).

        The samples' noise is seeded with ``seed``, by default with (config seed, step): evaluating the
        same weights again — later in the run, or with ``minigan eval`` on the checkpoint — gives the
        same figures. Evaluations during a run (the curves) measure W2 on 1,000 samples, the final one on
        2,500.

        A conditional run's samples are drawn for the classes in turn (a class-balanced mixture; the
        metrics above describe it) and also scored by :func:`~minigan.gan.evaluation.conditional_metrics`
        (label agreement, per-class Fréchet distance). An InfoGAN run's categorical codes are spread
        evenly over the samples in a seeded random order and scored by
        :func:`~minigan.gan.evaluation.code_metrics` (data with labels only)."""
        from minigan.gan.evaluation import W2_SAMPLES, code_metrics, conditional_metrics, evaluate_samples

        cond = self.condition
        n = n or self.config.eval_samples
        if seed is None:
            seed = [self.config.seed, _EVALUATION, self.step_count]
        labels = np.arange(n) % cond.n_classes if cond.conditional else None
        codes = None
        if cond.info_cat:
            order = np.random.default_rng([*np.atleast_1d(seed).tolist(), _EVALUATION_CODES])
            codes = order.permutation(np.arange(n) % cond.info_cat)
        samples = self.sample(n, seed=seed, labels=labels, info_cat=codes)
        result = evaluate_samples(samples, self.dataset, W2_SAMPLES if w2_samples is None else w2_samples)
        if cond.conditional:
            result.update(conditional_metrics(samples, labels, self.dataset))
        if codes is not None and self.dataset.labels is not None:
            result.update(code_metrics(samples, codes, cond.info_cat, self.dataset))
        return result

    def save_samples(self, path):
        """A sample grid (images) or scatter plot (2-D) of G at this step; every step's picture uses the
        same noise z, so that a run's pictures show one set of samples changing. A conditional run's grid
        has one row per class (10 classes spread over the labels when there are more), its scatter plot
        colours each sample by its label."""
        d, cond = self.dataset, self.condition
        seed = [self.config.seed, _PICTURES]
        title = f"step {self.step_count}"
        if d.image_shape is not None:
            if cond.conditional:
                rows = class_rows(cond.n_classes)
                labels = np.repeat(rows, PER_CLASS_ROW)
                plots.save_sample_grid(path, self.sample(len(labels), seed=seed, labels=labels), d.image_shape,
                                       title=f"{title}: one row per class ({', '.join(map(str, rows))})",
                                       columns=PER_CLASS_ROW)
            else:
                plots.save_sample_grid(path, self.sample(64, seed=seed), d.image_shape, title=title)
        else:
            labels = np.arange(1000) % cond.n_classes if cond.conditional else None
            plots.save_scatter(path, self.sample(1000, seed=seed, labels=labels), d.x[:2000], d.modes, title=title,
                               labels=labels)

    def save_code_picture(self, path, columns=8):
        """InfoGAN's picture: one row per value of the categorical code, one column per setting of the
        first continuous code from −1 to 1 (the others at 0), all from one noise z (and, conditional, one
        label); without continuous codes the columns are different draws of z. Images only."""
        cond, c = self.condition, self.config
        if not cond.info or self.dataset.image_shape is None:
            raise ValueError("save_code_picture: needs an InfoGAN run (info_cat or info_cont) on images, got "
                             f"info_cat={cond.info_cat}, info_cont={cond.info_cont} on {self.dataset.name!r}")
        rows = cond.info_cat or 1
        n = rows * columns
        cat = np.repeat(np.arange(rows), columns) if cond.info_cat else None
        cont = None
        if cond.info_cont:
            cont = np.zeros((n, cond.info_cont))
            cont[:, 0] = np.tile(np.linspace(-1.0, 1.0, columns), rows)
        rng = np.random.default_rng([c.seed, _PICTURES])
        z = rng.standard_normal((1 if cond.info_cont else columns, c.z_dim))
        z = np.repeat(z, n, axis=0) if cond.info_cont else np.tile(z, (rows, 1))
        labels = np.zeros(n, dtype=np.int64) if cond.conditional else None
        samples = self._generate(z, labels, cat, cont)
        what = "first continuous code from -1 to 1" if cond.info_cont else "noise draws"
        plots.save_sample_grid(path, samples, self.dataset.image_shape, columns=columns,
                               title=f"step {self.step_count}: rows = categorical code values, columns = {what}")

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
    def from_checkpoint(cls, path, dataset=None, run_dir=None, progress=True, distributed=False, static_step="saved"):
        """Rebuild the trainer saved in ``path`` (its config included) and restore its state. A checkpoint
        holds no trace of the number of ranks that wrote it: it resumes in one process or with any number
        of ranks (``distributed=True``; every rank reads it). ``static_step`` None, True or False replaces
        the saved choice of step (which changes no number: :mod:`minigan.gan.static_step`)."""
        flat, config = checkpoint.load(path)
        if static_step != "saved":
            config.static_step = static_step
        if dataset is None:
            from minigan.data import load_dataset

            dataset = load_dataset(config.data, n_samples=config.n_data, seed=config.seed)
        trainer = cls(config, dataset, run_dir=run_dir, progress=progress, distributed=distributed)
        trainer.load_state(flat, source=str(path))
        if distributed:  # each rank read its own copy of the file: the same one?
            _distributed.check_consistent({"checkpoint (sha256)": _file_digest(path), "step": trainer.step_count},
                                          what="resume")
        return trainer
