"""Data sets read from files: MNIST in its IDX format, and arrays in ``.npz``/``.npy`` files.

Every failure names the file and says what was expected: a missing file raises
``FileNotFoundError``, a file that exists but cannot be used raises ``ValueError``.
"""

import gzip
import math
import os
import zipfile
import zlib

import numpy as np

from minigan.data.dataset import Dataset, subset

# IDX (LeCun et al., the MNIST format): a big-endian header, then the values.
#   bytes 0-1: 0, byte 2: the value type (0x08 = unsigned byte), byte 3: the number of dimensions n;
#   then n big-endian uint32 sizes; then prod(sizes) values, row-major.
# As one big-endian int32 the first four bytes are MNIST's "magic number": 2051 = 0x0803 for images
# (3 dimensions: count, rows, columns), 2049 = 0x0801 for labels (1 dimension: count).
IDX_IMAGES_MAGIC = 2051
IDX_LABELS_MAGIC = 2049
MNIST_IMAGES = "train-images-idx3-ubyte"
MNIST_LABELS = "train-labels-idx1-ubyte"


def _read_bytes(path):
    """The file's bytes, decompressed when its name ends in ``.gz``."""
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                return f.read()
        with open(path, "rb") as f:
            return f.read()
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        if isinstance(exc, FileNotFoundError):
            raise
        raise ValueError(f"{path}: cannot read the file: {exc}") from exc


def read_idx(path, magic):
    """The array in IDX file ``path`` (plain or ``.gz``), whose magic number must be ``magic``.

    Only unsigned-byte IDX files (type 0x08, all of MNIST's) are read: the array is uint8 with the
    header's sizes.
    """
    path = os.fspath(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise ValueError(f"{path}: truncated IDX file: {len(data)} bytes, too short for the 4-byte magic number")
    found = int.from_bytes(data[:4], "big")
    if found != magic:
        raise ValueError(f"{path}: bad IDX magic number {found} (0x{found:08x}); expected {magic} "
                         f"(0x{magic:08x}), {'images' if magic == IDX_IMAGES_MAGIC else 'labels'} of unsigned bytes")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path}: truncated IDX file: {len(data)} bytes, the header alone needs {header}")
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    expected = header + math.prod(shape)
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "has trailing bytes"
        raise ValueError(f"{path}: {what}: the header promises {' x '.join(map(str, shape))} values "
                         f"({expected} bytes in all), the file has {len(data)} bytes")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def _find(directory, name):
    """The path of ``name`` or ``name.gz`` in ``directory`` (also the ``train-images.idx3-ubyte`` spelling)."""
    dotted = name.replace("-idx", ".idx")
    candidates = [name, name + ".gz", dotted, dotted + ".gz"]
    for candidate in candidates:
        path = os.path.join(directory, candidate)
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(f"no MNIST file {name} in {directory} (looked for {', '.join(candidates)})")


def load_mnist(directory, n_samples=None, seed=0):
    """MNIST's training set from the IDX files in ``directory``: x = pixels / 255, float32 (N, 784).

    ``directory`` holds ``train-images-idx3-ubyte`` and ``train-labels-idx1-ubyte``, each plain or
    gzipped (``.gz``), as downloaded. ``n_samples`` picks that many images at random (by ``seed``).
    """
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"no such directory for MNIST: {directory}")
    images_path, labels_path = _find(directory, MNIST_IMAGES), _find(directory, MNIST_LABELS)
    images = read_idx(images_path, IDX_IMAGES_MAGIC)
    labels = read_idx(labels_path, IDX_LABELS_MAGIC)
    if len(images) != len(labels):
        raise ValueError(f"MNIST in {directory}: {images_path} has {len(images)} images but {labels_path} "
                         f"has {len(labels)} labels")
    if len(images) == 0:
        raise ValueError(f"{images_path}: the file holds no images")
    rows, columns = images.shape[1:]
    x = images.reshape(len(images), rows * columns).astype(np.float32) / 255
    x, labels = subset(x, labels.astype(np.int64), n_samples, seed, images_path)
    return Dataset(x=x, labels=labels, name="mnist", image_shape=(rows, columns), value_range=(0.0, 1.0))


