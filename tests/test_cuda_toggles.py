"""The pure-Python side of ``minigan.cuda``, which runs without a GPU: the switches and the
``MINIGAN_KERNELS`` variable, finding the CUDA sources (source checkout and wheel layouts), the
kernel names each wrapper expects being the ones its source defines, the launch tables, the argument
checks, the error every wrapper raises without CuPy, and the layers keeping their NumPy path (and
``Sequential``'s pair fusion doing what it says).
"""

import re
import sys

import numpy as np
import pytest

import minigan
from minigan import BackendError, BackendUnavailableError, DTypeError, ShapeError, backends, cuda
from minigan.cuda import arguments, launch, loader, toggles
from minigan.cuda import batchnorm as cuda_batchnorm
from minigan.cuda import bce_with_logits as cuda_bce
from minigan.cuda import bias_leaky_relu as cuda_bias_leaky_relu
from minigan.cuda import optimizer as cuda_optimizer
from minigan.nn import Dense, LeakyReLU, Module, Sequential
from minigan.nn import functional as F
from tests.test_backends import REPO_ROOT, fake_cupy_module, run_python

SOURCES = [cuda_batchnorm.SOURCE, cuda_bias_leaky_relu.SOURCE, cuda_bce.SOURCE, cuda_optimizer.SOURCE]


@pytest.fixture(autouse=True)
def switches(monkeypatch):
    """Every family on at the start of each test, and whatever the test switches undone after it."""
    monkeypatch.setattr(toggles, "_enabled", dict.fromkeys(toggles.FAMILIES, True))


@pytest.fixture
def no_cupy(monkeypatch):
    """CuPy is not installed: ``import cupy`` raises ImportError."""
    monkeypatch.setattr(backends, "_cupy", None)
    monkeypatch.setitem(sys.modules, "cupy", None)


@pytest.fixture
def fake_cupy(monkeypatch):
    """A loaded 'cupy' whose ndarray is a plain class: enough to ask use_kernel about its arrays."""
    module = fake_cupy_module(lambda: 1)
    monkeypatch.setattr(backends, "_cupy", module)
    return module


# ------------------------------------------------------------------------------------ switches


def test_every_family_is_on_by_default():
    assert all(cuda.kernels_enabled(name) for name in cuda.FAMILIES)
    assert cuda.kernels_enabled("all")


def test_switching_one_family_off_leaves_the_others_on():
    cuda.set_kernels_enabled("batchnorm", False)
    assert not cuda.kernels_enabled("batchnorm")
    assert not cuda.kernels_enabled("all")
    assert all(cuda.kernels_enabled(name) for name in cuda.FAMILIES if name != "batchnorm")
    cuda.set_kernels_enabled("batchnorm", True)
    assert cuda.kernels_enabled("all")


def test_all_switches_every_family():
    cuda.set_kernels_enabled("all", False)
    assert not any(cuda.kernels_enabled(name) for name in cuda.FAMILIES)


@pytest.mark.parametrize("call", [lambda: cuda.kernels_enabled("batch_norm"),
                                  lambda: cuda.set_kernels_enabled("adam", False),
                                  lambda: cuda.kernels_disabled("bce").__enter__()],
                         ids=["kernels_enabled", "set_kernels_enabled", "kernels_disabled"])
def test_unknown_family_name_is_an_error_listing_the_families(call):
    with pytest.raises(ValueError, match="unknown kernel family") as error:
        call()
    assert all(name in str(error.value) for name in cuda.FAMILIES)


def test_kernels_disabled_switches_the_named_families_off_for_the_block_only():
    cuda.set_kernels_enabled("optimizer", False)
    with cuda.kernels_disabled("batchnorm", "bce_with_logits"):
        assert not cuda.kernels_enabled("batchnorm") and not cuda.kernels_enabled("bce_with_logits")
        assert cuda.kernels_enabled("bias_leaky_relu")
    assert cuda.kernels_enabled("batchnorm") and cuda.kernels_enabled("bce_with_logits")
    assert not cuda.kernels_enabled("optimizer")  # its earlier setting is kept, not switched on


def test_kernels_disabled_leaves_alone_the_families_it_does_not_name():
    with cuda.kernels_disabled("batchnorm"):
        cuda.set_kernels_enabled("optimizer", False)
    assert cuda.kernels_enabled("batchnorm") and not cuda.kernels_enabled("optimizer")


