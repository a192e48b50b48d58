"""One GAN training step: ``d_steps`` updates of D, then one of G — the unit a run repeats.

:class:`TrainingStep` owns what a step changes: the networks G and D (and the weight average G_ema),
their optimizers, the running averages of historical averaging, and the draws of real batches and
noise. Calling it with the step's number does:

- each D update: a real batch x (with replacement; the whole set for ``gd``) and a fake batch G(z) (G
  in no_grad), packed into rows of ``pack`` samples (PacGAN); D's outputs r = D(x), f = D(G(z)); D's
  loss from the objective (:mod:`minigan.gan.objectives`), plus its penalties (WGAN-GP, R1, R2); the
  gradient of historical averaging 2λ(θ − θ̄) (Salimans et al.) added to ``.grad``; the optimizer's
  step; then WGAN's weight clipping if asked for;
- the G update: D's parameters frozen (so the backward computes no D weight gradients); G's loss from
  the objective on D(G(z)), or feature matching ‖E f(x) − E f(G(z))‖² on D's last hidden layer;
  historical averaging; the step;
- then the exponential moving average of G's weights, and the running averages θ̄.

A conditional or InfoGAN run (:mod:`minigan.gan.conditioning`) adds the labels and codes: D's fakes are
drawn for the real batch's labels, G's for the labels of a fresh draw of data rows; D sees the label as
its mode says (concat, projection, or not at all with AC-GAN), and AC-GAN's classification and InfoGAN's
mutual-information terms join both losses. Without either, nothing of this runs and nothing more is drawn.

Batches and noise come from :mod:`minigan.random`, whose state every checkpoint holds: a resumed run
draws exactly what an uninterrupted one would. In a data-parallel run (:mod:`minigan.gan.parallel`) every
rank makes each batch-sized draw whole and keeps its ``shard`` of the rows, so R ranks train on exactly
the samples one process would.
"""

import math

import numpy as np

from minigan import backends, random
from minigan.autograd import no_grad
from minigan.gan.conditioning import Condition, add
from minigan.gan.config import build_optimizer
from minigan.gan.models import Discriminator, build_generator, pack_samples
from minigan.gan.objectives import LOSSES, clip_weights, penalties
from minigan.gan.parallel import Shard
from minigan.nn import Dense
from minigan.nn import functional as F
from minigan.profiler import record
from minigan.tensor import Tensor


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite; the run stopped and the last good checkpoint was kept."""


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


def check_finite(loss, which, step):
    """``loss`` as a float, or :class:`TrainingDiverged` if it is NaN or infinite."""
    value = float(loss.item())
    if not math.isfinite(value):
        raise TrainingDiverged(f"step {step}: the {which} loss is {value}; training stopped")
    return value


def weight_grad_norms(prefix, model):
    """‖∂loss/∂W‖₂ of the weight matrix W of every Dense layer — the per-layer view of vanishing
    gradients; BatchNorm's γ and the biases are left out — keyed ``"<prefix>.<layer>.weight"``.
    Accumulated in float64 (a float32 sum of 250k squares loses digits). A spectrally normalised
    layer's learned matrix is ``weight_orig``."""
    norms = {}
    for name, module in model.named_modules():
        if not isinstance(module, Dense):
            continue
        p = module._parameters.get("weight_orig", module._parameters.get("weight"))
        if p is not None and p.grad is not None:
            norms[f"{prefix}.{name}.weight"] = math.sqrt(_sum_of_squares(p.grad))
    return norms


