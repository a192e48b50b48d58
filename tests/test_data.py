"""minigan.data: the synthetic 2-D mixtures, the shipped digits, MNIST IDX files, .npz/.npy files.

The MNIST and NumPy-file tests write small files into ``tmp_path``; nothing is downloaded.
"""

import gzip
import math
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from minigan.data import (GRID25_STD, RING8_STD, Dataset, grid25_modes, load_dataset, read_idx,
                          ring8_modes)
from minigan.data import digits as digits_module
from minigan.metrics import mode_metrics

# P(‖ε‖ < 3) for ε ~ N(0, I₂): the chi distribution with 2 degrees of freedom.
WITHIN_3_STD_2D = 1 - math.exp(-9 / 2)


# ------------------------------------------------------------------------------ spec parsing
def test_unknown_spec_lists_the_valid_forms():
    with pytest.raises(ValueError) as info:
        load_dataset("cifar10")
    message = str(info.value)
    assert "'cifar10'" in message
    for form in ("ring8", "grid25", "digits", "mnist:DIR", "npz:PATH", "npy:PATH"):
        assert form in message
    for spec in ("ring8:x", "digits:", "RING8", "", "mnist"):
        with pytest.raises(ValueError, match="expected one of"):
            load_dataset(spec)
    with pytest.raises(ValueError, match="names no path"):
        load_dataset("npz:")
    with pytest.raises(TypeError, match="string"):
        load_dataset(8)


def test_default_data_set_is_digits():
    assert load_dataset().name == "digits"


@pytest.mark.parametrize("bad", [0, -5, 2.5, True, "10"])
def test_bad_n_samples_is_refused(bad):
    with pytest.raises(ValueError, match="n_samples"):
        load_dataset("ring8", n_samples=bad)
    with pytest.raises(ValueError, match="n_samples"):
        load_dataset("digits", n_samples=bad)


# ------------------------------------------------------------------------------ ring8, grid25
@pytest.fixture(scope="module")
def ring():
    return load_dataset("ring8")


@pytest.fixture(scope="module")
def grid():
    return load_dataset("grid25")


def test_ring8_parameters_are_pacgans():
    modes = ring8_modes()
    angles = 2 * np.pi * np.arange(8) / 8
    np.testing.assert_allclose(modes, np.stack([np.cos(angles), np.sin(angles)], axis=1))
    np.testing.assert_allclose(np.linalg.norm(modes, axis=1), 1.0)
    assert RING8_STD == 0.01 and math.isclose(RING8_STD ** 2, 1e-4)


def test_grid25_parameters_are_pacgans():
    modes = grid25_modes()
    assert modes.shape == (25, 2)
    expected = {(-4 + 2 * i, -4 + 2 * j) for i in range(5) for j in range(5)}
    assert {tuple(int(v) for v in m) for m in modes} == expected
    np.testing.assert_array_equal(modes[5 * 1 + 3], [-2, 2])  # mode 5i + j at (−4 + 2i, −4 + 2j)
    assert GRID25_STD == 0.05 and math.isclose(GRID25_STD ** 2, 0.0025)


@pytest.mark.parametrize("spec, k, std", [("ring8", 8, 0.01), ("grid25", 25, 0.05)])
def test_mixture_data_set_fields(spec, k, std, request):
    data = request.getfixturevalue({"ring8": "ring", "grid25": "grid"}[spec])
    assert isinstance(data, Dataset)
    assert data.name == spec
    assert data.x.shape == (100_000, 2) and data.x.dtype == np.float32
    assert data.labels.shape == (100_000,) and data.labels.dtype == np.int64
    assert set(np.unique(data.labels)) == set(range(k))
    assert data.modes.shape == (k, 2) and data.mode_std == std
    assert data.image_shape is None
    low, high = data.value_range
    assert low == data.x.min() and high == data.x.max()
    assert len(data) == 100_000
    assert "x=(100000, 2) float32" in repr(data)


@pytest.mark.parametrize("fixture", ["ring", "grid"])
def test_samples_sit_around_their_labelled_mode(fixture, request):
    data = request.getfixturevalue(fixture)
    offsets = data.x - data.modes[data.labels]
    # Each coordinate of x − μₖ is N(0, σ²): its sample standard deviation is σ to within a few %.
    np.testing.assert_allclose(offsets.std(axis=0), data.mode_std, rtol=0.02)
    np.testing.assert_allclose(offsets.mean(axis=0), 0.0, atol=5 * data.mode_std / math.sqrt(len(data)))


