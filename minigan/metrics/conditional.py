"""Metrics for conditional GANs and InfoGAN: does the generator draw the class it was asked for?

A conditional generator G(z, y) is asked for label yᵢ ∈ {0, …, K−1} ("requested") and draws xᵢ.
A classifier trained on the real images (:func:`minigan.metrics.classifier.get_classifier`) gives
p(y|x) and its penultimate features f(x). Writing Nₖ = #{i : yᵢ = k} for the samples requested as k:

- :func:`label_agreement`: the share of samples the classifier labels as requested,

      overall = (1/N) Σᵢ 1[argmax p(y|xᵢ) = yᵢ],     per_label[k] = (1/Nₖ) Σ_{i : yᵢ = k} 1[argmax p(y|xᵢ) = k].

  overall = Σₖ (Nₖ/N) per_label[k], the count-weighted mean of per_label. The classifier's own accuracy
  on real images (:meth:`Classifier.accuracy`) is the ceiling to read it against: real images with
  their true labels as "requested" score exactly that accuracy.

- :func:`per_class_frechet`: the Fréchet distance (:func:`~minigan.metrics.classifier.frechet_distance`)
  between Gaussians fitted to f(xᵢ) over {i : yᵢ = k} and to f of the real images of class k,

      d²ₖ = ‖μₖ − μₖʳ‖² + Tr(Σₖ + Σₖʳ − 2 (Σₖ Σₖʳ)^{1/2}),     mean = (1/|S|) Σ_{k ∈ S} d²ₖ,

  over the set S of requested classes: the "intra-class FID" of Miyato & Koyama (2018), here with this
  classifier's features. A generator that draws good images of the wrong class has a small overall FD
  but large d²ₖ.

- :func:`code_class_accuracy`: InfoGAN's categorical code c is learnt without labels, so code value j
  means *some* class, not class j. Counting Cⱼₖ = #{i : cᵢ = j, classᵢ = k}, the best one-to-one
  assignment σ of code values to classes maximises the matched count Σⱼ C_{j σ(j)}, and

      accuracy = max_σ Σⱼ C_{j σ(j)} / N,

  the "unsupervised clustering accuracy" of the clustering literature (e.g. Xie et al., 2016).

Labels everywhere are integer arrays (N,) with values in [0, K); whole-valued floats (labels read back
from a float array) are accepted, as in :mod:`minigan.metrics.classifier`.
"""

import dataclasses

import numpy as np
import scipy.optimize

from minigan.errors import ShapeError
from minigan.metrics.classifier import _host_float32, frechet_distance, gaussian_fit

RECOMMENDED_PER_CLASS = 200  # samples per class below which per-class FD is noticeably biased upwards


# ----------------------------------------------------------------------------------- input checks
def _labels(values, name, op, n=None, n_classes=None):
    """``values`` as an int64 host array (n,) of integers in [0, n_classes), else a ValueError naming ``op``.

    ``n`` None means any length ≥ 1; ``n_classes`` None means no upper bound.
    """
    values = np.asarray(values.get() if hasattr(values, "get") else values)
    if values.ndim != 1:
        raise ShapeError(f"{op}: {name} must be a 1-D array of labels (N,), got shape {values.shape}")
    if len(values) == 0:
        raise ShapeError(f"{op}: {name} is empty; need at least one label")
    if n is not None and len(values) != n:
        raise ShapeError(f"{op}: {name} has {len(values)} labels, expected {n} (one per sample), "
                         f"got shape {values.shape}")
    integral = np.issubdtype(values.dtype, np.integer) or (
        np.issubdtype(values.dtype, np.floating) and np.all(np.isfinite(values))
        and np.all(values == np.round(values)))
    if not integral:
        raise ValueError(f"{op}: {name} must hold integer labels, got dtype {values.dtype}"
                         + (f" with values in [{values.min()}, {values.max()}]"
                            if np.issubdtype(values.dtype, np.number) else ""))
    if values.min() < 0 or (n_classes is not None and values.max() >= n_classes):
        bound = "∞" if n_classes is None else n_classes
        raise ValueError(f"{op}: {name} must lie in [0, {bound}), got values in "
                         f"[{values.min()}, {values.max()}] (dtype {values.dtype})")
    return values.astype(np.int64)


