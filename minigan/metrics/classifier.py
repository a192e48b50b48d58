"""Image-quality metrics from a small classifier trained on the real images, with minigan itself.

The classifier is an MLP, D → 256 → 128 → K with LeakyReLU(0.2), trained by minibatch Adam on the
cross-entropy (:func:`train_classifier`). :func:`get_classifier` trains it once per data set and keeps
it in the user's cache directory (:func:`cache_dir`). :func:`image_metrics` then scores generated
samples x ~ G with it. Writing p(y|x) for the classifier's softmax and f(x) for its penultimate-layer
features (the 128 activations before the last layer):

- ``class_histogram`` h: the fraction of samples given each label, hₖ = #{x : argmax p(y|x) = k} / N;
- ``class_coverage``: the number of classes k with hₖ ≥ 0.1 / K, i.e. that receive at least 10% of
  their uniform share of the predicted labels (a mode-dropping GAN covers fewer than K);
- ``kl_to_uniform``: KL(h ‖ u) = Σₖ hₖ log(K hₖ), 0 for a perfectly balanced generator, log K when
  every sample gets the same label;
- ``inception_score``: exp(E_x KL(p(y|x) ‖ p(y))) with p(y) = E_x p(y|x) — the Inception Score
  (Salimans et al., 2016) with this classifier in place of Inception; between 1 and K, high when
  each sample is classified confidently *and* the labels are spread over the classes;
- ``frechet_distance``: the Fréchet distance between Gaussians fitted to f(samples) and f(real_x)
  (the FID of Heusel et al., 2017, with this classifier's features in place of Inception's);
- ``accuracy``: the classifier's accuracy on (real_x, real_labels), when both are given.

Numbers from these metrics compare runs on the same data set only: they depend on this classifier.
"""

import dataclasses
import hashlib
import os
import warnings

import numpy as np
import scipy.linalg

from minigan import autograd, backends, nn, optim
from minigan import random as mg_random
from minigan.errors import ShapeError
from minigan.metrics.divergence import kl_divergence
from minigan.nn import functional as F
from minigan.tensor import Tensor

# Architecture and training recipe. They are part of the cache key: changing any of them gives
# a new cache file instead of loading weights trained another way.
HIDDEN = (256, 128)
NEGATIVE_SLOPE = 0.2
EPOCHS = 20
BATCH_SIZE = 64
LEARNING_RATE = 1e-3
SEED = 0
# Bump when the meaning of a cache file changes in a way the recipe above does not capture.
_CACHE_FORMAT = 1

COVERAGE_FRACTION = 0.1  # a class is covered if it gets ≥ 10% of its uniform share N/K of labels
FRECHET_EPS = 1e-6  # added to the covariances' diagonals when Σ₁Σ₂ has no usable square root


# ------------------------------------------------------------------------------------ the model
class Classifier(nn.Module):
    """An MLP, in_features → hidden[0] → … → n_classes, with LeakyReLU between layers.

    ``forward(x)`` gives the logits z (a Tensor); ``features(x)`` the last hidden layer's
    activations f(x). :meth:`outputs` / :meth:`predict` work on host arrays, without a tape.
    """

    def __init__(self, in_features, n_classes, hidden=HIDDEN, negative_slope=NEGATIVE_SLOPE):
        super().__init__()
        if n_classes < 2:
            raise ValueError(f"Classifier: needs at least 2 classes, got {n_classes}")
        self.in_features = int(in_features)
        self.n_classes = int(n_classes)
        self.hidden = tuple(int(h) for h in hidden)
        sizes = (self.in_features,) + self.hidden
        layers = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Dense(fan_in, fan_out, dtype=np.float32), nn.LeakyReLU(negative_slope)]
        self.body = nn.Sequential(*layers)
        self.head = nn.Dense(sizes[-1], self.n_classes, dtype=np.float32)

    def features(self, x):
        """f(x): the penultimate layer's activations, shape (N, hidden[-1])."""
        return self.body(x)

    def forward(self, x):
        """The logits z = head(f(x)), shape (N, n_classes)."""
        return self.head(self.features(x))

    def outputs(self, x, batch_size=1024):
        """(f(x), log p(y|x)) as float64 host arrays for a host array x of shape (N, in_features)."""
        x = self._check_input(x)
        features, log_probs = [], []
        # Host NumPy whatever the current backend: the network is small, its weights live there.
        with autograd.no_grad(), backends.backend("numpy"):
            for start in range(0, len(x), batch_size):
                f = self.features(Tensor(x[start:start + batch_size]))
                features.append(f.data.astype(np.float64))
                log_probs.append(F.log_softmax(self.head(f)).data.astype(np.float64))
        if not features:
            return np.zeros((0, self.hidden[-1])), np.zeros((0, self.n_classes))
        return np.concatenate(features), np.concatenate(log_probs)

    def predict(self, x):
        """The most probable label of each row of x, shape (N,)."""
        return self.outputs(x)[1].argmax(axis=1)

    def accuracy(self, x, labels):
        """The fraction of rows of x whose predicted label equals ``labels``."""
        labels = _check_labels(labels, len(x), "Classifier.accuracy")
        return float(np.mean(self.predict(x) == labels))

    def _check_input(self, x):
        x = _host_float32(x)
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ShapeError(f"Classifier: expected images of shape (N, {self.in_features}), got {x.shape}")
        return x

    def extra_repr(self):
        return f"in_features={self.in_features}, n_classes={self.n_classes}, hidden={self.hidden}"


