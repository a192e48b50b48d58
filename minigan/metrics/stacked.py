"""Mode counting on stacked digits, by the Stacked MNIST protocol of VEEGAN and PacGAN.

VEEGAN (Srivastava et al., 2017, section 5.2) and PacGAN (Lin et al., 2018, Table 3) score a GAN
trained on Stacked MNIST by classifying each of the three channels of 26,000 generated samples with a
pretrained MNIST classifier and counting the digit triples. Here the images are the 8 × 8 × 3 stacked
digits of :mod:`minigan.data.stacked` and the classifier is minigan's digits classifier
(:func:`minigan.metrics.classifier.get_classifier` of the 64-pixel digits). For samples x₁..x_N, each
a row of 192 values laid out channel-last (value 3·p + k is pixel p of channel k):

- channel k of sample i is labelled aᵢₖ = argmax p(y | xᵢ[k::3]), a digit 0..9;
- the sample's triple is tᵢ = 100·aᵢ₀ + 10·aᵢ₁ + aᵢ₂ ∈ {0, …, 999};
- ``histogram`` h: hₜ = #{i : tᵢ = t} / N, the 1,000 frequencies (summing to 1);
- ``modes``: #{t : hₜ > 0}, the triples that appear at least once (no larger threshold, as in both
  papers);
- ``kl_to_uniform``: KL(h ‖ u) with u the uniform distribution over the 1,000 triples,

      KL(h ‖ u) = Σₜ hₜ log(hₜ / (1/1000)) = Σₜ hₜ log(1000 hₜ)   (terms with hₜ = 0 are 0),

  0 when every triple gets exactly N/1000 samples and log 1000 ≈ 6.908 when all N share one triple
  (h is then one-hot: 1 · log(1000 · 1)).

- ``channel_frechet_distance`` (when real digits are given; :func:`evaluate_stacked` gives the bundled
  ones): the quality of the digits themselves, whatever their triple. Every channel of every sample is
  one 8 × 8 digit image; with f the classifier's penultimate features, the 3N channel images and the M
  real digits are each fitted with a Gaussian, (μ_g, Σ_g) and (μ_r, Σ_r), and

      d² = ‖μ_g − μ_r‖² + Tr(Σ_g + Σ_r − 2 (Σ_g Σ_r)^{1/2})

  (:func:`~minigan.metrics.classifier.frechet_distance`, the digits' own Fréchet distance). The mode
  count and the KL cannot tell noise from digits: a Gaussian fitted to the pixels, read channel by
  channel, lands on nearly every triple, while its channel Fréchet distance is that of noise.

A sample of N draws from a uniform source does not score KL = 0: the empirical h fluctuates, and
KL(h ‖ u) ≈ χ²/(2N) with χ² ~ χ²₉₉₉, i.e. ≈ 999 / (2N) ≈ 0.019 nats at N = 26,000. Misread channels
add to it. The expected number of triples a uniform source misses is 1000 (1 − 1/1000)^N, e⁻²⁶ · 1000
≈ 5 · 10⁻⁹ at N = 26,000, so a generator that copies the data scores 1,000 modes; with fewer samples
the count is capped by the sample size (about 918 at N = 2,500), so compare runs at the same N.
"""

import dataclasses

import numpy as np

from minigan.data.stacked import CHANNELS, N_TRIPLES, triple_index
from minigan.errors import DTypeError, ShapeError
from minigan.metrics.divergence import kl_divergence

STACKED_EVAL_SAMPLES = 26_000  # samples scored by the protocol (VEEGAN, PacGAN)
PIXELS = 64  # one 8 × 8 digit


@dataclasses.dataclass(frozen=True)
class StackedModeMetrics:
    """What :func:`stacked_mode_metrics` measured (see the module docstring for the definitions)."""

    modes: int
    kl_to_uniform: float
    histogram: np.ndarray  # (1000,) fractions of the samples per triple 100·a + 10·b + c, summing to 1
    channel_frechet_distance: float | None = None  # None without real digits to compare with


def split_channels(samples, op="split_channels"):
    """The channels of stacked-digit samples (N, 192), channel-last, as digit images (N, 3, 64) float32.

    Checks that ``samples`` is a real array of shape (N, 192) with N ≥ 1 and finite values; ``op``
    names the caller in the errors.
    """
    samples = np.asarray(samples.get() if hasattr(samples, "get") else samples)  # CuPy → host
    if samples.dtype.kind not in "biuf":
        raise DTypeError(f"{op}: samples must be real numbers, got dtype {samples.dtype}")
    if samples.ndim != 2 or samples.shape[1] != CHANNELS * PIXELS:
        raise ShapeError(f"{op}: expected stacked-digit samples of shape (N, {CHANNELS * PIXELS}) "
                         f"(8 × 8 × {CHANNELS}, channel-last), got shape {samples.shape}")
    if len(samples) == 0:
        raise ValueError(f"{op}: no samples (N = 0); expected shape (N, {CHANNELS * PIXELS}) with N ≥ 1")
    if not np.all(np.isfinite(samples)):
        bad = int(np.count_nonzero(~np.isfinite(samples).all(axis=1)))
        raise ValueError(f"{op}: {bad} of the {len(samples)} samples have NaN or infinite values; "
                         "expected finite values")
    # (N, 64 pixels, 3 channels) → (N, 3, 64): each channel becomes a row-by-row 8 × 8 digit.
    return np.ascontiguousarray(samples.reshape(len(samples), PIXELS, CHANNELS).transpose(0, 2, 1),
                                dtype=np.float32)


