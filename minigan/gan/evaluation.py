"""Quality of generated samples: mode metrics on the 2-D sets, classifier metrics on images, the mode count
of stacked digits; and for conditional and InfoGAN runs, whether samples show the class they were drawn
for (:func:`conditional_metrics`) and how well InfoGAN's categorical code lines up with the classes
(:func:`code_metrics`)."""

import dataclasses
import functools
import math

import numpy as np

# Exact W2 (an N × N assignment problem) on the first W2_SAMPLES samples, 2,500 by default as the
# 2-D benchmarks evaluate. scipy's solver slows down sharply when samples crowd together (many
# near-ties): for 2,500 points a side it took 1–2 s against data-like samples, 2–9 s against narrow
# modes or a missing mode and 7–23 s against a collapsed or untrained generator (one core of the 2-core
# CPU machine); for 1,000 points 0.05–0.2 s, and 2 s at worst — what evaluations during a run use. The
# data-vs-data floor grows only as N^(−1/4) when N shrinks (the mode counts' imbalance), about 1.2×.
W2_SAMPLES = 2500
W2_SAMPLES_DURING_RUN = 1000
# Seeds of the two data draws W2 is measured against: fixed, so that every evaluation of every generator
# on a data set uses the same reference points.
W2_REFERENCE_SEED = 2017
W2_SECOND_SEED = 2018


def evaluate_samples(samples, dataset, w2_samples=W2_SAMPLES):
    """A dict of metrics for ``samples`` (host array (N, D)) drawn to imitate ``dataset``.

    For the 2-D sets (``dataset.modes`` given) the keys are those of
    :class:`~minigan.metrics.modes.ModeMetrics` and then, for the first n = min(N, ``w2_samples``)
    samples (2,500 by default; ``w2_samples=0`` leaves the w2 and spread keys out, for studies that
    evaluate often and report neither):

    - "w2": their Wasserstein-2 distance to a draw R of n data points;
    - "w2_data": the same distance between R and a second, independent draw of n data points: what
      "close" means at this n (two data draws are not 0 apart: their mode counts differ);
    - "w2_ratio": w2 / w2_data, about 1 for samples indistinguishable from the data;
    - "spread_ratio" and "spread_ratio_per_mode": :func:`~minigan.metrics.modes.spread_ratio` of all N
      samples (1 for the data's width, below 1 for narrower modes; None for a mode with fewer than 2
      high-quality samples).

    Both data draws come from fixed seeds, so repeated evaluations share the reference. Samples with a
    NaN or infinite coordinate (a diverged generator) give w2 and w2_ratio None. Every NaN or infinity
    becomes None, so that the result is strict JSON.

    For stacked digits (``dataset.name == "stacked-digits"``) the keys are "modes" (int, the digit
    triples that appear, of 1,000), "kl_to_uniform" (float, KL of the triples' histogram to the
    uniform one) and "channel_frechet_distance" (float, the Fréchet distance of the classifier's features
    between every channel of the samples and the bundled digits: the digits' quality, which the first two
    cannot see) of :func:`~minigan.metrics.stacked.evaluate_stacked`, all None when a sample has a NaN or
    infinite value. The protocol scores N = 26,000 samples
    (:data:`~minigan.metrics.stacked.STACKED_EVAL_SAMPLES`): fewer cap the count (about 918 at 2,500).
    The classifier metrics of other labelled images are not computed: their classifier would take
    192 inputs and 1,000 classes.
    """
    if dataset.name == "stacked-digits":
        return _stacked_metrics(samples)
    if dataset.modes is not None:
        from minigan.metrics.modes import mode_metrics

        result = mode_metrics(samples, dataset.modes, dataset.mode_std)
    elif dataset.labels is not None:
        from minigan.metrics.classifier import get_classifier, image_metrics

        result = image_metrics(samples, get_classifier(dataset), real_x=dataset.x, real_labels=dataset.labels)
    else:
        return {"samples": int(len(samples))}
    values = dataclasses.asdict(result)
    if dataset.modes is not None and w2_samples:
        values.update(_distribution_metrics(samples, dataset.modes, dataset.mode_std, w2_samples))
    return {k: _plain(v.tolist() if hasattr(v, "tolist") else v) for k, v in values.items()}


def predicted_classes(samples, dataset, classifier=None):
    """(classes, K): the class each sample looks like, and the number of classes. On the 2-D sets its
    nearest mode (the mixture's most probable component: equal weights and widths); on stacked digits the
    digit triple 100a + 10b + c that the digit classifier reads in its three channels; on other labelled
    images the data set's classifier's label (``classifier``, or
    :func:`minigan.metrics.classifier.get_classifier`'s)."""
    samples = np.asarray(samples)
    if dataset.modes is not None:
        from minigan.metrics.modes import nearest_modes

        return nearest_modes(samples, np.asarray(dataset.modes, dtype=np.float64))[0], len(dataset.modes)
    if dataset.name == "stacked-digits":
        from minigan.data.stacked import N_TRIPLES
        from minigan.metrics.stacked import digits_classifier, predict_triples

        return predict_triples(samples, classifier or digits_classifier()), N_TRIPLES
    if classifier is None:
        from minigan.metrics.classifier import get_classifier

        classifier = get_classifier(dataset)
    return np.asarray(classifier.predict(samples)), classifier.n_classes