def _host_float32(x):
    """x as a C-contiguous float32 NumPy array (from NumPy, CuPy, a Tensor or a list)."""
    if isinstance(x, Tensor):
        x = x.data
    if hasattr(x, "get"):  # CuPy
        x = x.get()
    return np.ascontiguousarray(x, dtype=np.float32)


def _check_labels(labels, n, op):
    """``labels`` as an int64 host array of shape (n,), checked to hold non-negative integers."""
    labels = np.asarray(labels.get() if hasattr(labels, "get") else labels)
    if labels.shape != (n,):
        raise ShapeError(f"{op}: expected {n} labels of shape ({n},), got shape {labels.shape}")
    if labels.size == 0:
        return labels.astype(np.int64)
    # Whole-valued floats (labels read from a float array) are accepted; 2.5 or -1 are not.
    integral = np.issubdtype(labels.dtype, np.integer) or (
        np.issubdtype(labels.dtype, np.floating) and np.all(np.isfinite(labels)) and np.all(labels == np.round(labels)))
    if not integral or labels.min() < 0:
        raise ValueError(f"{op}: labels must be non-negative integers, got dtype {labels.dtype} with "
                         f"values in [{labels.min()}, {labels.max()}]")
    return labels.astype(np.int64)


# ------------------------------------------------------------------------------------- training
def _seeded_init(seed, build):
    """``build()`` with minigan's global generator temporarily restarted from ``seed``.

    The weights depend on ``seed`` only, and the caller's random stream (a GAN being trained) is left
    exactly where it was. The state is swapped rather than the generator reseeded, so anyone holding
    ``minigan.random.generator()`` keeps the same object.
    """
    saved = mg_random.get_state()
    mg_random.set_state(np.random.default_rng(seed).bit_generator.state)
    try:
        return build()
    finally:
        mg_random.set_state(saved)


def train_classifier(x, labels, n_classes=None, hidden=HIDDEN, epochs=EPOCHS, batch_size=BATCH_SIZE,
                     lr=LEARNING_RATE, seed=SEED):
    """A :class:`Classifier` trained on images x (N, D) in [0, 1] with integer labels (N,).

    Minimises the mean cross-entropy −log softmax(z)[label] with Adam(lr) over ``epochs`` passes of
    shuffled minibatches. Deterministic for a given ``seed``; does not touch minigan's global random
    stream. ``n_classes`` defaults to max(labels) + 1. Runs on host NumPy in float32.
    """
    x = _host_float32(x)
    if x.ndim != 2 or len(x) == 0:
        raise ShapeError(f"train_classifier: expected images of shape (N, D) with N ≥ 1, got {x.shape}")
    labels = _check_labels(labels, len(x), "train_classifier")
    n_classes = int(labels.max()) + 1 if n_classes is None else int(n_classes)
    if labels.max() >= n_classes:
        raise ValueError(f"train_classifier: label {labels.max()} does not fit n_classes={n_classes}")
    with backends.backend("numpy"):
        model = _seeded_init(seed, lambda: Classifier(x.shape[1], n_classes, hidden))
        optimizer = optim.Adam(model.parameters(), lr=lr)
        order_rng = np.random.default_rng(seed)  # a private stream for the shuffles, too
        for _ in range(epochs):
            order = order_rng.permutation(len(x))
            for start in range(0, len(x), batch_size):
                batch = order[start:start + batch_size]
                optimizer.zero_grad()
                F.cross_entropy(model(Tensor(x[batch])), labels[batch]).backward()
                optimizer.step()
    return model.eval()


# ---------------------------------------------------------------------------------------- cache
def cache_dir():
    """minigan's cache directory: ``$MINIGAN_CACHE_DIR``, else ``$XDG_CACHE_HOME/minigan``, else
    ``~/.cache/minigan`` (an empty variable counts as unset, as the XDG spec says). Not created here."""
    explicit = os.environ.get("MINIGAN_CACHE_DIR")
    if explicit:
        return os.path.abspath(os.path.expanduser(explicit))
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = xdg if xdg else os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(os.path.abspath(base), "minigan")


