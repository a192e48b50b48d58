"""A run's configuration: every choice in one dataclass, its data-set defaults and its validation.

``TrainConfig`` is what ``minigan train``'s options fill in, what ``config.json`` and every checkpoint
store, and what a resumed run is rebuilt from. ``None`` fields mean "the default for the data set"
(:meth:`TrainConfig.resolved`); :meth:`TrainConfig.check` refuses bad values and combinations with one
clear error before anything is built or trained.
"""

import dataclasses
from dataclasses import dataclass

import numpy as np

from minigan.gan.conditioning import CONDITIONAL_MODES
from minigan.gan.models import ACTIVATIONS
from minigan.gan.objectives import LOSSES, PROBABILITY_LOSSES
from minigan import optim

OPTIMIZERS = ("adam", "sgd", "adagrad", "rmsprop", "gd")
EVAL_SAMPLES = 2500  # the 2-D benchmarks' count (VEEGAN, PacGAN)
STACKED_EVAL_SAMPLES = 26_000  # the Stacked-MNIST protocol's (minigan.metrics.stacked)
LR_DECAYS = ("none", "linear")


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
    loss: str = "nonsaturating"   # a name in minigan.gan.objectives.LOSSES
    d_steps: int = 1              # D updates per G update (WGAN's n_critic)
    optimizer: str = "adam"
    lr: float = 2e-4
    d_lr: float = None            # D's learning rate; None: the same as G's (``lr``)
    betas: tuple = (0.5, 0.999)
    momentum: float = 0.9         # SGD's momentum
    rmsprop_alpha: float = 0.99   # RMSprop's smoothing constant (PyTorch's alpha)
    rmsprop_momentum: float = 0.0  # RMSprop's momentum (0: plain RMSprop, as in the WGAN paper)
    label_smoothing: float = 0.0  # one-sided: real targets become 1 − label_smoothing (BCE losses only)
    feature_matching: bool = False
    minibatch_kernels: int = 0
    historical_averaging: float = 0.0
    pack: int = 1
    clip: float = 0.0             # > 0: clip D's weights to [−clip, clip] after each D step (WGAN)
    gp: float = 0.0               # > 0: WGAN-GP's λ (‖∇D(x̂)‖ − 1)² at interpolates of real and fake
    r1: float = 0.0               # > 0: γ/2 E‖∇D(x)‖² on real samples
    r2: float = 0.0               # > 0: γ/2 E‖∇D(x)‖² on fake samples
    spectral_norm: bool = False   # spectral normalisation of D's dense layers
    lr_decay: str = "none"        # "none" | "linear": lr falls linearly to 0 at step ``steps``
    g_ema: float = 0.0            # > 0: sample from an exponential moving average of G's weights
    conditional: str = "none"     # "none" | "concat" | "projection" | "acgan" (minigan.gan.conditioning)
    acgan_weight: float = 1.0     # AC-GAN: weight of the auxiliary classifier's cross-entropy terms
    info_cat: int = 0             # InfoGAN: values of the categorical code (0: none, else ≥ 2)
    info_cont: int = 0            # InfoGAN: number of continuous codes, each uniform on [−1, 1]
    info_weight: float = 1.0      # InfoGAN: λ of the mutual-information term
    n_classes: int = None         # classes of the labels (conditional runs): the data set's, by default
    init: str = "uniform"
    seed: int = 0
    backend: str = "numpy"
    dtype: str = "float32"
    static_step: bool = None      # None: the static step where it runs (minigan.gan.static_step); True: always; False: never
    n_data: int = None            # samples drawn for the synthetic 2-D sets
    log_every: int = 50
    sample_every: int = 500
    checkpoint_every: int = 500
    eval_samples: int = None      # samples of the final evaluation: 2,500; 26,000 on stacked digits (its protocol)

    @property
    def discriminator_lr(self):
        """D's learning rate: ``d_lr``, or ``lr`` when that is None."""
        return self.lr if self.d_lr is None else self.d_lr

    @property
    def uses_labels(self):
        """Whether the run needs the data set's labels: conditioning, or InfoGAN (whose code is scored
        against them)."""
        return self.conditional != "none" or bool(self.info_cat or self.info_cont)

    def resolved(self, dataset):
        """A copy with every ``None`` replaced by the default for ``dataset`` (``n_classes``: the number of
        classes of its labels in a conditional run)."""
        images = dataset.image_shape is not None
        values = dataclasses.asdict(self)
        defaults = {
            "z_dim": 100 if images else 2,
            "g_hidden": (500, 500) if images else (128, 128),
            "d_hidden": (500, 500) if images else (128, 128),
            "g_norm": "batch",
            "eval_samples": STACKED_EVAL_SAMPLES if dataset.name == "stacked-digits" else EVAL_SAMPLES,
            "n_classes": (int(dataset.labels.max()) + 1
                          if self.conditional != "none" and dataset.labels is not None and len(dataset.labels) else None),
        }
        for key, value in defaults.items():
            if values[key] is None:
                values[key] = value
        values["g_hidden"] = tuple(values["g_hidden"])
        values["d_hidden"] = tuple(values["d_hidden"])
        values["betas"] = tuple(values["betas"])
        return TrainConfig(**values)

    def check(self):
        """Raise ``ValueError`` naming the field (and what it may be) for a bad value or combination."""
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {tuple(LOSSES)}, got {self.loss!r}")
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
        if self.label_smoothing and self.loss not in PROBABILITY_LOSSES:
            raise ValueError(f"label_smoothing applies to the BCE losses {PROBABILITY_LOSSES} (it sets the real "
                             f"target), not to loss {self.loss!r}")
        if not 0.0 <= self.rmsprop_alpha <= 1.0:
            raise ValueError(f"rmsprop_alpha must be in [0, 1], got {self.rmsprop_alpha}")
        if not self.rmsprop_momentum >= 0.0:
            raise ValueError(f"rmsprop_momentum must be ≥ 0, got {self.rmsprop_momentum}")
        for name in ("clip", "gp", "r1", "r2"):
            if not getattr(self, name) >= 0.0:
                raise ValueError(f"{name} must be ≥ 0 (0 turns it off), got {getattr(self, name)}")
        if self.clip and self.loss != "wasserstein":
            raise ValueError(f"clip (WGAN's weight clipping) needs loss 'wasserstein', got loss {self.loss!r}")
        if self.clip and self.gp:
            raise ValueError(f"clip={self.clip} and gp={self.gp}: WGAN-GP replaces weight clipping by the gradient "
                             "penalty; choose one")
        for name in ("steps", "batch_size", "d_steps", "log_every", "sample_every", "checkpoint_every", "eval_samples"):
            if getattr(self, name) is not None and getattr(self, name) < 1:  # eval_samples None: the data set's
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.static_step not in (None, True, False):
            raise ValueError(f"static_step must be None (where it runs), True or False, got {self.static_step!r}")
        if self.conditional not in CONDITIONAL_MODES:
            raise ValueError(f"conditional must be one of {CONDITIONAL_MODES}, got {self.conditional!r}")
        if self.info_cat == 1 or self.info_cat < 0:
            raise ValueError(f"info_cat must be 0 (no categorical code) or at least 2 values, got {self.info_cat}")
        if self.info_cont < 0:
            raise ValueError(f"info_cont must be ≥ 0 (0: no continuous code), got {self.info_cont}")
        for name in ("acgan_weight", "info_weight"):
            if not getattr(self, name) >= 0.0:
                raise ValueError(f"{name} must be ≥ 0, got {getattr(self, name)}")
        if self.uses_labels and self.pack != 1:
            raise ValueError(f"pack={self.pack} with conditional={self.conditional!r}, info_cat={self.info_cat}, "
                             f"info_cont={self.info_cont}: D judges packs of samples, but a label or code belongs to "
                             "one sample; use pack=1")
        if self.conditional != "none" and self.n_classes is not None and self.n_classes < 2:
            raise ValueError(f"a conditional run needs at least 2 classes, got n_classes={self.n_classes}")

    def check_data(self, dataset):
        """Raise ``ValueError`` when ``dataset`` cannot serve this config: a conditional or InfoGAN run on
        data without labels, labels that are not the integers 0..K−1, or more classes than ``n_classes``."""
        if not self.uses_labels:
            return
        what = (f"conditional={self.conditional!r}" if self.conditional != "none"
                else f"InfoGAN (info_cat={self.info_cat}, info_cont={self.info_cont})")
        labels = dataset.labels
        if labels is None:
            raise ValueError(f"{what} needs labelled data, but data set {dataset.name!r} has no labels (an npz: file "
                             "needs a 'labels' array; ring8 and grid25 label each point by its mode)")
        if not np.issubdtype(labels.dtype, np.integer) or (len(labels) and labels.min() < 0):
            raise ValueError(f"{what}: the labels of {dataset.name!r} must be integers 0..K-1, got dtype "
                             f"{labels.dtype} with minimum {labels.min() if len(labels) else None}")
        if self.conditional != "none" and self.n_classes is not None and len(labels) and labels.max() >= self.n_classes:
            raise ValueError(f"{what}: data set {dataset.name!r} has labels up to {int(labels.max())}, but the run "
                             f"was built for n_classes={self.n_classes}")


def build_optimizer(config, params, lr):
    """The optimizer ``config.optimizer`` names, over ``params``, at learning rate ``lr``."""
    if config.optimizer == "adam":
        return optim.Adam(params, lr=lr, betas=config.betas)
    if config.optimizer == "sgd":
        return optim.SGD(params, lr=lr, momentum=config.momentum)
    if config.optimizer == "adagrad":
        return optim.Adagrad(params, lr=lr)
    if config.optimizer == "rmsprop":
        return optim.RMSprop(params, lr=lr, alpha=config.rmsprop_alpha, momentum=config.rmsprop_momentum)
    return optim.SGD(params, lr=lr)  # "gd": plain steps on the full data set (batch_size = N)
