"""The generator and discriminator MLPs.

The seed architecture (the image default, from the GAN chapter in shared/reference):

    G: z(100) → Dense 500 → BN → LeakyReLU → Dense 500 → BN → LeakyReLU → Dense D_out → sigmoid
    D: x(D_in) → Dense 500 → LeakyReLU → Dense 500 → LeakyReLU → Dense 1   (a logit)

For the 2-D sets a smaller pair: hidden widths (128, 128), z of size 2, and a linear G output (the
points are not in [0, 1]). Width, depth and the normalisation in each network are configurable.
"""

from minigan import ops
from minigan.nn import (BatchNorm1d, Dense, InstanceNorm1d, LeakyReLU, MinibatchDiscrimination, Module, ReLU,
                        Sequential, Sigmoid, Tanh)

NORMS = ("none", "batch", "instance")
Q_HIDDEN = 128  # width of InfoGAN's Q head's hidden layer
ACTIVATIONS = ("leaky_relu", "relu", "sigmoid", "tanh")


def _activation(kind):
    if kind == "leaky_relu":
        return LeakyReLU(0.2)
    if kind == "relu":
        return ReLU()
    if kind == "sigmoid":  # saturating units, for the vanishing-gradient comparisons of the GAN chapter
        return Sigmoid()
    if kind == "tanh":
        return Tanh()
    raise ValueError(f"unknown activation {kind!r}: expected one of {ACTIVATIONS}")


def _norm_layer(kind, width, dtype):
    if kind == "batch":
        return BatchNorm1d(width, dtype=dtype)
    if kind == "instance":
        return InstanceNorm1d(width, affine=True, dtype=dtype)
    if kind == "none":
        return None
    raise ValueError(f"unknown normalisation {kind!r}: expected one of {NORMS}")


def _hidden_stack(in_features, hidden, norm, dtype, init, activation="leaky_relu"):
    layers = []
    for width in hidden:
        layers.append(Dense(in_features, width, init=init, dtype=dtype))
        norm_layer = _norm_layer(norm, width, dtype)
        if norm_layer is not None:
            layers.append(norm_layer)
        layers.append(_activation(activation))
        in_features = width
    return layers, in_features


def build_generator(z_dim, out_dim, hidden=(500, 500), norm="batch", output="sigmoid", dtype=None, init="uniform",
                    activation="leaky_relu"):
    """G: z (N, z_dim) → samples (N, out_dim); ``output`` "sigmoid" (images in [0, 1]) or "linear";
    ``activation`` after each hidden layer: "leaky_relu" (slope 0.2), "relu", "sigmoid" or "tanh"."""
    layers, width = _hidden_stack(z_dim, hidden, norm, dtype, init, activation)
    layers.append(Dense(width, out_dim, init=init, dtype=dtype))
    if output == "sigmoid":
        layers.append(Sigmoid())
    elif output != "linear":
        raise ValueError(f"unknown generator output {output!r}: expected 'sigmoid' or 'linear'")
    return Sequential(*layers)


class Discriminator(Module):
    """D: x (N, in_dim · pack) → one logit (or score) per row. ``features(x)`` is the last hidden layer's
    output φ(x) (what feature matching compares); minibatch discrimination, when on, sits between φ and
    the head.

    Conditioning (:mod:`minigan.gan.conditioning`) adds, with ``n_classes`` = K: for ``conditional=
    "concat"`` K input columns for onehot(y); for ``"projection"`` an embedding ``embed`` (a bias-free
    Dense K → width, whose rows are the v_y of D(x, y) = ψ(φ(x)) + v_yᵀφ(x)); for ``"acgan"`` a classifier
    head ``classifier`` (width → K). ``q_outputs`` > 0 adds InfoGAN's head ``q`` (width → 128 → LeakyReLU →
    q_outputs: with a linear head on φ the categorical code matched the digit classes on 86–87 % of
    samples at best, with this hidden layer 93–97 %, seed 0 of the runs in the README).
    ``y`` in :meth:`forward` and :meth:`features` is onehot(y) (a Tensor (N, K)) for concat and projection."""

    def __init__(self, in_dim, hidden=(500, 500), norm="none", pack=1, minibatch_kernels=0, kernel_dim=5,
                 dtype=None, init="uniform", activation="leaky_relu", conditional="none", n_classes=0, q_outputs=0):
        super().__init__()
        self.pack = pack
        self.conditional = conditional
        extra = n_classes if conditional == "concat" else 0
        layers, width = _hidden_stack(in_dim * pack + extra, hidden, norm, dtype, init, activation)
        self.body = Sequential(*layers)
        self.minibatch = (MinibatchDiscrimination(width, minibatch_kernels, kernel_dim, dtype=dtype)
                          if minibatch_kernels else None)
        self.head = Dense(width + minibatch_kernels, 1, init=init, dtype=dtype)
        if conditional == "projection":
            self.embed = Dense(n_classes, width, bias=False, init=init, dtype=dtype)
        if conditional == "acgan":
            self.classifier = Dense(width, n_classes, init=init, dtype=dtype)
        if q_outputs:  # InfoGAN's Q: a hidden layer of its own on D's features, as in Chen et al.'s networks
            self.q = Sequential(Dense(width, Q_HIDDEN, init=init, dtype=dtype), LeakyReLU(0.2),
                                Dense(Q_HIDDEN, q_outputs, init=init, dtype=dtype))

    def features(self, x, y=None):
        if self.conditional == "concat":
            x = ops.concatenate([x, y], axis=1)
        return self.body(x)

    def score(self, h, y=None):
        """The head on features φ(x) = ``h``: ψ(h), plus v_yᵀh with projection."""
        out = self.head(self.minibatch(h) if self.minibatch is not None else h)
        if self.conditional == "projection":
            out = out + (self.embed(y) * h).sum(axis=1, keepdims=True)
        return out

    def forward(self, x, y=None):
        return self.score(self.features(x, y), y)

    def score_and_features(self, x, y=None):
        """(D(x, y), φ(x)): the score and the features the auxiliary heads read."""
        h = self.features(x, y)
        return self.score(h, y), h

    def classify(self, h):
        """AC-GAN's class logits C(φ(x)) (N, K)."""
        return self.classifier(h)

    def predict_codes(self, h):
        """InfoGAN's Q(φ(x)): K_c logits then M means (N, K_c + M)."""
        return self.q(h)


def pack_samples(x, pack):
    """PacGAN packing: (N, D) → (N / pack, pack · D), consecutive samples joined into one row."""
    if pack == 1:
        return x
    n, d = x.shape
    if n % pack:
        raise ValueError(f"packing: a batch of {n} samples does not split into groups of {pack}")
    return ops.reshape(x, (n // pack, pack * d))
