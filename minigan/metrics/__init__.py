"""Measuring generated samples.

- :mod:`minigan.metrics.divergence`: KL and JS divergences between histograms, in nats;
- :mod:`minigan.metrics.modes`: mode-collapse metrics on the 2-D mixtures (modes captured,
  high-quality fraction, reverse KL), as in VEEGAN and PacGAN;
- :mod:`minigan.metrics.stacked`: the Stacked MNIST protocol on stacked digits (digit triples
  counted over 26,000 samples, KL of their histogram to uniform), as in VEEGAN and PacGAN;
- :mod:`minigan.metrics.classifier`: image metrics from a small classifier trained with minigan
  (imported on its own, ``from minigan.metrics import classifier``: it builds networks);
- :mod:`minigan.metrics.conditional`: conditional-GAN and InfoGAN metrics on top of that classifier
  (label agreement, per-class Fréchet distance, categorical-code accuracy); importing them loads
  :mod:`minigan.metrics.classifier` too.
"""

from minigan.metrics.conditional import (CodeAlignment, LabelAgreement, PerClassFrechet, agreement_from_predictions,
                                        code_class_accuracy, label_agreement, per_class_frechet)
from minigan.metrics.divergence import js_divergence, kl_divergence
from minigan.metrics.modes import ModeMetrics, mode_metrics
from minigan.metrics.stacked import STACKED_EVAL_SAMPLES, StackedModeMetrics, evaluate_stacked, stacked_mode_metrics

__all__ = ["kl_divergence", "js_divergence", "mode_metrics", "ModeMetrics", "stacked_mode_metrics",
           "evaluate_stacked", "StackedModeMetrics", "STACKED_EVAL_SAMPLES",
           "label_agreement", "agreement_from_predictions", "LabelAgreement", "per_class_frechet",
           "PerClassFrechet", "code_class_accuracy", "CodeAlignment"]
