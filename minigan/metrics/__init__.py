"""Measuring generated samples.

- :mod:`minigan.metrics.divergence`: KL and JS divergences between histograms, in nats;
- :mod:`minigan.metrics.modes`: mode-collapse metrics on the 2-D mixtures (modes captured,
  high-quality fraction, reverse KL), as in VEEGAN and PacGAN;
- :mod:`minigan.metrics.classifier`: image metrics from a small classifier trained with minigan
  (imported on its own, ``from minigan.metrics import classifier``: it builds networks).
"""

from minigan.metrics.divergence import js_divergence, kl_divergence
from minigan.metrics.modes import ModeMetrics, mode_metrics

__all__ = ["kl_divergence", "js_divergence", "mode_metrics", "ModeMetrics"]