@pytest.mark.parametrize("fixture", ["ring", "grid"])
def test_true_data_scores_perfectly_on_the_mode_metrics(fixture, request):
    data = request.getfixturevalue(fixture)
    k, n = len(data.modes), len(data.x)
    result = mode_metrics(data.x, data.modes, data.mode_std)
    assert result.modes_captured == k
    # Nearest-mode counts are uniform up to multinomial noise: each within 5 standard deviations.
    share = WITHIN_3_STD_2D * n / k
    assert np.all(np.abs(result.counts - share) < 5 * math.sqrt(share))
    # ≈ 98.9 % of 2-D Gaussian samples lie within 3σ of their mean (binomial noise ~ 3e-4 at N = 1e5).
    assert abs(result.high_quality_fraction - WITHIN_3_STD_2D) < 5 * math.sqrt(
        WITHIN_3_STD_2D * (1 - WITHIN_3_STD_2D) / n)
    # Reverse KL of a multinomial histogram to its true uniform law is ≈ (K − 1) / (2N).
    assert 0 <= result.reverse_kl < 10 * (k - 1) / (2 * n)


def test_synthetic_sets_are_determined_by_the_seed():
    a = load_dataset("ring8", n_samples=500, seed=3)
    b = load_dataset("ring8", n_samples=500, seed=3)
    c = load_dataset("ring8", n_samples=500, seed=4)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert not np.array_equal(a.x, c.x)
    assert load_dataset("grid25", n_samples=37).x.shape == (37, 2)


# ------------------------------------------------------------------------------------ digits
def test_digits_loads_1797_images_in_the_unit_interval():
    data = load_dataset("digits")
    assert data.name == "digits"
    assert data.x.shape == (1797, 64) and data.x.dtype == np.float32
    assert data.x.min() == 0.0 and data.x.max() == 1.0
    assert data.image_shape == (8, 8) and data.value_range == (0.0, 1.0)
    assert data.modes is None and data.mode_std is None
    assert data.labels.dtype == np.int64
    assert sorted(np.unique(data.labels)) == list(range(10))
    # The UCI test partition's class sizes (optdigits.tes).
    assert np.bincount(data.labels).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    # Values are counts 0..16 divided by 16.
    np.testing.assert_array_equal(data.x * 16, np.round(data.x * 16))


def test_digits_file_is_small_compressed_uint8():
    path = digits_module.PATH
    assert os.path.getsize(path) < 200_000
    with zipfile.ZipFile(path) as archive:
        assert all(info.compress_type == zipfile.ZIP_DEFLATED for info in archive.infolist())
    with np.load(path) as arrays:
        assert sorted(arrays.files) == ["images", "labels"]
        assert arrays["images"].dtype == np.uint8 and arrays["images"].shape == (1797, 64)
        assert arrays["labels"].dtype == np.uint8 and arrays["labels"].shape == (1797,)
        assert arrays["images"].max() == 16
    assert os.path.exists(os.path.join(os.path.dirname(path), "DIGITS.md"))


def test_digits_subset_is_seeded_and_keeps_labels_aligned():
    full = load_dataset("digits")
    a = load_dataset("digits", n_samples=100, seed=1)
    b = load_dataset("digits", n_samples=100, seed=1)
    assert a.x.shape == (100, 64)
    np.testing.assert_array_equal(a.x, b.x)
    rows = [int(np.flatnonzero((full.x == row).all(axis=1))[0]) for row in a.x[:5]]
    np.testing.assert_array_equal(full.labels[rows], a.labels[:5])
    with pytest.raises(ValueError, match="1797"):
        load_dataset("digits", n_samples=1798)


def test_a_missing_or_wrong_digits_file_is_reported(tmp_path):
    with pytest.raises(FileNotFoundError, match="digits"):
        digits_module.load_digits(path=str(tmp_path / "gone.npz"))
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, images=np.zeros((10, 64), np.uint8), labels=np.zeros(10, np.uint8))
    with pytest.raises(ValueError, match="wrong.npz"):
        digits_module.load_digits(path=str(wrong))