def _count(value, name, op):
    """A positive int from ``value``, else a ValueError naming ``op``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{op}: {name} must be a positive integer, got {value!r}")
    return int(value)


def _samples(x, classifier, name, op):
    """``x`` as a float32 host array (N, D) with N ≥ 1 and D = classifier.in_features."""
    shape, dtype = getattr(x, "shape", np.shape(x)), getattr(x, "dtype", None)
    try:
        x = _host_float32(x)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{op}: {name} must be a numeric array (N, {classifier.in_features}), "
                         f"got {type(x).__name__} of dtype {dtype}: {exc}") from None
    if x.ndim != 2 or x.shape[1] != classifier.in_features:
        raise ShapeError(f"{op}: {name} must have shape (N, {classifier.in_features}) to match the "
                         f"classifier's in_features, got shape {shape} (dtype {dtype})")
    if len(x) == 0:
        raise ShapeError(f"{op}: {name} is empty, shape {shape}; need at least one sample")
    return x


# -------------------------------------------------------------------------------- label agreement
@dataclasses.dataclass(frozen=True)
class LabelAgreement:
    """How often a conditional generator's samples are classified as the label they were drawn for.

    - ``overall``: the share of all N samples classified as requested, in [0, 1];
    - ``per_label``: float64 (K,), the share for the samples requested as k; **NaN** for a label
      that was never requested (0/0: there is nothing to agree with);
    - ``counts``: int64 (K,), Nₖ = the number of samples requested as k (0 where per_label is NaN).
    """

    overall: float
    per_label: np.ndarray
    counts: np.ndarray


def agreement_from_predictions(predicted, requested, n_classes):
    """:class:`LabelAgreement` of ``predicted`` labels (N,) against ``requested`` labels (N,), K = n_classes.

    Both are integer arrays with values in [0, K). With Nₖ = #{i : requestedᵢ = k} and
    Aₖ = #{i : requestedᵢ = k, predictedᵢ = k}: per_label[k] = Aₖ / Nₖ (NaN when Nₖ = 0),
    overall = Σₖ Aₖ / N.
    """
    op = "agreement_from_predictions"
    n_classes = _count(n_classes, "n_classes", op)
    predicted = _labels(predicted, "predicted", op, n_classes=n_classes)
    requested = _labels(requested, "requested", op, n=len(predicted), n_classes=n_classes)
    counts = np.bincount(requested, minlength=n_classes)
    agreed = np.bincount(requested[predicted == requested], minlength=n_classes)
    with np.errstate(invalid="ignore", divide="ignore"):  # 0/0 → NaN for labels never requested
        per_label = agreed / counts.astype(np.float64)
    return LabelAgreement(overall=float(agreed.sum() / len(requested)), per_label=per_label, counts=counts)


def label_agreement(samples, requested, classifier):
    """:class:`LabelAgreement` of ``samples`` (N, D) drawn for the labels ``requested`` (N,).

    ``classifier`` (a :class:`~minigan.metrics.classifier.Classifier`, D = its in_features, K = its
    n_classes) labels each sample by argmax p(y|x); :func:`agreement_from_predictions` compares.
    """
    op = "label_agreement"
    samples = _samples(samples, classifier, "samples", op)
    requested = _labels(requested, "requested", op, n=len(samples), n_classes=classifier.n_classes)
    return agreement_from_predictions(classifier.predict(samples), requested, classifier.n_classes)


# ------------------------------------------------------------------------------ per-class Fréchet
@dataclasses.dataclass(frozen=True)
class PerClassFrechet:
    """Fréchet distances of the classifier's features, class by class.

    - ``per_class``: float64 (K,), d²ₖ between the samples requested as k and the real images of
      class k; NaN for a class that was never requested;
    - ``mean``: the mean of d²ₖ over the requested classes (the intra-class FID).
    """

    mean: float
    per_class: np.ndarray


def per_class_frechet(samples, requested, classifier, real_x, real_labels):
    """:class:`PerClassFrechet` of ``samples`` (N, D) drawn for ``requested`` (N,) against ``real_x``
    (M, D) with ``real_labels`` (M,), in the features f of ``classifier``.

    For each class k requested at all, d²ₖ = :func:`frechet_distance` of :func:`gaussian_fit` over
    f(samples[requested == k]) and over f(real_x[real_labels == k]). Each of those two sets needs at
    least 2 rows (a covariance needs two); fewer raises a ValueError naming the class and the count.

    Few samples per class bias d²ₖ upwards. The sampling noise of the fitted Gaussians only ever adds:
    for the mean term alone, with n samples and m real images, μ̂ − μ̂ʳ = (μ − μʳ) + noise of
    covariance Σ/n + Σʳ/m, so E‖μ̂ − μ̂ʳ‖² = ‖μ − μʳ‖² + Tr Σ/n + Tr Σʳ/m; the covariance term
    behaves alike, and altogether E d̂² ≈ d² + c/n (Chong & Forsyth, 2020). Two independent sets of
    images of one class therefore score well above 0, and with K classes each class gets only N/K
    samples, so the bias bites far harder than for the overall FD. Use at least 200 samples per class
    (``RECOMMENDED_PER_CLASS``), the same number per class for every run compared, and read d²ₖ
    against the value between two halves of the real images of class k.
    """
    op = "per_class_frechet"
    n_classes = classifier.n_classes
    samples = _samples(samples, classifier, "samples", op)
    real_x = _samples(real_x, classifier, "real_x", op)
    requested = _labels(requested, "requested", op, n=len(samples), n_classes=n_classes)
    real_labels = _labels(real_labels, "real_labels", op, n=len(real_x), n_classes=n_classes)
    wanted = np.bincount(requested, minlength=n_classes)
    available = np.bincount(real_labels, minlength=n_classes)
    for k in np.flatnonzero(wanted):
        for count, what in ((wanted[k], "samples requested as"), (available[k], "real images of")):
            if count < 2:
                raise ValueError(f"{op}: {count} {what} class {k}; a class's Fréchet distance needs at least "
                                 f"2 (and {RECOMMENDED_PER_CLASS} or more to be unbiased)")
    features, real_features = classifier.outputs(samples)[0], classifier.outputs(real_x)[0]
    per_class = np.full(n_classes, np.nan)
    for k in np.flatnonzero(wanted):
        per_class[k] = frechet_distance(*gaussian_fit(features[requested == k]),
                                        *gaussian_fit(real_features[real_labels == k]))
    return PerClassFrechet(mean=float(np.nanmean(per_class)), per_class=per_class)


# ---------------------------------------------------------------------------- InfoGAN code alignment
@dataclasses.dataclass(frozen=True)
class CodeAlignment:
    """How well InfoGAN's categorical code matches the true classes, up to a relabelling.

    - ``accuracy``: matched / N under the best one-to-one assignment, in [0, 1];
    - ``assignment``: int64 (n_codes,), the class given to each code value; −1 for a code value left
      without a class (possible only when n_codes > n_classes);
    - ``confusion``: int64 (n_codes, n_classes), C[j, k] = #{i : codeᵢ = j, classᵢ = k}.
    """

    accuracy: float
    assignment: np.ndarray
    confusion: np.ndarray


def code_class_accuracy(codes, classes, n_codes=None, n_classes=None):
    """:class:`CodeAlignment` of categorical ``codes`` (N,) against true ``classes`` (N,).

    ``codes`` are the code value each sample was generated with (or the one InfoGAN's Q network
    infers for a real image); ``classes`` are its class (the classifier's label of the generated
    image, or the real image's true label). ``n_codes`` and ``n_classes`` default to the largest value
    seen plus one; give them when some value may never occur.

    The confusion matrix C (n_codes × n_classes) counts the pairs. A one-to-one assignment σ pairs
    each code value j with a distinct class σ(j) and matches Σⱼ C[j, σ(j)] samples; the best one is a
    linear assignment problem, solved exactly by ``scipy.optimize.linear_sum_assignment`` on the cost
    −C. When n_codes ≠ n_classes only min(n_codes, n_classes) pairs can be made: the extra code values
    (or classes) stay unmatched and their samples count as wrong. Then

        accuracy = max_σ Σⱼ C[j, σ(j)] / N.

    Chance level is not 1/K: the best matching of independent codes and classes picks the largest
    entries of a noisy C, so it sits a little above 1/K (by O(1/√(N/K)) relative), and it reaches 1/K
    only as N → ∞.
    """
    op = "code_class_accuracy"
    codes = _labels(codes, "codes", op, n_classes=None if n_codes is None else _count(n_codes, "n_codes", op))
    classes = _labels(classes, "classes", op, n=len(codes),
                      n_classes=None if n_classes is None else _count(n_classes, "n_classes", op))
    n_codes = int(codes.max()) + 1 if n_codes is None else int(n_codes)
    n_classes = int(classes.max()) + 1 if n_classes is None else int(n_classes)
    confusion = np.bincount(codes * n_classes + classes, minlength=n_codes * n_classes).reshape(n_codes, n_classes)
    rows, cols = scipy.optimize.linear_sum_assignment(-confusion)
    assignment = np.full(n_codes, -1, dtype=np.int64)
    assignment[rows] = cols
    return CodeAlignment(accuracy=float(confusion[rows, cols].sum() / len(codes)), assignment=assignment,
                         confusion=confusion)