def test_kernels_disabled_without_names_switches_everything_off_and_restores_after_an_error():
    with pytest.raises(RuntimeError, match="inside"):
        with cuda.kernels_disabled():
            assert not any(cuda.kernels_enabled(name) for name in cuda.FAMILIES)
            raise RuntimeError("inside")
    assert cuda.kernels_enabled("all")


@pytest.mark.parametrize("text, disabled", [
    ("", set()), ("1", set()), ("  ", set()), ("0", set(toggles.FAMILIES)),
    ("batchnorm", {"batchnorm"}), (" BatchNorm , optimizer ,", {"batchnorm", "optimizer"}),
])
def test_minigan_kernels_setting_names_the_families_switched_off(text, disabled):
    assert toggles.disabled_by_setting(text) == disabled


@pytest.mark.parametrize("text", ["batchnorm,adam", "yes", "2"])
def test_minigan_kernels_setting_with_an_unknown_name_says_what_is_allowed(text):
    with pytest.raises(ValueError, match="MINIGAN_KERNELS=.*unknown kernel famil.*comma-separated"):
        toggles.disabled_by_setting(text)


def test_minigan_kernels_environment_variable_is_read_at_import():
    code = ("import minigan.cuda as c; "
            "print(','.join(name for name in c.FAMILIES if not c.kernels_enabled(name)))")
    result = run_python(code, MINIGAN_KERNELS="bias_leaky_relu,optimizer")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "bias_leaky_relu,optimizer"


def test_bogus_minigan_kernels_environment_variable_fails_import_clearly():
    result = run_python("import minigan.nn", MINIGAN_KERNELS="fast")
    assert result.returncode != 0
    assert "MINIGAN_KERNELS='fast'" in result.stderr and "batchnorm" in result.stderr


def test_use_kernel_is_false_for_numpy_arrays_even_when_on():
    assert not cuda.use_kernel("batchnorm", np.zeros((2, 2)))


def test_use_kernel_follows_the_switch_for_cupy_arrays(fake_cupy):
    array = fake_cupy.ndarray()
    assert cuda.use_kernel("batchnorm", array)
    with cuda.kernels_disabled("batchnorm"):
        assert not cuda.use_kernel("batchnorm", array)
        assert cuda.use_kernel("optimizer", array)


def test_importing_minigan_its_layers_and_its_kernels_does_not_import_cupy():
    result = run_python("import sys, minigan, minigan.nn, minigan.cuda, minigan.optim; print('cupy' in sys.modules)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


# ------------------------------------------------------------------------------------- sources


def test_sources_are_found_in_the_source_checkout():
    assert cuda.source_directory() == REPO_ROOT / "kernels"


def wheel_layout(root):
    """A fake installed package: site/minigan/kernels/ holding common.cuh."""
    kernels = root / "site" / "minigan" / "kernels"
    kernels.mkdir(parents=True)
    (kernels / "common.cuh").write_text("// wheel\n")
    return root / "site" / "minigan"


def test_sources_are_found_inside_an_installed_wheel(tmp_path):
    package = wheel_layout(tmp_path)
    assert loader.source_directory(package) == package / "kernels"


def test_the_wheel_location_wins_over_a_kernels_directory_beside_the_package(tmp_path):
    package = wheel_layout(tmp_path)
    (package.parent / "kernels").mkdir()
    (package.parent / "kernels" / "common.cuh").write_text("// checkout\n")
    assert loader.source_directory(package) == package / "kernels"


def test_missing_sources_name_both_places_looked_in(tmp_path):
    package = tmp_path / "minigan"
    package.mkdir()
    with pytest.raises(FileNotFoundError, match="MINIGAN_KERNELS=0") as error:
        loader.source_directory(package)
    assert str(package / "kernels") in str(error.value) and str(tmp_path / "kernels") in str(error.value)


def test_source_text_is_the_common_header_then_the_source_with_line_marks():
    text = loader.source_text("batchnorm.cu")
    header = (REPO_ROOT / "kernels" / "common.cuh").read_text()
    source = (REPO_ROOT / "kernels" / "batchnorm.cu").read_text()
    assert text == f'#line 1 "common.cuh"\n{header}\n#line 1 "batchnorm.cu"\n{source}'


def test_a_missing_source_file_is_named(tmp_path):
    (tmp_path / "common.cuh").write_text("")
    with pytest.raises(FileNotFoundError, match="absent.cu"):
        loader.source_text("absent.cu", tmp_path)


def templates_defined_in(filename):
    text = (REPO_ROOT / "kernels" / filename).read_text()
    return set(re.findall(r"template <typename T>\s*__global__ void (\w+)\(", text))


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.filename)
def test_each_wrapper_names_exactly_the_kernels_its_source_defines(source):
    assert set(source.kernels) == templates_defined_in(source.filename)