def test_importing_minigan_data_does_not_import_sklearn():
    # A meta-path finder records every attempt to import sklearn, so the check means something
    # whether or not scikit-learn is installed (an attempt inside try/except would be caught too).
    code = """
import sys
tried = []
class Spy:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "sklearn":
            tried.append(name)
        return None
sys.meta_path.insert(0, Spy())
import minigan.data as d, minigan.metrics
d.load_dataset("digits"); d.load_dataset("ring8", n_samples=10)
assert not tried and "sklearn" not in sys.modules, f"sklearn imported: {tried}"
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


# ------------------------------------------------------------------------------------- MNIST
def idx_bytes(array, magic):
    """An IDX file's bytes: the big-endian magic number, the sizes, then the uint8 values."""
    header = magic.to_bytes(4, "big") + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def write(path, data, gz=False):
    if gz:
        with gzip.open(str(path) + ".gz", "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)


@pytest.fixture
def tiny_mnist():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(12, 28, 28), dtype=np.uint8)
    images[0, 0, 0], images[1, 0, 0] = 0, 255
    labels = rng.integers(0, 10, size=12, dtype=np.uint8)
    return images, labels


def write_mnist(directory, images, labels, gz=False):
    write(directory / "train-images-idx3-ubyte", idx_bytes(images, 2051), gz)
    write(directory / "train-labels-idx1-ubyte", idx_bytes(labels, 2049), gz)


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gz"])
def test_mnist_idx_round_trip(tmp_path, tiny_mnist, gz):
    images, labels = tiny_mnist
    write_mnist(tmp_path, images, labels, gz)
    data = load_dataset(f"mnist:{tmp_path}")
    assert data.name == "mnist"
    assert data.x.shape == (12, 784) and data.x.dtype == np.float32
    np.testing.assert_allclose(data.x, images.reshape(12, 784) / 255, rtol=1e-6)
    assert data.x.min() == 0.0 and data.x.max() == 1.0
    np.testing.assert_array_equal(data.labels, labels)
    assert data.labels.dtype == np.int64
    assert data.image_shape == (28, 28) and data.value_range == (0.0, 1.0)
    assert data.modes is None


def test_mnist_mixed_plain_and_gz_and_subset(tmp_path, tiny_mnist):
    images, labels = tiny_mnist
    write(tmp_path / "train-images-idx3-ubyte", idx_bytes(images, 2051), gz=True)
    write(tmp_path / "train-labels-idx1-ubyte", idx_bytes(labels, 2049), gz=False)
    data = load_dataset(f"mnist:{tmp_path}", n_samples=5, seed=2)
    assert data.x.shape == (5, 784)
    for row, label in zip(data.x, data.labels):
        i = int(np.flatnonzero((images.reshape(12, 784) == np.round(row * 255)).all(axis=1))[0])
        assert labels[i] == label


