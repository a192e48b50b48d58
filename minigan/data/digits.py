"""The 1,797 8 × 8 handwritten digits shipped with minigan (``digits.npz`` beside this file).

They are the UCI "Optical Recognition of Handwritten Digits" images (Alpaydin & Kaynak, 1998; CC BY
4.0) as bundled by scikit-learn (``sklearn.datasets.load_digits``), extracted once: see ``DIGITS.md``.
The file holds ``images`` (uint8, (1797, 64), each pixel a count 0..16 of "on" pixels in a 4 × 4
block) and ``labels`` (uint8, 0..9). Loaded, x = images / 16 in [0, 1].
"""

import os

import numpy as np

from minigan.data.dataset import Dataset, subset
from minigan.serialization import load_npz

PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "digits.npz")
N_DIGITS = 1797
MAX_COUNT = 16


def load_digits(n_samples=None, seed=0, path=PATH):
    """The digits as a :class:`Dataset`: x float32 (N, 64) in [0, 1], labels 0..9, image_shape (8, 8)."""
    if not os.path.exists(path):
        # Only a broken install gets here: the file is part of the package.
        raise FileNotFoundError(f"the digits data file is missing: {path} (reinstall minigan)")
    arrays = load_npz(path)
    images, labels = arrays.get("images"), arrays.get("labels")
    if (images is None or labels is None or images.shape != (N_DIGITS, 64) or labels.shape != (N_DIGITS,)
            or images.dtype != np.uint8 or int(images.max()) > MAX_COUNT or int(labels.max()) > 9):
        raise ValueError(f"{path} is not minigan's digits file: expected uint8 'images' ({N_DIGITS}, 64) "
                         f"with values 0..{MAX_COUNT} and 'labels' ({N_DIGITS},) with values 0..9")
    x = images.astype(np.float32) / MAX_COUNT
    x, labels = subset(x, labels.astype(np.int64), n_samples, seed, path)
    return Dataset(x=x, labels=labels, name="digits", image_shape=(8, 8), value_range=(0.0, 1.0))