class TrainingStep:
    """G, D, their optimizers and what one step needs; ``step(number, grad_norms)`` runs one step."""

    def __init__(self, config, dataset):
        c = self.config = config
        self.image_data = dataset.image_shape is not None
        data_dim = dataset.x.shape[1]
        self.condition = Condition(c, dataset.labels)
        self.G = self.build_generator(data_dim)
        self.D = Discriminator(data_dim, c.d_hidden, c.d_norm, c.pack, c.minibatch_kernels, dtype=c.dtype,
                               init=c.init, activation=c.d_activation, conditional=c.conditional,
                               n_classes=self.condition.n_classes, q_outputs=self.condition.q_outputs)
        self.G_ema = None
        if c.g_ema:
            self.G_ema = self.build_generator(data_dim)
            self.G_ema.load_state_dict(self.G.state_dict())
            self.G_ema.train(False)
            for p in self.G_ema.parameters():
                p.requires_grad = False
        if c.spectral_norm:
            from minigan.nn import spectral_norm

            for module in self.D.modules():
                if isinstance(module, Dense):
                    spectral_norm(module)
        self.G_opt = build_optimizer(c, self.G.parameters(), c.lr)
        self.D_opt = build_optimizer(c, self.D.parameters(), c.discriminator_lr)
        self.data = backends.current_module().asarray(dataset.x.astype(c.dtype))
        self.averages = {"G": [p.data.copy() for p in self.G.parameters()],
                         "D": [p.data.copy() for p in self.D.parameters()]}
        self.objective = LOSSES[c.loss](c.label_smoothing)
        self.penalties = penalties(c)
        self.shard = Shard()  # the whole batch; a rank's share of it in a data-parallel run (gan.parallel)

    def build_generator(self, data_dim):
        c = self.config
        return build_generator(c.z_dim + self.condition.g_extra, data_dim, c.g_hidden, c.g_norm,
                               "sigmoid" if self.image_data else "linear", c.dtype, c.init, c.g_activation)

    # ------------------------------------------------------------------------------ draws
    def noise(self, n):
        with record("noise"):
            return self.shard.normal(n, self.config.z_dim, self.config.dtype)

    def real_batch(self, n):
        """n real samples, drawn uniformly with replacement — except with ``optimizer="gd"`` (full-batch
        gradient descent), where a batch is the whole data set, each sample once: in its stored order,
        or, when D judges packs of m samples, in a fresh random order each time (so that the packs
        differ), leaving out the N mod m samples that do not fill a pack."""
        return self.labelled_real_batch(n)[0]

    def labelled_real_batch(self, n):
        """(x, y): :meth:`real_batch`'s samples and their labels (host ints; None in a run that is not
        conditional), from the same draw."""
        c = self.config
        with record("real batch"):
            if c.optimizer == "gd" and n == c.batch_size:
                if c.pack == 1:
                    rows = self.shard.rows(n)
                    return Tensor(self.data[rows]), self.condition.labels_of(rows)
                index = random.generator().permutation(len(self.data))[:n]
            else:
                index = random.generator().integers(0, len(self.data), size=n)
            index = self.shard.take(index)
            return Tensor(self.data[backends.current_module().asarray(index)]), self.condition.labels_of(index)

    def generate(self, n, labels=None, codes=None):
        """G(z, y, codes) for fresh noise z (n rows); returns (samples, G's input)."""
        g_input = self.condition.generator_input(self.noise(n), labels, codes)
        return self.G(g_input), g_input

    # ----------------------------------------------------------------------------- updates
    def lr_factor(self, step):
        """The factor on both learning rates at step ``step`` (1-based): 1, or with ``lr_decay="linear"``
        1 − (step − 1) / steps, falling to 1 / steps at the last step (0 after it)."""
        if self.config.lr_decay == "linear":
            return max(0.0, 1.0 - (step - 1) / self.config.steps)
        return 1.0

    def d_logits(self, real, fake):
        """D's outputs on the real and the fake rows of one D update: two calls, so that BatchNorm in D
        (if any) normalises each batch by its own statistics (``examples/bn_in_gans.py`` overrides this
        to normalise one mixed batch)."""
        return self.D(real), self.D(fake)

    def d_loss(self, real_out, fake_out):
        """D's loss on its outputs: the objective's (``examples/stability.py`` overrides this)."""
        return self.objective.d_loss(real_out, fake_out)

    def d_update(self, step):
        """One D update; returns its loss, its penalties' sum (None without any), D's outputs on the real
        and the fake rows, and the conditioning's terms (AC-GAN's classification, InfoGAN's L_I; None
        without any). (A method of its own so that the batches are freed before the G update.)"""
        c, cond = self.config, self.condition
        real, real_y = self.labelled_real_batch(c.batch_size)
        codes = self.draw_codes(c.batch_size)
        with no_grad():
            fake, _ = self.generate(c.batch_size, real_y, codes)  # fakes for the real batch's labels
        real, fake = pack_samples(real, c.pack), pack_samples(fake, c.pack)
        extra = None
        if cond.active:
            y = cond.label_input(real_y)
            real_out, real_h = self.D.score_and_features(real, y)
            fake_out, fake_h = self.D.score_and_features(fake, y)
            extra = add(add(cond.class_loss(self.D, real_h, real_y), cond.class_loss(self.D, fake_h, real_y)),
                        cond.info_loss(self.D, fake_h, codes))
            critic = (lambda x: self.D(x, y)) if y is not None else self.D
        else:
            real_out, fake_out = self.d_logits(real, fake)
            critic = self.D
        d_loss = self.d_loss(real_out, fake_out)
        d_value = check_finite(d_loss, "discriminator", step)
        extra_value = None
        if extra is not None:
            extra_value = check_finite(extra, "discriminator's class/code", step)
            d_loss = d_loss + extra
        penalty_value = None
        if self.penalties:
            penalty = sum(penalty(critic, real, fake, real_out, fake_out) for penalty in self.penalties)
            penalty_value = check_finite(penalty, "discriminator penalty", step)
            d_loss = d_loss + penalty
        self.D_opt.zero_grad()
        self.backward(d_loss)
        self.add_historical_average("D", self.D_opt.params)
        self.D_opt.step()
        if c.clip:
            clip_weights(self.D, c.clip)
        return d_value, penalty_value, real_out, fake_out, extra_value

    def g_update(self, step):
        """One G update with D's parameters frozen; returns its loss, G's input (the noise z, with the labels
        and codes when conditioned) and the conditioning's terms (None without any)."""
        c, cond = self.config, self.condition
        for p in self.D_opt.params:
            p.requires_grad = False
        try:
            labels = self.shard.take(cond.draw_labels(c.batch_size))
            codes = self.draw_codes(c.batch_size)
            fake, g_input = self.generate(c.batch_size, labels, codes)
            y = cond.label_input(labels) if cond.active else None
            fake_h = None
            if c.feature_matching:
                with no_grad():
                    real, real_y = self.labelled_real_batch(c.batch_size)
                    real_features = self.d_features(pack_samples(real, c.pack), real_y)
                fake_h = self.d_features(pack_samples(fake, c.pack), labels)
                g_loss = F.feature_matching_loss(real_features, fake_h)
            elif cond.active:
                out, fake_h = self.D.score_and_features(fake, y)
                g_loss = self.objective.g_loss(out)
            else:
                g_loss = self.objective.g_loss(self.D(pack_samples(fake, c.pack)))
            g_value = check_finite(g_loss, "generator", step)
            extra_value = None
            if cond.active:
                extra = add(cond.class_loss(self.D, fake_h, labels), cond.info_loss(self.D, fake_h, codes))
                if extra is not None:
                    extra_value = check_finite(extra, "generator's class/code", step)
                    g_loss = g_loss + extra
            self.G_opt.zero_grad()
            self.backward(g_loss)
        finally:
            for p in self.D_opt.params:
                p.requires_grad = True
        self.add_historical_average("G", self.G_opt.params)
        self.G_opt.step()
        return g_value, g_input, extra_value

    def draw_codes(self, n):
        """InfoGAN's codes for a batch of n (None without InfoGAN): this rank's rows of them."""
        codes = self.condition.draw_codes(n)
        if codes is None or self.shard.whole:
            return codes
        cont = None if codes.cont is None else Tensor(self.shard.take(codes.cont.data))
        return type(codes)(self.shard.take(codes.cat), cont)

    def backward(self, loss):
        """Back-propagate ``loss`` (a mean over this rank's rows), scaled in a data-parallel run so that the
        ranks' averaged gradients are those of the global batch's mean (:mod:`minigan.gan.parallel`)."""
        scale = self.shard.loss_scale
        (loss if scale == 1.0 else loss * scale).backward()

    def d_features(self, x, labels=None):
        """D's features φ(x) of rows ``x``, told the ``labels`` when D conditions on them."""
        y = self.condition.label_input(labels) if self.condition.conditional else None
        return self.D.features(x) if y is None else self.D.features(x, y)

    def add_historical_average(self, name, params):
        weight = self.config.historical_averaging
        if not weight:
            return
        for p, average in zip(params, self.averages[name]):
            if p.grad is not None:
                p.grad = p.grad + (2 * weight) * (p.data - average)

    def update_ema(self, z):
        """G_ema ← decay · G_ema + (1 − decay) · G for the weights. BatchNorm's running statistics belong
        to the weights that produced them, so G's are not averaged: G_ema runs once in training mode on
        the step's input ``z`` (its noise, with labels and codes when conditioned; no gradient), which
        updates its own running statistics."""
        decay = self.config.g_ema
        for average, p in zip(self.G_ema.parameters(), self.G.parameters()):
            average.data *= decay
            average.data += (1.0 - decay) * p.data
        if self.G_ema.buffers():
            self.G_ema.train(True)
            with no_grad():
                self.G_ema(z)
            self.G_ema.train(False)

    def update_averages(self, name, params, step):
        """θ̄ ← the mean of θ over steps 0..step (historical averaging's reference)."""
        if not self.config.historical_averaging:
            return
        for p, average in zip(params, self.averages[name]):
            average *= step / (step + 1)
            average += p.data / (step + 1)

    def __call__(self, step, grad_norms=True):
        """Step number ``step`` (1-based): ``d_steps`` D updates and one G update. Returns the step's record:
        losses, D's mean outputs (probabilities for the BCE losses, scores for a critic), the penalties'
        sum when there are any and, if ``grad_norms``, every Dense weight's gradient norm."""
        c = self.config
        factor = self.lr_factor(step)
        self.G_opt.lr = c.lr * factor
        self.D_opt.lr = c.discriminator_lr * factor
        for _ in range(c.d_steps):
            d_value, penalty_value, real_out, fake_out, d_extra = self.d_update(step)
        with record("gradient norms"):
            d_grad_norms = weight_grad_norms("D", self.D) if grad_norms else {}
        g_value, z, g_extra = self.g_update(step)
        with record("EMA and averages"):
            if self.G_ema is not None:
                self.update_ema(z)
            self.update_averages("G", self.G_opt.params, step)
            self.update_averages("D", self.D_opt.params, step)
        last = {
            "step": step, "d_loss": d_value, "g_loss": g_value,
            "d_real": self.objective.report(real_out), "d_fake": self.objective.report(fake_out),
            "grad_norms": {**d_grad_norms, **weight_grad_norms("G", self.G)} if grad_norms else {},
        }
        if penalty_value is not None:
            last["d_penalty"] = penalty_value
        if d_extra is not None:  # AC-GAN's w·CE and InfoGAN's λ·L_I, in D's and in G's update
            last["d_aux_loss"], last["g_aux_loss"] = d_extra, g_extra
        return self.shard.global_means(last) if grad_norms else last
