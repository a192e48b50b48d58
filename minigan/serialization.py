"""Saving arrays to ``.npz`` files atomically, and loading them back.

A file is written under a temporary name in the target's directory, flushed to disk, then renamed
over the target in one step (``os.replace``): a crash leaves either the old file or the new one,
never half of one.
"""

import os
import tempfile
import zipfile

import numpy as np


def _new_file_mode():
    """0666 less the process umask: the mode ``open(path, "w")`` would have given."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write_bytes(path, write):
    """Call ``write(fileobj)`` on a temporary file beside ``path``, then rename it to ``path``."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.basename(path), dir=directory)
    try:
        with os.fdopen(handle, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(temporary, _new_file_mode())  # mkstemp makes 0600; give the file the usual mode
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def save_npz(path, arrays):
    """Write ``{name: array}`` (NumPy or CuPy arrays) to ``path`` as an uncompressed ``.npz``, atomically."""
    host = {name: (a.get() if hasattr(a, "get") else np.asarray(a)) for name, a in arrays.items()}
    atomic_write_bytes(path, lambda f: np.savez(f, **host))


def load_npz(path):
    """``{name: numpy array}`` from a ``.npz`` file; a missing or corrupt file raises naming it."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such file: {path}")
    with open(path, "rb") as f:  # our own handle: closed even when NumPy fails half-way
        try:
            data = np.load(f, allow_pickle=False)
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise ValueError("it holds a single .npy array, not an .npz archive")
            with data:
                return {name: data[name] for name in data.files}
        except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
            raise ValueError(f"{path} is not a readable .npz file: {exc}") from exc