def test_every_source_in_kernels_has_a_wrapper():
    on_disk = {path.name for path in (REPO_ROOT / "kernels").glob("*.cu")}
    assert on_disk == {source.filename for source in SOURCES}


def test_asking_for_an_undefined_kernel_names_the_ones_there():
    with pytest.raises(ValueError, match="batchnorm_forward_train"):
        cuda_batchnorm.SOURCE.function("batchnorm_sideways", "float32")


# -------------------------------------------------------------------------------- without CuPy

ZEROS = np.zeros((4, 3))
WRAPPER_CALLS = {
    "batchnorm_forward": lambda: cuda.batchnorm_forward(ZEROS, None, None, None, None),
    "batchnorm_backward": lambda: cuda.batchnorm_backward(ZEROS, ZEROS, None, ZEROS[0], ZEROS[0]),
    "batchnorm_forward_eval": lambda: cuda.batchnorm_forward_eval(ZEROS, None, None, ZEROS[0], ZEROS[0]),
    "bias_leaky_relu_forward": lambda: cuda.bias_leaky_relu_forward(ZEROS, ZEROS[0]),
    "bias_leaky_relu_backward": lambda: cuda.bias_leaky_relu_backward(ZEROS, ZEROS > 0),
    "bce_with_logits_forward": lambda: cuda.bce_with_logits_forward(ZEROS, 1.0),
    "bce_with_logits_backward": lambda: cuda.bce_with_logits_backward(np.ones(()), ZEROS, 1.0),
    "adam_step": lambda: cuda.adam_step([ZEROS], [ZEROS], [ZEROS], [ZEROS], 1, 1e-3, 0.9, 0.999, 1e-8),
    "sgd_step": lambda: cuda.sgd_step([ZEROS], [ZEROS], None, 0.1),
    "KernelSource.function": lambda: loader.KernelSource("optimizer.cu", ["sgd_multi_tensor"]).function(
        "sgd_multi_tensor", "float32"),  # a fresh source: one compiled earlier in the process is kept
}


@pytest.mark.parametrize("name", WRAPPER_CALLS)
def test_every_wrapper_without_cupy_says_how_to_get_it(no_cupy, name):
    with pytest.raises(BackendUnavailableError, match=r"needs CuPy.*pip install minigan\[gpu\]"):
        WRAPPER_CALLS[name]()


def test_a_wrapper_given_numpy_arrays_points_to_the_reference(fake_cupy):
    with pytest.raises(BackendError, match=r"bias_leaky_relu_forward: h is a numpy.ndarray.*"
                                           r"minigan.cuda.reference.bias_leaky_relu_forward"):
        cuda.bias_leaky_relu_forward(ZEROS, ZEROS[0])


# ------------------------------------------------------------------------------ argument checks


def test_common_dtype_names_every_array_and_its_dtype_when_they_differ():
    with pytest.raises(DTypeError, match="adam_step: .*params float32, grads float64"):
        arguments.common_dtype("adam_step", params=np.zeros(2, np.float32), grads=np.zeros(2))


def test_common_dtype_refuses_non_float_arrays():
    with pytest.raises(DTypeError, match="float32 or float64"):
        arguments.common_dtype("op", x=np.zeros(2, np.int64))


def test_common_dtype_skips_absent_arrays():
    assert arguments.common_dtype("op", x=np.zeros(2, np.float32), gamma=None) == np.float32


def test_shape_check_names_the_argument_and_both_shapes():
    with pytest.raises(ShapeError, match=r"op: bias has shape \(4,\), expected \(3,\) for h"):
        arguments.shaped("op", "bias", np.zeros(4), (3,), " for h")


def test_arrays_written_in_place_must_be_contiguous():
    with pytest.raises(ShapeError, match="running_mean .* must be C-contiguous"):
        arguments.writable("op", "running_mean", np.zeros((4, 2))[:, 0])
    arguments.writable("op", "running_mean", np.zeros(4))


