"""Quality of generated samples: mode metrics on the 2-D sets, classifier metrics on images."""

import dataclasses
import math


def evaluate_samples(samples, dataset):
    """A dict of metrics for ``samples`` (host array (N, D)) drawn to imitate ``dataset``."""
    if dataset.modes is not None:
        from minigan.metrics.modes import mode_metrics

        result = mode_metrics(samples, dataset.modes, dataset.mode_std)
    elif dataset.labels is not None:
        from minigan.metrics.classifier import get_classifier, image_metrics

        result = image_metrics(samples, get_classifier(dataset), real_x=dataset.x, real_labels=dataset.labels)
    else:
        return {"samples": int(len(samples))}
    values = dataclasses.asdict(result)
    return {k: _plain(v.tolist() if hasattr(v, "tolist") else v) for k, v in values.items()}


def _plain(value):
    """NaN and infinities become None, so that the result is strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
