"""Conditioning a GAN on a label (conditional GANs) and on latent codes it must make visible (InfoGAN).

**Conditional GANs** (``TrainConfig.conditional``). Every sample belongs to a class y ∈ {0, …, K−1};
G draws a sample *for* a label, G(z, y), its input being z ⊕ onehot(y) in every mode. What D is told of y
is what the modes differ in. Writing φ(x) for D's body (its last hidden layer) and ψ for its linear head:

- ``"concat"`` (Mirza & Osindero, 2014): D's input is x ⊕ onehot(y), so D(x, y) = ψ(φ(x ⊕ onehot(y)))
  scores the pair; a fake for y is rejected if it does not look like a y.
- ``"projection"`` (Miyato & Koyama, 2018): D(x, y) = ψ(φ(x)) + v_yᵀ φ(x), with v_y the y-th row of an
  embedding V (K × width; a bias-free Dense layer applied to onehot(y)). Why this form: D's logit
  estimates log p(x, y)/q(x, y) (data p, generator q) = log p(y|x)/q(y|x) + log p(x)/q(x). If both class
  posteriors are softmaxes of linear functions of φ(x), log p(y|x) = w_yᵖ·φ(x) − log Zᵖ(x) and likewise
  for q, their log ratio is (w_yᵖ − w_yᵠ)·φ(x) plus terms of x alone. The y-term is v_y·φ(x) with
  v_y = w_yᵖ − w_yᵠ, and every term of x alone joins log p(x)/q(x) in ψ(φ(x)).
- ``"acgan"`` (Odena et al., 2017): D's score does not see y; an auxiliary head C(φ(x)) (K logits)
  classifies real and fake samples alike, and both losses gain a cross-entropy term of weight w
  (``acgan_weight``):  D: L_adv + w [CE(C(x), y) + CE(C(G(z, y)), y)];  G: L_adv + w CE(C(G(z, y)), y).

In D's update the fake batch is drawn for the real batch's labels, so that real and fake rows pair up
label for label (a gradient penalty's interpolates mix a real and a fake sample of the same class); in
G's update the labels are those of a fresh draw of data rows, so both follow the data's class frequencies.

**InfoGAN** (Chen et al., 2016; ``info_cat`` = K_c, ``info_cont`` = M). G's input also holds codes: a
categorical c ~ Cat(K_c), as onehot(c), and M continuous u ~ U[−1, 1]. A head Q on D's body (a hidden
layer of 128 LeakyReLU units on D's features) predicts them from the sample: K_c logits and M means
μ(x). The mutual information I(c, u; G(z, c, u)) has the variational lower bound H(c, u) + E log Q(c, u | x)
(x = G(z, c, u)); H is a constant, so maximising the bound is minimising

    L_I = CE(Q_cat(x), c) + ½ Σⱼ E (uⱼ − μⱼ(x))²,

the negative log-likelihood of a categorical Q and of a unit-variance Gaussian Q for each continuous code
(up to a constant). λ L_I (``info_weight``) is added to G's loss and to D's (which trains Q and the body it
shares), each on the fake samples of its own update.
"""

import numpy as np

from minigan import backends, ops, random
from minigan.nn import functional as F
from minigan.tensor import Tensor

CONDITIONAL_MODES = ("none", "concat", "projection", "acgan")


def one_hot(labels, k, dtype):
    """onehot(labels) as a Tensor (N, k) of ``dtype`` on the current backend (no gradient)."""
    xp = backends.current_module()
    labels = xp.asarray(labels)
    out = xp.zeros((labels.shape[0], k), dtype=dtype)
    out[xp.arange(labels.shape[0]), labels] = 1
    return Tensor(out)


class Codes:
    """A batch's InfoGAN codes: ``cat`` (host int64 (N,) or None) and ``cont`` (Tensor (N, M) or None)."""

    def __init__(self, cat=None, cont=None):
        self.cat, self.cont = cat, cont