def _data_key(x, labels):
    """A SHA-256 hex digest of the training data and the training recipe: the cache file's name."""
    digest = hashlib.sha256()
    recipe = (_CACHE_FORMAT, HIDDEN, NEGATIVE_SLOPE, EPOCHS, BATCH_SIZE, LEARNING_RATE, SEED, x.shape)
    digest.update(repr(recipe).encode())
    digest.update(x.tobytes())
    digest.update(labels.tobytes())
    return digest.hexdigest()


def classifier_cache_path(x, labels, directory=None):
    """Where :func:`get_classifier` keeps the classifier for images x and labels."""
    x, labels = _host_float32(x), _check_labels(labels, len(x), "classifier_cache_path")
    return os.path.join(directory or cache_dir(), "classifiers", f"mlp-{_data_key(x, labels)[:32]}.npz")


def _load_cached(path, in_features, n_classes):
    """The classifier saved at ``path``; raises ValueError/KeyError if it is unreadable or does not fit."""
    with backends.backend("numpy"):
        model = _seeded_init(SEED, lambda: Classifier(in_features, n_classes))
        model.load(path)
    if not all(np.all(np.isfinite(p.data)) for p in model.parameters()):
        raise ValueError(f"{path} holds non-finite weights")
    return model.eval()


def get_classifier(dataset, directory=None):
    """The classifier for ``dataset``, trained once and then loaded from the cache.

    ``dataset`` is a :class:`minigan.data.Dataset` with images ``x`` (N, D) and integer ``labels``
    (N,), an ``(x, labels)`` pair, or a data set's name for :func:`minigan.data.load_dataset`.
    The file is ``<cache_dir()>/classifiers/mlp-<hash>.npz``, the hash taken over the data and the
    training recipe, so each data set (or subset) gets its own classifier. It is written atomically
    (:meth:`Module.save`); a file that cannot be loaded is reported with a warning and replaced by a
    retrained one. Nothing is ever downloaded. ``directory`` overrides :func:`cache_dir`.
    """
    x, labels = _training_data(dataset)
    path = classifier_cache_path(x, labels, directory)
    n_classes = int(labels.max()) + 1
    if os.path.exists(path):
        try:
            return _load_cached(path, x.shape[1], n_classes)
        except (ValueError, KeyError, OSError) as exc:
            warnings.warn(f"ignoring the unreadable classifier cache file {path} and retraining: {exc}",
                          RuntimeWarning, stacklevel=2)
    model = train_classifier(x, labels, n_classes=n_classes)
    try:
        model.save(path)
    except OSError as exc:  # a read-only home should cost a retraining next time, not the metrics
        warnings.warn(f"could not cache the classifier at {path}: {exc}", RuntimeWarning, stacklevel=2)
    return model


def _training_data(dataset):
    if isinstance(dataset, str):
        from minigan.data import load_dataset  # imported late: only this form needs the data module

        dataset = load_dataset(dataset)
    if isinstance(dataset, tuple) and len(dataset) == 2:
        x, labels = dataset
    else:
        x, labels = getattr(dataset, "x", None), getattr(dataset, "labels", None)
        if x is None or labels is None:
            raise ValueError("get_classifier: the data set has no labels; classifier metrics need labelled images")
    x = _host_float32(x)
    if x.ndim != 2 or len(x) == 0:
        raise ShapeError(f"get_classifier: expected images of shape (N, D) with N ≥ 1, got {x.shape}")
    return x, _check_labels(labels, len(x), "get_classifier")


# -------------------------------------------------------------------------------------- metrics
@dataclasses.dataclass
class ImageMetrics:
    """Scores of generated images; see the module docstring for each definition."""

    class_coverage: int
    class_histogram: np.ndarray  # (K,) fractions of the samples per predicted label, summing to 1
    kl_to_uniform: float
    inception_score: float
    frechet_distance: float | None  # None without real_x
    accuracy: float | None  # None without real_x and real_labels


def image_metrics(samples, classifier, real_x=None, real_labels=None):
    """:class:`ImageMetrics` of ``samples`` (N, D), scored by ``classifier`` (see :func:`get_classifier`).

    ``real_x`` (M, D), when given, is the reference for the Fréchet distance (both N, M ≥ 2);
    ``real_labels`` with it gives the classifier's accuracy on the real images.
    """
    features, log_probs = classifier.outputs(samples)
    if len(features) == 0:
        raise ShapeError("image_metrics: got no samples")
    histogram = class_histogram(log_probs.argmax(axis=1), classifier.n_classes)
    frechet, accuracy = None, None
    if real_x is not None:
        real_features, real_log_probs = classifier.outputs(real_x)
        frechet = frechet_distance(*gaussian_fit(features), *gaussian_fit(real_features))
        if real_labels is not None:
            labels = _check_labels(real_labels, len(real_x), "image_metrics")
            accuracy = float(np.mean(real_log_probs.argmax(axis=1) == labels))
    elif real_labels is not None:
        raise ValueError("image_metrics: real_labels needs real_x")
    return ImageMetrics(
        class_coverage=class_coverage(histogram),
        class_histogram=histogram,
        kl_to_uniform=kl_divergence(histogram, np.full(len(histogram), 1.0 / len(histogram))),
        inception_score=inception_score(log_probs),
        frechet_distance=frechet,
        accuracy=accuracy,
    )


