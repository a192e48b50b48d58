"""Data-parallel GAN training: what changes when R ranks share each training step (``--distributed``).

The configuration's ``batch_size`` B is the **global** batch. Rank r of R takes its share of every
batch-sized draw, the rows ``Shard.rows``: B/m packs of m samples (m = ``pack``, 1 without PacGAN)
split as evenly as they go, rank r getting packs ⌊rP/R⌋ … ⌊(r+1)P/R⌋ − 1 of P. Every rank draws the
whole batch — real-sample indices, noise, labels, codes, WGAN-GP's interpolation weights — from the
same seeded stream of :mod:`minigan.random` and keeps its rows, so

- R ranks see exactly the samples one process would, and the streams never drift apart (a rank that
  drew only its own rows would leave the stream at a different place on each rank);
- the random state is the same on every rank, so a checkpoint (written by rank 0 alone) holds the run
  whatever R was, and resumes with any number of ranks, one included.

The losses are means over a rank's rows. The optimizers average the ranks' gradients (one all-reduce
each step: :func:`minigan.distributed.average_gradients`), so each rank scales its loss by
R · nᵣ / B before the backward (1 when the shares are equal): the average of the scaled gradients is
then the gradient of the global batch's mean loss. BatchNorm layers in G, G_ema and D become
``SyncBatchNorm1d``, so their statistics — and their backward — span the global batch too.

What cannot be split: minibatch discrimination and feature matching compare rows across the whole
batch inside the loss; :func:`check_supported` refuses them with ``--distributed``.
"""

import dataclasses
import os

import numpy as np

from minigan import distributed, random
from minigan.distributed.world import CommonFailure

# The fields of a step's record that are means over the batch: their global values are the
# share-weighted sums of the ranks' values. (Gradient norms are read after the all-reduce: global already.)
_MEANS = ("d_loss", "g_loss", "d_real", "d_fake", "d_penalty", "d_aux_loss", "g_aux_loss")


class Shard:
    """Rank ``rank``'s share of every batch of a run with global batch ``batch_size`` over ``world`` ranks
    (in packs of ``pack`` samples). ``Shard()`` is the whole batch, one process."""

    def __init__(self, rank=0, world=1, batch_size=1, pack=1):
        self.units = batch_size // pack            # packs in a global batch
        self.first = rank * self.units // world
        self.stop = (rank + 1) * self.units // world
        self.whole = world == 1
        # R · nᵣ / B: the factor on this rank's loss (exactly 1 for equal shares).
        local = self.stop - self.first
        self.loss_scale = 1.0 if local * world == self.units else local * world / self.units
        self.share = local / self.units if self.units else 1.0

    def rows(self, n):
        """This rank's rows of a draw of ``n`` rows (n a multiple of the packs in a batch)."""
        per_unit = n // self.units
        return slice(self.first * per_unit, self.stop * per_unit)

    def take(self, array):
        """This rank's rows of ``array`` (a global draw, rows first); the array itself for one process."""
        if self.whole or array is None:
            return array
        return array[self.rows(len(array))]

    def global_rows(self, local_rows):
        """The rows of the global draw whose share is ``local_rows`` rows on this rank."""
        if self.whole:
            return local_rows
        return local_rows * self.units // (self.stop - self.first)

    def uniform(self, local_rows, columns, dtype, backend):
        """U[0, 1) draws for this rank's ``local_rows`` rows, cut from a draw for the whole batch."""
        n = self.global_rows(local_rows)
        return random.uniform(0.0, 1.0, (n, columns), dtype=dtype, backend=backend, rows=self._cut(n))

    def normal(self, n, columns, dtype):
        """Standard normal draws for this rank's share of ``n`` (global) rows, as a tensor."""
        return random.randn(n, columns, dtype=dtype, rows=self._cut(n))

    def _cut(self, n):
        """The ``rows`` argument of minigan.random's draws: None (all) for one process."""
        return None if self.whole else self.rows(n)

    def global_means(self, record):
        """``record`` with its batch means (``_MEANS``) made global: one all-reduce of nᵣ/B-weighted values."""
        if self.whole:
            return record
        keys = [k for k in _MEANS if k in record]
        values = np.array([record[k] * self.share for k in keys], dtype=np.float64)
        distributed.all_reduce(values)
        return dict(record, **{k: float(v) for k, v in zip(keys, values)})


def check_supported(config, world):
    """Refuse, before anything runs, what data parallelism cannot split (module docstring), and batches
    too small to give every rank a pack. (Every rank, started with the same config — checked first —
    raises the same error: rank 0 alone reports it.)"""
    if config.minibatch_kernels:
        raise CommonFailure("--distributed: minibatch discrimination (--minibatch-kernels) compares every pair "
                               "of samples in D's batch, which R ranks do not hold together; train it in one process")
    if config.feature_matching:
        raise CommonFailure("--distributed: feature matching (--feature-matching) squares the batch mean of D's "
                               "features inside the loss, which R ranks cannot split; train it in one process")
    packs = config.batch_size // config.pack
    if packs < world:
        raise CommonFailure(f"--distributed: the global batch of {config.batch_size} samples (in {packs} packs "
                               f"of {config.pack}) is too small to give each of {world} ranks one; use a batch "
                               f"of at least {world * config.pack} or fewer ranks")


def start_up_facts(config):
    """What every rank must agree on before training: each configuration field (the run length among
    them), the code (a fingerprint of minigan's source), the NumPy version and the GPU collectives' path."""
    facts = {f"config.{k}": v for k, v in dataclasses.asdict(config).items()}
    facts["minigan source (sha256)"] = distributed.code_fingerprint()
    facts["numpy version"] = np.__version__
    facts["MINIGAN_GPU_COLLECTIVES"] = os.environ.get("MINIGAN_GPU_COLLECTIVES")
    return facts


def make_data_parallel(training_step):
    """Turn a :class:`~minigan.gan.step.TrainingStep` built the usual way into rank ``rank()``'s part of a
    data-parallel step: its shard, synchronised BatchNorm in G, G_ema and D, rank 0's weights and
    buffers on every rank, and gradient averaging in both optimizers. (The Trainer has run
    :func:`check_supported` on the config before building the step.)"""
    from minigan.nn import SyncBatchNorm1d

    c = training_step.config
    training_step.shard = Shard(distributed.rank(), distributed.world_size(), c.batch_size, c.pack)
    for name in ("G", "D", "G_ema"):
        model = getattr(training_step, name)
        if model is not None:
            setattr(training_step, name, SyncBatchNorm1d.convert(model))
            distributed.broadcast_parameters(getattr(training_step, name))
    distributed.average_gradients(training_step.G_opt)
    distributed.average_gradients(training_step.D_opt)
    for penalty in training_step.penalties:
        if hasattr(penalty, "shard"):  # WGAN-GP's interpolation weights are a batch-sized draw
            penalty.shard = training_step.shard
    return training_step
