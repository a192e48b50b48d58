"""The :class:`Dataset` every loader returns, and the checks the loaders share."""

import dataclasses
import numbers

import numpy as np


@dataclasses.dataclass(repr=False)
class Dataset:
    """Training samples and what is known about them.

    - ``x``: float32 array (N, D), one sample a row (an image is flattened row by row);
    - ``labels``: int64 array (N,), or ``None`` when the data have no labels;
    - ``name``: a short name ("ring8", "digits", "mnist", or the file's name);
    - ``image_shape``: (H, W) with H·W = D for grey images, (H, W, 3) with H·W·3 = D for colour ones
      (each sample flattened channel-last, row by row), ``None`` for points;
    - ``modes``: the mixture's mode centres (K, D) for the synthetic sets, else ``None``;
    - ``mode_std``: the standard deviation σ of every mode (isotropic), with ``modes``;
    - ``value_range``: (low, high) that the values of ``x`` lie in, e.g. (0.0, 1.0) for images.
    """

    x: np.ndarray
    labels: np.ndarray = None
    name: str = ""
    image_shape: tuple = None
    modes: np.ndarray = None
    mode_std: float = None
    value_range: tuple = None

    def __post_init__(self):
        if not isinstance(self.x, np.ndarray) or self.x.ndim != 2:
            raise ValueError(f"Dataset {self.name!r}: x must be a NumPy array (N, D), got "
                             f"{type(self.x).__name__} of shape {getattr(self.x, 'shape', None)}")
        if self.labels is not None and self.labels.shape != (len(self.x),):
            raise ValueError(f"Dataset {self.name!r}: labels must have shape ({len(self.x)},) to match x, "
                             f"got {self.labels.shape}")
        if self.image_shape is not None and int(np.prod(self.image_shape)) != self.x.shape[1]:
            raise ValueError(f"Dataset {self.name!r}: image_shape {self.image_shape} does not hold "
                             f"D = {self.x.shape[1]} values")

    def __len__(self):
        return len(self.x)

    def __repr__(self):
        # The dataclass repr would print the arrays; their shapes say what matters.
        parts = [f"name={self.name!r}", f"x={self.x.shape} {self.x.dtype}",
                 f"labels={None if self.labels is None else self.labels.shape}"]
        if self.image_shape is not None:
            parts.append(f"image_shape={self.image_shape}")
        if self.modes is not None:
            parts.append(f"modes={len(self.modes)}, mode_std={self.mode_std}")
        parts.append(f"value_range={self.value_range}")
        return f"Dataset({', '.join(parts)})"


def check_n_samples(n_samples, available=None, source=""):
    """``n_samples`` as an int ≥ 1 (and ≤ ``available`` when given), or ``None`` left as is."""
    if n_samples is None:
        return None
    if isinstance(n_samples, bool) or not isinstance(n_samples, numbers.Integral) or n_samples < 1:
        raise ValueError(f"n_samples must be a positive integer or None, got {n_samples!r}")
    if available is not None and n_samples > available:
        raise ValueError(f"n_samples={n_samples} is more than the {available} samples in {source}")
    return int(n_samples)


def subset(x, labels, n_samples, seed, source):
    """``n_samples`` rows of (x, labels) picked without replacement by ``seed``, kept in file order.

    ``n_samples=None`` keeps every row. A random pick (rather than the first rows) keeps the
    classes' proportions when a file is sorted by label.
    """
    n_samples = check_n_samples(n_samples, len(x), source)
    if n_samples is None or n_samples == len(x):
        return x, labels
    rows = np.sort(np.random.default_rng(seed).choice(len(x), size=n_samples, replace=False))
    return x[rows], (None if labels is None else labels[rows])