def class_histogram(predicted, n_classes):
    """hₖ = the fraction of ``predicted`` labels equal to k, for k < n_classes."""
    return np.bincount(np.asarray(predicted), minlength=n_classes)[:n_classes] / max(len(predicted), 1)


def class_coverage(histogram, fraction=COVERAGE_FRACTION):
    """#{k : hₖ ≥ fraction / K}: classes given at least ``fraction`` of their uniform share of labels."""
    histogram = np.asarray(histogram, dtype=np.float64)
    # The tiny slack keeps a share of exactly fraction/K (e.g. 1 of 100 labels, K = 10) covered
    # despite rounding in the division that made the histogram.
    return int(np.sum(histogram >= fraction / len(histogram) * (1 - 1e-9)))


def inception_score(log_probs):
    """exp(E_x KL(p(y|x) ‖ p(y))), p(y) = E_x p(y|x), from log p(y|x) of shape (N, K).

    One estimate over all N rows (the original splits the samples into 10 groups and averages).
    Equals exp(H(p(y)) − E_x H(p(y|x))): at most K, reached by confident, balanced predictions.
    """
    log_probs = np.asarray(log_probs, dtype=np.float64)
    probs = np.exp(log_probs)
    marginal = probs.mean(axis=0)
    # Where p(y) underflows to 0, every p(y|x) is ~0 too and the term p log(p / p(y)) → 0.
    log_marginal = np.log(np.maximum(marginal, np.finfo(np.float64).tiny))
    kl = np.sum(probs * (log_probs - log_marginal), axis=1)
    return float(np.exp(max(kl.mean(), 0.0)))  # KL ≥ 0; rounding can dip below when all rows agree


def gaussian_fit(features):
    """(μ, Σ): the mean and the unbiased covariance (divisor N − 1) of the rows of ``features`` (N, d)."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise ShapeError(f"gaussian_fit: need at least 2 rows of shape (N, d), got {features.shape}")
    return features.mean(axis=0), np.atleast_2d(np.cov(features, rowvar=False))


def frechet_distance(mu1, sigma1, mu2, sigma2, eps=FRECHET_EPS):
    """d² = ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2 (Σ₁Σ₂)^{1/2}): the squared 2-Wasserstein distance between
    N(μ₁, Σ₁) and N(μ₂, Σ₂).

    (Σ₁Σ₂)^{1/2} comes from ``scipy.linalg.sqrtm``. Singular covariances (dead units, fewer samples
    than dimensions) can make it fail or come out complex; then it is recomputed from
    (Σ₁ + εI)(Σ₂ + εI) with ε = ``eps`` (1e-6 by default, a bias of order ε·d). A complex result whose
    imaginary part is rounding noise (below 1e-3 relative to the real part) is replaced by its real
    part; a larger one raises ValueError. The result is clamped at 0, which rounding can undershoot.
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    d = mu1.shape[0]
    if mu1.shape != (d,) or mu2.shape != (d,) or sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise ShapeError(f"frechet_distance: expected means (d,) and covariances (d, d), got {mu1.shape}, "
                         f"{sigma1.shape}, {mu2.shape}, {sigma2.shape}")
    covmean = _sqrtm_product(sigma1, sigma2)
    if not _usable(covmean):
        offset = eps * np.eye(d)
        covmean = _sqrtm_product(sigma1 + offset, sigma2 + offset)
    if np.iscomplexobj(covmean):
        if not _usable(covmean):
            raise ValueError("frechet_distance: (Σ₁Σ₂)^{1/2} has a large imaginary part even with "
                             f"eps={eps} on the diagonals; are the covariances symmetric positive semi-definite?")
        covmean = covmean.real
    diff = mu1 - mu2
    value = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean)
    return float(max(value, 0.0))


def _sqrtm_product(a, b):
    # sqrtm warns about singular input; the caller checks the result itself and retries with ε.
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        return scipy.linalg.sqrtm(a @ b)


def _usable(root):
    """A finite square root whose imaginary part (if any) is rounding noise."""
    if not np.all(np.isfinite(root)):
        return False
    if not np.iscomplexobj(root):
        return True
    return np.max(np.abs(root.imag)) <= 1e-3 * max(1.0, np.max(np.abs(root.real)))