def test_optional_arrays_come_in_pairs():
    with pytest.raises(ShapeError, match="give both gamma and beta, or neither"):
        arguments.paired("op", np.ones(3), None, ("gamma", "beta"))


# -------------------------------------------------------------------------------- launch tables


@pytest.mark.parametrize("sizes", [[1], [4096], [4097, 3, 0, 10000], [0, 0]])
def test_optimizer_block_table_covers_every_element_once(sizes):
    tensor, first = cuda_optimizer.block_table(sizes, chunk=4096)
    covered = [np.zeros(size, dtype=int) for size in sizes]
    for k, start in zip(tensor, first):
        covered[k][start:start + 4096] += 1
    assert all((c == 1).all() for c in covered)


@pytest.mark.parametrize("n", [1, 2, 8, 9, 64, 257, 100000])
def test_feature_tile_rows_are_a_power_of_two_giving_each_thread_few_rows(n):
    rows = launch.tile_rows(n)
    assert rows & (rows - 1) == 0 and 1 <= rows <= launch.MAX_TILE_ROWS
    assert rows * launch.ROWS_PER_THREAD >= n or rows == launch.MAX_TILE_ROWS


@pytest.mark.parametrize("c", [1, 31, 32, 33, 500])
def test_feature_tiles_cover_every_feature_with_room_for_the_sums(c):
    (grid,), (width, rows), shared = launch.feature_tiles(64, c, 8)
    assert grid * width >= c > (grid - 1) * width
    assert shared == width * rows * 8


def test_elementwise_grid_caps_the_number_of_blocks():
    assert launch.elementwise(1) == ((1,), (256,))
    assert launch.elementwise(257) == ((2,), (256,))
    assert launch.elementwise(10**9)[0] == (launch.MAX_ELEMENTWISE_GRID,)


# ------------------------------------------------------------------------ layers on the NumPy path


def test_dense_declines_to_fuse_on_numpy():
    assert Dense(3, 4).forward_pair(LeakyReLU(), minigan.tensor(np.ones((2, 3)))) is None


def test_sequential_of_dense_and_leaky_relu_on_numpy_records_the_two_ops():
    minigan.random.seed(0)
    net = Sequential(Dense(3, 4), LeakyReLU(0.1))
    x = minigan.tensor(np.ones((2, 3)), requires_grad=True)
    out = net(x)
    assert out.op == "leaky_relu" and out.parents[0].op == "linear"
    np.testing.assert_array_equal(out.numpy(), F.leaky_relu(F.linear(x, net[0].weight, net[0].bias), 0.1).numpy())


def test_linear_leaky_relu_on_numpy_is_exactly_leaky_relu_of_linear(rng):
    x, w, b = (minigan.tensor(rng.normal(size=s), requires_grad=True) for s in [(5, 3), (3, 4), (4,)])
    fused = F.linear_leaky_relu(x, w, b, 0.3)
    assert fused.op == "leaky_relu"
    np.testing.assert_array_equal(fused.numpy(), F.leaky_relu(F.linear(x, w, b), 0.3).numpy())


def test_bias_leaky_relu_on_numpy_is_leaky_relu_of_the_sum(rng):
    h, b = minigan.tensor(rng.normal(size=(5, 4))), minigan.tensor(rng.normal(size=4))
    np.testing.assert_array_equal(F.bias_leaky_relu(h, b, 0.2).numpy(), F.leaky_relu(h + b, 0.2).numpy())


class Doubler(Module):
    """Doubles; fused with a following Doubler it quadruples in one step, and counts the fusions."""

    def __init__(self):
        super().__init__()
        self.calls = 0
        self.fusions = 0

    def forward(self, x):
        self.calls += 1
        return x * 2

    def forward_pair(self, following, x):
        if not isinstance(following, Doubler):
            return None
        self.fusions += 1
        return x * 4


def test_sequential_runs_a_fusing_pair_as_one_step_and_the_rest_one_by_one():
    first, second, third = Doubler(), Doubler(), Doubler()
    out = Sequential(first, second, third, LeakyReLU())(minigan.tensor([1.0]))
    assert out.item() == 8.0
    assert (first.fusions, first.calls, second.calls) == (1, 0, 0)  # the pair ran as one step
    assert (third.fusions, third.calls) == (0, 1)                   # LeakyReLU does not fuse: two calls