# ------------------------------------------------------------------------------- .npz / .npy
def _load(path, kind):
    """``np.load(path)`` without pickles, with errors that name the file."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such file: {path}")
    if os.path.isdir(path):
        raise ValueError(f"{path} is a directory, not a .{kind} file")
    try:
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.lib.npyio.NpzFile):
            with loaded:
                arrays = {name: loaded[name] for name in loaded.files}
        else:
            arrays = loaded
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        # ValueError is also how NumPy refuses object arrays (they need pickle).
        raise ValueError(f"{path} is not a readable .{kind} file of numeric arrays: {exc}") from exc
    other = "npy" if kind == "npz" else "npz"
    if isinstance(arrays, dict) != (kind == "npz"):
        raise ValueError(f"{path} is a .{other} file, not a .{kind} file: load it as '{other}:{path}'")
    return arrays


def _samples(array, path, what):
    """``array`` (N, ...) as float32 (N, D), with the (H, W) it had if it was (N, H, W)."""
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{path}: {what} must hold numbers, got dtype {array.dtype}")
    if array.ndim == 0:
        raise ValueError(f"{path}: {what} is a single value; expected samples (N, ...)")
    if array.size == 0:
        raise ValueError(f"{path}: {what} is empty (shape {array.shape}); expected samples (N, ...)")
    shape = array.shape[1:] if array.ndim == 3 else None
    x = array.reshape(len(array), -1)
    # 8-bit images are pixels 0..255: scale them into [0, 1] like the other image sets.
    x = x.astype(np.float32) / 255 if array.dtype == np.uint8 else x.astype(np.float32)
    bad = np.count_nonzero(~np.isfinite(x))
    if bad:
        raise ValueError(f"{path}: {what} has {bad} NaN or infinite values (or values too large for float32)")
    return x, shape


def _guess_image_shape(dim):
    """(s, s) when D = s² for some s ≥ 2, else ``None`` (D values are then taken as a point)."""
    side = math.isqrt(dim)
    return (side, side) if side >= 2 and side * side == dim else None


def _labels(array, n, path, what):
    if array.dtype.kind not in "biu" and not (array.dtype.kind == "f" and np.all(array == np.round(array))):
        raise ValueError(f"{path}: {what} must be integers, got dtype {array.dtype}")
    if array.shape != (n,):
        raise ValueError(f"{path}: {what} has shape {array.shape}; expected ({n},), one label per sample")
    return array.astype(np.int64)


def _pick_samples(arrays, path):
    """(name of the samples array, name of the labels array or None) in an .npz file's arrays."""
    labels = next((name for name in ("labels", "y") if name in arrays), None)
    if "x" in arrays:
        return "x", labels
    rest = [name for name in arrays if name != labels]
    if len(rest) == 1:
        return rest[0], labels
    found = ", ".join(repr(name) for name in arrays) or "none"
    raise ValueError(f"{path}: cannot tell which array holds the samples (arrays: {found}); "
                     "name it 'x', or store only that array (with optional 'labels' or 'y')")


def _array_dataset(x, labels, shape, path, n_samples, seed):
    x, labels = subset(x, labels, n_samples, seed, path)
    image_shape = shape or _guess_image_shape(x.shape[1])
    name = os.path.splitext(os.path.basename(path))[0]
    return Dataset(x=x, labels=labels, name=name, image_shape=image_shape,
                   value_range=(float(x.min()), float(x.max())))


def load_npz(path, n_samples=None, seed=0):
    """Samples from an ``.npz`` file: the array named ``x`` (or the only array), labels from ``labels``/``y``.

    An array (N, ...) becomes x (N, D) float32: uint8 values are divided by 255, others kept. The
    image shape is (H, W) for an array (N, H, W), (s, s) when D = s² (s ≥ 2), else ``None``.
    """
    path = os.fspath(path)
    arrays = _load(path, "npz")
    samples, labels = _pick_samples(arrays, path)
    x, shape = _samples(arrays[samples], path, f"array {samples!r}")
    y = None if labels is None else _labels(arrays[labels], len(x), path, f"array {labels!r}")
    return _array_dataset(x, y, shape, path, n_samples, seed)


def load_npy(path, n_samples=None, seed=0):
    """Samples from an ``.npy`` file holding one array (N, ...), read as :func:`load_npz` reads ``x``."""
    path = os.fspath(path)
    x, shape = _samples(_load(path, "npy"), path, "the array")
    return _array_dataset(x, None, shape, path, n_samples, seed)