class Condition:
    """What a run conditions G on (a label, InfoGAN codes), the draws it adds and the losses it adds.

    ``labels`` are the data set's labels (host int64 (N,)) when the run is conditional. A run with
    neither a label nor codes has ``active`` False and adds nothing: no draw, no input, no loss."""

    def __init__(self, config, labels=None):
        c = config
        self.mode = c.conditional
        self.n_classes = c.n_classes if self.mode != "none" else 0
        self.info_cat, self.info_cont = c.info_cat, c.info_cont
        self.acgan_weight, self.info_weight = c.acgan_weight, c.info_weight
        self.dtype = c.dtype
        self.labels = np.asarray(labels, dtype=np.int64) if self.mode != "none" else None

    @property
    def conditional(self):
        return self.mode != "none"

    @property
    def info(self):
        return bool(self.info_cat or self.info_cont)

    @property
    def active(self):
        return self.conditional or self.info

    @property
    def g_extra(self):
        """Columns G's input has beyond z: onehot(y), onehot(c) and u."""
        return self.n_classes + self.info_cat + self.info_cont

    @property
    def q_outputs(self):
        """Outputs of InfoGAN's head Q: K_c logits and M means (0: no Q)."""
        return self.info_cat + self.info_cont

    # ---------------------------------------------------------------------------- draws
    def labels_of(self, index):
        """The data labels of rows ``index`` (host int array), or None when the run is not conditional."""
        if self.labels is None:
            return None
        return self.labels[index if isinstance(index, slice) else np.asarray(index)]

    def draw_labels(self, n):
        """Labels of n rows of the data drawn uniformly (the data's class frequencies), from minigan.random."""
        if not self.conditional:
            return None
        return self.labels[random.generator().integers(0, len(self.labels), size=n)]

    def draw_codes(self, n):
        """InfoGAN codes for n samples from minigan.random: c uniform over K_c values, u uniform on [−1, 1]."""
        if not self.info:
            return None
        cat = random.generator().integers(0, self.info_cat, size=n) if self.info_cat else None
        cont = random.uniform(-1.0, 1.0, (n, self.info_cont), dtype=self.dtype) if self.info_cont else None
        return Codes(cat, cont)

    def generator_input(self, z, labels=None, codes=None):
        """G's input z ⊕ onehot(y) ⊕ onehot(c) ⊕ u (z alone when nothing conditions G)."""
        if not self.active:
            return z
        parts = [z]
        if self.conditional:
            parts.append(one_hot(labels, self.n_classes, self.dtype))
        if codes is not None and self.info_cat:
            parts.append(one_hot(codes.cat, self.info_cat, self.dtype))
        if codes is not None and self.info_cont:
            parts.append(codes.cont)
        return ops.concatenate(parts, axis=1)

    def label_input(self, labels):
        """What D is given of the labels: onehot(y) for concat and projection, None otherwise."""
        if self.mode in ("concat", "projection"):
            return one_hot(labels, self.n_classes, self.dtype)
        return None

    # ---------------------------------------------------------------------------- losses
    def class_loss(self, D, features, labels):
        """AC-GAN's w · CE(C(φ(x)), y) (None when the mode is not acgan)."""
        if self.mode != "acgan":
            return None
        return self.acgan_weight * F.cross_entropy(D.classify(features), labels)

    def info_loss(self, D, features, codes):
        """InfoGAN's λ L_I = λ [CE(Q_cat(x), c) + ½ Σⱼ E (uⱼ − μⱼ(x))²] (None without codes)."""
        if not self.info:
            return None
        q = D.predict_codes(features)
        loss = None
        if self.info_cat:
            loss = F.cross_entropy(q[:, :self.info_cat], codes.cat)
        if self.info_cont:
            diff = q[:, self.info_cat:] - codes.cont
            term = 0.5 * (diff * diff).sum(axis=1).mean()
            loss = term if loss is None else loss + term
        return self.info_weight * loss


def add(total, term):
    """``total + term``, where either may be None (no term)."""
    if term is None:
        return total
    return term if total is None else total + term