def test_read_idx_keeps_the_header_shape(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write(tmp_path / "f", idx_bytes(images, 2051))
    np.testing.assert_array_equal(read_idx(tmp_path / "f", 2051), images)


def test_mnist_missing_directory_or_files(tmp_path, tiny_mnist):
    images, labels = tiny_mnist
    with pytest.raises(FileNotFoundError, match="no such directory"):
        load_dataset(f"mnist:{tmp_path / 'nowhere'}")
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        load_dataset(f"mnist:{tmp_path}")
    write(tmp_path / "train-images-idx3-ubyte", idx_bytes(images, 2051))
    with pytest.raises(FileNotFoundError, match="train-labels-idx1-ubyte"):
        load_dataset(f"mnist:{tmp_path}")


def test_mnist_bad_magic_numbers(tmp_path, tiny_mnist):
    images, labels = tiny_mnist
    # The two files swapped: each has the other's magic number.
    write(tmp_path / "train-images-idx3-ubyte", idx_bytes(labels, 2049))
    write(tmp_path / "train-labels-idx1-ubyte", idx_bytes(labels, 2049))
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte: bad IDX magic number 2049.*expected 2051"):
        load_dataset(f"mnist:{tmp_path}")
    write(tmp_path / "train-images-idx3-ubyte", idx_bytes(images, 2051))
    write(tmp_path / "train-labels-idx1-ubyte", idx_bytes(images, 2051))
    with pytest.raises(ValueError, match=r"train-labels-idx1-ubyte: bad IDX magic number 2051.*expected 2049"):
        load_dataset(f"mnist:{tmp_path}")


@pytest.mark.parametrize("cut", [2, 10, -1], ids=["magic", "header", "pixels"])
def test_mnist_truncated_images(tmp_path, tiny_mnist, cut):
    images, labels = tiny_mnist
    write(tmp_path / "train-images-idx3-ubyte", idx_bytes(images, 2051)[:cut])
    write(tmp_path / "train-labels-idx1-ubyte", idx_bytes(labels, 2049))
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte: truncated"):
        load_dataset(f"mnist:{tmp_path}")


def test_mnist_truncated_labels_and_trailing_bytes(tmp_path, tiny_mnist):
    images, labels = tiny_mnist
    write(tmp_path / "train-images-idx3-ubyte", idx_bytes(images, 2051), gz=True)
    write(tmp_path / "train-labels-idx1-ubyte", idx_bytes(labels, 2049)[:-3], gz=True)
    with pytest.raises(ValueError, match=r"train-labels-idx1-ubyte.gz: truncated.*12 values"):
        load_dataset(f"mnist:{tmp_path}")
    write(tmp_path / "train-labels-idx1-ubyte", idx_bytes(labels, 2049) + b"\0", gz=True)
    with pytest.raises(ValueError, match=r"train-labels-idx1-ubyte.gz: has trailing bytes"):
        load_dataset(f"mnist:{tmp_path}")


def test_mnist_count_mismatch(tmp_path, tiny_mnist):
    images, labels = tiny_mnist
    write_mnist(tmp_path, images, labels[:11])
    with pytest.raises(ValueError, match=r"12 images but .*train-labels-idx1-ubyte has 11 labels"):
        load_dataset(f"mnist:{tmp_path}")


def test_mnist_corrupt_gzip(tmp_path, tiny_mnist):
    images, labels = tiny_mnist
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(b"this is not gzip data")
    write(tmp_path / "train-labels-idx1-ubyte", idx_bytes(labels, 2049))
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte.gz: cannot read"):
        load_dataset(f"mnist:{tmp_path}")


# -------------------------------------------------------------------------------- .npz / .npy
def test_npy_round_trip_of_images_and_points(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.random((20, 6, 6))
    np.save(tmp_path / "img.npy", images)
    data = load_dataset(f"npy:{tmp_path / 'img.npy'}")
    assert data.name == "img"
    assert data.x.shape == (20, 36) and data.x.dtype == np.float32
    np.testing.assert_allclose(data.x, images.reshape(20, 36), rtol=1e-6)
    assert data.image_shape == (6, 6) and data.labels is None
    assert data.value_range == (float(data.x.min()), float(data.x.max()))

    points = rng.standard_normal((30, 2))
    np.save(tmp_path / "pts.npy", points)
    data = load_dataset(f"npy:{tmp_path / 'pts.npy'}")
    assert data.x.shape == (30, 2) and data.image_shape is None

    np.save(tmp_path / "flat.npy", rng.random((10, 16)).astype(np.float32))
    assert load_dataset(f"npy:{tmp_path / 'flat.npy'}").image_shape == (4, 4)  # D = 16 = 4²
    np.save(tmp_path / "flat3.npy", rng.random((10, 12)))
    assert load_dataset(f"npy:{tmp_path / 'flat3.npy'}").image_shape is None
    np.save(tmp_path / "one.npy", np.arange(5))
    data = load_dataset(f"npy:{tmp_path / 'one.npy'}")
    assert data.x.shape == (5, 1) and data.image_shape is None


def test_npy_uint8_pixels_are_scaled_to_unit_interval(tmp_path):
    pixels = np.array([[0, 128, 255, 3]], dtype=np.uint8).repeat(3, axis=0)
    np.save(tmp_path / "u8.npy", pixels)
    data = load_dataset(f"npy:{tmp_path / 'u8.npy'}")
    np.testing.assert_allclose(data.x, pixels / 255, rtol=1e-6)
    assert data.value_range == (0.0, 1.0) and data.image_shape == (2, 2)


def test_home_directory_is_expanded_in_paths(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    np.save(tmp_path / "pts.npy", np.zeros((4, 2)))
    assert load_dataset("npy:~/pts.npy").x.shape == (4, 2)


def test_npz_round_trip_with_labels(tmp_path):
    rng = np.random.default_rng(1)
    x, labels = rng.random((15, 3)), rng.integers(0, 4, 15)
    np.savez(tmp_path / "a.npz", x=x, labels=labels)
    data = load_dataset(f"npz:{tmp_path / 'a.npz'}")
    np.testing.assert_allclose(data.x, x, rtol=1e-6)
    np.testing.assert_array_equal(data.labels, labels)
    assert data.labels.dtype == np.int64 and data.name == "a"

    np.savez_compressed(tmp_path / "b.npz", samples=x, y=labels.astype(np.float64))  # the only array, labels as y
    data = load_dataset(f"npz:{tmp_path / 'b.npz'}", n_samples=6, seed=0)
    assert data.x.shape == (6, 3)
    for row, label in zip(data.x, data.labels):
        i = int(np.flatnonzero(np.isclose(x, row).all(axis=1))[0])
        assert labels[i] == label

    np.savez(tmp_path / "c.npz", x.reshape(15, 3))  # saved unnamed: "arr_0"
    assert load_dataset(f"npz:{tmp_path / 'c.npz'}").labels is None


def test_npz_and_npy_errors_name_the_file(tmp_path):
    missing = tmp_path / "missing.npz"
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        load_dataset(f"npz:{missing}")
    with pytest.raises(FileNotFoundError, match="missing.npy"):
        load_dataset(f"npy:{tmp_path / 'missing.npy'}")
    with pytest.raises(ValueError, match="is a directory"):
        load_dataset(f"npy:{tmp_path}")

    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"PK\x03\x04 definitely not a zip archive")
    with pytest.raises(ValueError, match="corrupt.npz is not a readable .npz"):
        load_dataset(f"npz:{corrupt}")
    garbage = tmp_path / "garbage.npy"
    garbage.write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(ValueError, match="garbage.npy is not a readable .npy"):
        load_dataset(f"npy:{garbage}")

    np.save(tmp_path / "strings.npy", np.array([["a", "b"], ["c", "d"]]))
    with pytest.raises(ValueError, match=r"strings.npy: .*must hold numbers.*<U1"):
        load_dataset(f"npy:{tmp_path / 'strings.npy'}")
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="objects.npy"):
        load_dataset(f"npy:{tmp_path / 'objects.npy'}")
    np.save(tmp_path / "empty.npy", np.zeros((0, 4)))
    with pytest.raises(ValueError, match=r"empty.npy: .*empty"):
        load_dataset(f"npy:{tmp_path / 'empty.npy'}")
    np.save(tmp_path / "scalar.npy", np.float64(3.0))
    with pytest.raises(ValueError, match=r"scalar.npy: .*single value"):
        load_dataset(f"npy:{tmp_path / 'scalar.npy'}")
    np.save(tmp_path / "nan.npy", np.array([[0.0, np.nan], [1.0, 2.0]]))
    with pytest.raises(ValueError, match=r"nan.npy: .*1 NaN or infinite"):
        load_dataset(f"npy:{tmp_path / 'nan.npy'}")

    np.savez(tmp_path / "two.npz", a=np.zeros((3, 2)), b=np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"two.npz: cannot tell which array.*'a', 'b'"):
        load_dataset(f"npz:{tmp_path / 'two.npz'}")
    np.savez(tmp_path / "badlabels.npz", x=np.zeros((3, 2)), labels=np.zeros(4))
    with pytest.raises(ValueError, match=r"badlabels.npz: array 'labels' has shape \(4,\); expected \(3,\)"):
        load_dataset(f"npz:{tmp_path / 'badlabels.npz'}")
    np.savez(tmp_path / "fraclabels.npz", x=np.zeros((2, 2)), labels=np.array([0.5, 1.0]))
    with pytest.raises(ValueError, match="fraclabels.npz: array 'labels' must be integers"):
        load_dataset(f"npz:{tmp_path / 'fraclabels.npz'}")
    np.savez(tmp_path / "onlylabels.npz", labels=np.zeros(3))
    with pytest.raises(ValueError, match="onlylabels.npz: cannot tell"):
        load_dataset(f"npz:{tmp_path / 'onlylabels.npz'}")

    np.save(tmp_path / "arr.npy", np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"arr.npy is a .npy file, not a .npz file: load it as 'npy:"):
        load_dataset(f"npz:{tmp_path / 'arr.npy'}")
    with pytest.raises(ValueError, match=r"a.npz is a .npz file, not a .npy file"):
        np.savez(tmp_path / "a.npz", x=np.zeros((3, 2)))
        load_dataset(f"npy:{tmp_path / 'a.npz'}")
    with pytest.raises(ValueError, match="n_samples=4 is more than the 3 samples"):
        load_dataset(f"npy:{tmp_path / 'arr.npy'}", n_samples=4)