def conditional_metrics(samples, labels, dataset):
    """How well samples drawn for ``labels`` show them (:mod:`minigan.metrics.conditional`):

    - "label_agreement": the share of samples whose class (:func:`predicted_classes`) is the label they
      were drawn for; "label_agreement_per_label": the same share for each label (None for a label not
      drawn);
    - "per_class_frechet_distance" (labelled images other than stacked digits): the mean over the labels
      of the Fréchet distance of the classifier's features between the samples drawn for a label and the
      real images of that label ("per_class_frechet_distance_per_label" the K of them).

    Every value None when a sample is NaN or infinite (a diverged generator)."""
    from minigan.metrics.conditional import agreement_from_predictions, per_class_frechet

    samples = np.asarray(samples)
    images = dataset.modes is None and dataset.name != "stacked-digits"
    if not np.all(np.isfinite(samples)):
        keys = ["label_agreement", "label_agreement_per_label"]
        keys += ["per_class_frechet_distance", "per_class_frechet_distance_per_label"] if images else []
        return dict.fromkeys(keys)
    classifier = None
    if images:  # one classifier for both metrics (get_classifier hashes the data and loads a file)
        from minigan.metrics.classifier import get_classifier

        classifier = get_classifier(dataset)
    predicted, n_classes = predicted_classes(samples, dataset, classifier)
    agreement = agreement_from_predictions(predicted, labels, n_classes)
    out = {"label_agreement": _plain(float(agreement.overall)),
           "label_agreement_per_label": [_plain(float(v)) for v in agreement.per_label]}
    if images:
        fd = per_class_frechet(samples, labels, classifier, dataset.x, dataset.labels)
        out["per_class_frechet_distance"] = _plain(float(fd.mean))
        out["per_class_frechet_distance_per_label"] = [_plain(float(v)) for v in fd.per_class]
    return out


def code_metrics(samples, codes, n_codes, dataset):
    """How well InfoGAN's categorical code (``codes``, n ints in [0, ``n_codes``)) lines up with the classes
    the samples show (:func:`predicted_classes`): "info_code_accuracy", the share of samples whose class
    is the one matched to their code by the best one-to-one assignment of code values to classes
    (:func:`minigan.metrics.conditional.code_class_accuracy`), and "info_code_assignment", the class
    matched to each code value (−1: none). None when a sample is NaN or infinite."""
    from minigan.metrics.conditional import code_class_accuracy

    samples = np.asarray(samples)
    if not np.all(np.isfinite(samples)):
        return {"info_code_accuracy": None, "info_code_assignment": None}
    predicted, n_classes = predicted_classes(samples, dataset)
    alignment = code_class_accuracy(codes, predicted, n_codes=n_codes, n_classes=n_classes)
    return {"info_code_accuracy": float(alignment.accuracy),
            "info_code_assignment": [int(k) for k in alignment.assignment]}


def _stacked_metrics(samples):
    from minigan.metrics.stacked import evaluate_stacked

    samples = np.asarray(samples)
    if not np.all(np.isfinite(samples)):
        return {"modes": None, "kl_to_uniform": None, "channel_frechet_distance": None}
    result = evaluate_stacked(samples)
    return {"modes": result.modes, "kl_to_uniform": _plain(float(result.kl_to_uniform)),
            "channel_frechet_distance": _plain(result.channel_frechet_distance)}


def _distribution_metrics(samples, modes, std, w2_samples):
    from minigan.data.synthetic import sample_mixture
    from minigan.metrics.modes import spread_ratio, wasserstein2

    samples = np.asarray(samples)
    n = min(len(samples), w2_samples)
    modes = np.asarray(modes, dtype=np.float64)
    w2_data = _data_w2(modes.tobytes(), modes.shape, float(std), n)
    if np.all(np.isfinite(samples[:n])):
        reference = sample_mixture(modes, std, n, seed=W2_REFERENCE_SEED)[0]
        w2 = wasserstein2(samples[:n], reference)
    else:
        w2 = math.nan
    spread = spread_ratio(samples, modes, std)
    return {"w2": w2, "w2_data": w2_data, "w2_ratio": w2 / w2_data, "spread_ratio": spread.mean,
            "spread_ratio_per_mode": [_plain(float(r)) for r in spread.per_mode]}


@functools.lru_cache(maxsize=16)
def _data_w2(modes_bytes, modes_shape, std, n):
    """W2 between the two fixed data draws of n points: the same for every generator, so computed once."""
    from minigan.data.synthetic import sample_mixture
    from minigan.metrics.modes import wasserstein2

    modes = np.frombuffer(modes_bytes, dtype=np.float64).reshape(modes_shape)
    first = sample_mixture(modes, std, n, seed=W2_REFERENCE_SEED)[0]
    second = sample_mixture(modes, std, n, seed=W2_SECOND_SEED)[0]
    return wasserstein2(first, second)


def _plain(value):
    """NaN and infinities become None, so that the result is strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