def _check_classifier(classifier, op):
    in_features, n_classes = getattr(classifier, "in_features", None), getattr(classifier, "n_classes", None)
    if in_features != PIXELS or n_classes != 10:
        raise ValueError(f"{op}: expected the digits classifier (64 inputs, 10 classes), got "
                         f"{type(classifier).__name__} with in_features={in_features}, n_classes={n_classes}")


def predict_triples(samples, classifier, op="predict_triples"):
    """The triple tᵢ = 100·aᵢ₀ + 10·aᵢ₁ + aᵢ₂ (int64 (N,)) that the digits ``classifier`` reads in the three
    channels of each stacked-digit sample (N, 192); checked as :func:`split_channels` does, and the
    classifier must be the digits one (64 inputs, 10 classes). ``op`` names the caller in the errors."""
    channels = split_channels(samples, op)
    _check_classifier(classifier, op)
    return triple_index(np.asarray(classifier.predict(channels.reshape(-1, PIXELS))).reshape(-1, CHANNELS))


def _check_real_digits(real_digits, op):
    real = np.asarray(real_digits.get() if hasattr(real_digits, "get") else real_digits)
    if real.dtype.kind not in "biuf" or real.ndim != 2 or real.shape[1] != PIXELS or len(real) < 2:
        raise ShapeError(f"{op}: real_digits must be at least 2 real digit images of shape (M, {PIXELS}), got "
                         f"shape {real.shape} and dtype {real.dtype}")
    if not np.all(np.isfinite(real)):
        raise ValueError(f"{op}: real_digits have NaN or infinite values")
    return real.astype(np.float32)


def stacked_mode_metrics(samples, classifier, real_digits=None):
    """:class:`StackedModeMetrics` of stacked-digit ``samples`` (N, 192), each channel labelled by the
    digits ``classifier`` (a :class:`~minigan.metrics.classifier.Classifier` for the 64-pixel digits,
    10 classes; see :func:`evaluate_stacked`). With ``real_digits`` (M, 64), M ≥ 2, also the channel
    Fréchet distance against them (the classifier's features and labels then come from one pass of
    ``classifier.outputs``). Raises ShapeError, ValueError or DTypeError naming this function for samples
    that are not (N, 192), N = 0, not finite, or not real numbers, and for real digits that are not
    (M, 64), M ≥ 2, finite. The protocol scores :data:`STACKED_EVAL_SAMPLES` = 26,000 samples.
    """
    op = "stacked_mode_metrics"
    if real_digits is None:
        triples = predict_triples(samples, classifier, op)
        channel_fd = None
    else:
        from minigan.metrics.classifier import frechet_distance, gaussian_fit

        channels = split_channels(samples, op).reshape(-1, PIXELS)
        _check_classifier(classifier, op)
        real = _check_real_digits(real_digits, op)
        if len(channels) < 2:
            raise ValueError(f"{op}: the channel Fréchet distance needs at least 2 channel images, got "
                             f"{len(channels)} (one sample has 3: give N ≥ 1 and it has 3N)")
        features, log_probs = classifier.outputs(channels)
        triples = triple_index(log_probs.argmax(axis=1).reshape(-1, CHANNELS))
        channel_fd = float(frechet_distance(*gaussian_fit(features), *gaussian_fit(classifier.outputs(real)[0])))
    counts = np.bincount(triples, minlength=N_TRIPLES)
    return StackedModeMetrics(modes=int(np.count_nonzero(counts)),
                              kl_to_uniform=kl_divergence(counts, np.ones(N_TRIPLES)),
                              histogram=counts / len(triples), channel_frechet_distance=channel_fd)


def evaluate_stacked(samples, classifier=None, real_digits=None):
    """:func:`stacked_mode_metrics` of ``samples`` (N, 192) with the channel Fréchet distance; without
    ``classifier``, with the digits classifier of :func:`~minigan.metrics.classifier.get_classifier`
    (trained once, then cached); without ``real_digits``, against the bundled digits."""
    if real_digits is None:
        from minigan.data import load_digits

        real_digits = load_digits().x
    return stacked_mode_metrics(samples, digits_classifier() if classifier is None else classifier, real_digits)


def digits_classifier():
    """The 64-pixel digits classifier that reads each channel (trained once, then cached)."""
    # Imported here, as minigan.metrics does for the classifier module: it builds networks.
    from minigan.data import load_digits
    from minigan.metrics.classifier import get_classifier

    return get_classifier(load_digits())

