"""Specification of the tensor factories: zeros, ones, full, arange, rand, randn and the ``*_like`` ones.

Each makes a new leaf on the current backend (the ``*_like`` ones: on their tensor's), in the default
dtype (their tensor's) unless ``dtype=`` says otherwise, needing no gradient unless asked. Random
draws come from :mod:`minigan.random`'s seeded generator, so a seed gives the same numbers on every
backend. Sizes are taken as PyTorch takes them, and bad ones are refused with the op's name.
"""

import numpy as np
import pytest

import minigan
from tests.conftest import to_numpy

F32 = np.dtype(np.float32)
F64 = np.dtype(np.float64)

SHAPED = {  # name: (factory called with a size, the NumPy array it should hold for shape (2, 3))
    "zeros": (lambda *size, **kw: minigan.zeros(*size, **kw), np.zeros((2, 3))),
    "ones": (lambda *size, **kw: minigan.ones(*size, **kw), np.ones((2, 3))),
    "full": (lambda *size, **kw: minigan.full(size[0] if len(size) == 1 else size, 2.5, **kw), np.full((2, 3), 2.5)),
}
RANDOM = {
    "rand": (minigan.rand, lambda generator, shape: generator.random(shape)),
    "randn": (minigan.randn, lambda generator, shape: generator.standard_normal(shape)),
}
LIKE = {  # name: (factory, the NumPy array it should hold like a, or None for random draws)
    "zeros_like": (minigan.zeros_like, np.zeros_like),
    "ones_like": (minigan.ones_like, np.ones_like),
    "full_like": (lambda a, **kw: minigan.full_like(a, -1.5, **kw), lambda a: np.full_like(a, -1.5)),
    "rand_like": (minigan.rand_like, None),
    "randn_like": (minigan.randn_like, None),
}


@pytest.fixture
def default_float64():
    previous = minigan.get_default_dtype()
    minigan.set_default_dtype("float64")
    yield
    minigan.set_default_dtype(previous)


# ------------------------------------------------------------------------------ zeros, ones, full
@pytest.mark.parametrize("name", list(SHAPED))
def test_shaped_factory_holds_its_value(backend_name, name):
    factory, expected = SHAPED[name]
    t = factory((2, 3))
    assert t.backend == backend_name
    np.testing.assert_array_equal(to_numpy(t.data), expected)


@pytest.mark.parametrize("name", ["zeros", "ones"])
def test_size_may_be_ints_a_tuple_or_a_list(backend_name, name):
    factory = getattr(minigan, name)
    assert factory(2, 3).shape == factory((2, 3)).shape == factory([2, 3]).shape == (2, 3)


@pytest.mark.parametrize("name", ["zeros", "ones", "rand", "randn"])
def test_no_size_gives_a_0d_tensor(backend_name, name):
    assert getattr(minigan, name)().shape == ()


def test_a_zero_size_gives_an_empty_tensor(backend_name):
    assert minigan.zeros(0, 4).shape == (0, 4)


def test_numpy_integers_are_sizes(backend_name):
    assert minigan.ones(np.int64(2), np.int32(3)).shape == (2, 3)


def test_full_takes_an_int_size(backend_name):
    np.testing.assert_array_equal(to_numpy(minigan.full(4, 7).data), np.full(4, 7.0))


@pytest.mark.parametrize("name", list(SHAPED) + list(RANDOM))
def test_factory_uses_the_default_dtype(backend_name, name):
    factory = SHAPED[name][0] if name in SHAPED else RANDOM[name][0]
    assert factory((2, 3)).dtype == minigan.get_default_dtype() == F32


@pytest.mark.parametrize("name", list(SHAPED) + list(RANDOM))
def test_factory_follows_a_changed_default_dtype(backend_name, default_float64, name):
    factory = SHAPED[name][0] if name in SHAPED else RANDOM[name][0]
    assert factory((2, 3)).dtype == F64


@pytest.mark.parametrize("dtype", ["float32", "float64", np.float64, minigan.float32])
@pytest.mark.parametrize("name", list(SHAPED) + list(RANDOM))
def test_factory_takes_a_dtype(backend_name, name, dtype):
    factory = SHAPED[name][0] if name in SHAPED else RANDOM[name][0]
    assert factory((2, 3), dtype=dtype).dtype == np.dtype(dtype)


@pytest.mark.parametrize("name", list(SHAPED) + list(RANDOM))
def test_factory_makes_a_leaf_needing_no_gradient_unless_asked(backend_name, name):
    factory = SHAPED[name][0] if name in SHAPED else RANDOM[name][0]
    plain, wanted = factory((2,)), factory((2,), requires_grad=True)
    assert plain.is_leaf and not plain.requires_grad
    assert wanted.is_leaf and wanted.requires_grad


def test_a_factory_leaf_gets_a_gradient(backend_name):
    x = minigan.randn(4, dtype="float64", requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_allclose(to_numpy(x.grad), 2 * to_numpy(x.data), rtol=1e-15)


# -------------------------------------------------------------------------------------- arange
@pytest.mark.parametrize("args, expected", [
    pytest.param((5,), [0.0, 1.0, 2.0, 3.0, 4.0], id="end-only"),
    pytest.param((2, 5), [2.0, 3.0, 4.0], id="start-end"),
    pytest.param((0, 1, 0.25), [0.0, 0.25, 0.5, 0.75], id="float-step"),
    pytest.param((1, 2.1, 0.5), [1.0, 1.5, 2.0], id="end-between-steps"),
    pytest.param((3, -1, -1.5), [3.0, 1.5, 0.0], id="negative-step"),
    pytest.param((2, 2), [], id="empty"),
])
def test_arange_has_pytorch_values(backend_name, args, expected):
    t = minigan.arange(*args, dtype="float64")
    assert t.backend == backend_name
    assert t.shape == (len(expected),)
    np.testing.assert_array_equal(to_numpy(t.data), expected)


def test_arange_uses_the_default_dtype_even_for_integers(backend_name):
    assert minigan.arange(3).dtype == F32


def test_arange_makes_a_leaf_needing_no_gradient_unless_asked(backend_name):
    assert not minigan.arange(3).requires_grad
    assert minigan.arange(3, requires_grad=True).requires_grad


@pytest.mark.torch
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("args", [(7,), (-3, 4), (0, 1, 0.1), (0.5, 3.3, 0.7), (10, -2.5, -0.3), (1e-3, 2e-3, 1e-4)])
def test_arange_matches_torch(backend_name, args, dtype):
    """Same length and values to the last bits: torch's vectorised kernel adds the steps in another order."""
    torch = pytest.importorskip("torch")
    ours = minigan.arange(*args, dtype=dtype)
    theirs = torch.arange(*args, dtype=getattr(torch, dtype)).numpy()
    assert ours.shape == theirs.shape
    tolerance = 1e-13 if dtype == "float64" else 1e-6
    np.testing.assert_allclose(to_numpy(ours.data), theirs, rtol=tolerance, atol=tolerance * np.abs(theirs).max())


def test_arange_refuses_a_zero_step(backend_name):
    with pytest.raises(ValueError, match="arange: step must be nonzero"):
        minigan.arange(0, 3, 0)


@pytest.mark.parametrize("args", [(5, 0), (0, 5, -1)])
def test_arange_refuses_a_step_pointing_away_from_end(backend_name, args):
    with pytest.raises(ValueError, match="arange: a step of .* never reaches end"):
        minigan.arange(*args)


@pytest.mark.parametrize("args", [("3",), (None,), (0, 3, [1]), (0, 1j)])
def test_arange_refuses_non_numbers(backend_name, args):
    with pytest.raises(TypeError, match="arange: .* must be a real number"):
        minigan.arange(*args)


def test_arange_refuses_infinite_bounds(backend_name):
    with pytest.raises(ValueError, match="arange: end must be finite"):
        minigan.arange(0, float("inf"))


# ----------------------------------------------------------------------------------- rand, randn
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", list(RANDOM))
def test_random_factory_draws_from_minigans_seeded_generator(backend_name, name, dtype):
    factory, draw = RANDOM[name]
    minigan.random.seed(123)
    t = factory(3, 4, dtype=dtype)
    assert t.backend == backend_name
    expected = draw(np.random.default_rng(123), (3, 4)).astype(dtype)
    np.testing.assert_array_equal(to_numpy(t.data), expected)


def test_randn_draws_what_minigan_random_randn_draws(backend_name):
    minigan.random.seed(7)
    ours = minigan.randn((2, 5), dtype="float64")
    minigan.random.seed(7)
    np.testing.assert_array_equal(to_numpy(ours.data), minigan.random.randn(2, 5, dtype="float64").numpy())


def test_rand_draws_in_the_unit_interval(backend_name):
    values = to_numpy(minigan.rand(1000, dtype="float64").data)
    assert values.min() >= 0.0 and values.max() < 1.0


def test_successive_draws_differ(backend_name):
    assert not np.array_equal(minigan.randn(5).numpy(), minigan.randn(5).numpy())


# --------------------------------------------------------------------------------------- *_like
@pytest.mark.parametrize("name", list(LIKE))
def test_like_factory_copies_shape_dtype_and_backend(backend_name, name):
    a = minigan.tensor(np.arange(6.0).reshape(2, 3), dtype="float64")
    t = LIKE[name][0](a)
    assert (t.shape, t.dtype, t.backend) == ((2, 3), F64, backend_name)
    assert t.is_leaf and not t.requires_grad


@pytest.mark.parametrize("name", [n for n in LIKE if LIKE[n][1] is not None])
def test_like_factory_holds_its_value(backend_name, name):
    a = minigan.tensor(np.arange(6.0).reshape(2, 3), dtype="float64")
    factory, expected = LIKE[name]
    np.testing.assert_array_equal(to_numpy(factory(a).data), expected(a.numpy()))


@pytest.mark.parametrize("name", list(LIKE))
def test_like_factory_takes_a_dtype_and_requires_grad(backend_name, name):
    t = LIKE[name][0](minigan.zeros(4, dtype="float64"), dtype="float32", requires_grad=True)
    assert t.dtype == F32 and t.requires_grad


@pytest.mark.parametrize("name", ["rand_like", "randn_like"])
def test_random_like_draws_from_minigans_seeded_generator(backend_name, name):
    a = minigan.zeros(2, 3, dtype="float64")
    minigan.random.seed(5)
    t = LIKE[name][0](a)
    generator = np.random.default_rng(5)
    expected = generator.random((2, 3)) if name == "rand_like" else generator.standard_normal((2, 3))
    np.testing.assert_array_equal(to_numpy(t.data), expected)


@pytest.mark.parametrize("name", list(LIKE))
def test_like_factory_refuses_a_non_tensor(backend_name, name):
    with pytest.raises(TypeError, match=f"{name}: expected a minigan Tensor .* got ndarray"):
        LIKE[name][0](np.zeros(3))


# --------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("name", ["zeros", "ones", "rand", "randn"])
def test_negative_size_is_a_shape_error(backend_name, name):
    with pytest.raises(minigan.ShapeError, match=f"{name}: sizes must be non-negative, got -1"):
        getattr(minigan, name)(2, -1)


@pytest.mark.parametrize("size", [(2.0,), ((2, 1.5),), ("3",), (True,), ((None,),)])
@pytest.mark.parametrize("name", ["zeros", "ones", "rand", "randn"])
def test_non_integer_size_is_a_type_error(backend_name, name, size):
    with pytest.raises(TypeError, match=f"{name}: sizes must be integers"):
        getattr(minigan, name)(*size)


def test_full_refuses_a_negative_size(backend_name):
    with pytest.raises(minigan.ShapeError, match="full: sizes must be non-negative"):
        minigan.full((3, -2), 1.0)


@pytest.mark.parametrize("fill", ["1", None, 1j, minigan.tensor([1.0])])
def test_full_refuses_a_fill_value_that_is_not_a_real_number(backend_name, fill):
    with pytest.raises(TypeError, match="full: fill_value must be a real number"):
        minigan.full((2,), fill)
    with pytest.raises(TypeError, match="full_like: fill_value must be a real number"):
        minigan.full_like(minigan.zeros(2), fill)


@pytest.mark.parametrize("dtype", ["int32", "float16", "complex128"])
@pytest.mark.parametrize("name", ["zeros", "ones", "rand", "randn", "arange"])
def test_non_float_dtype_is_a_dtype_error_naming_the_factory(backend_name, name, dtype):
    with pytest.raises(minigan.DTypeError, match=f"{name}: dtype .* is not supported; expected float32 or float64"):
        getattr(minigan, name)(3, dtype=dtype)


def test_refused_dtype_draws_no_random_numbers(backend_name):
    minigan.random.seed(11)
    with pytest.raises(minigan.DTypeError):
        minigan.randn(3, dtype="int64")
    np.testing.assert_array_equal(minigan.randn(3, dtype="float64").numpy(),
                                  np.random.default_rng(11).standard_normal(3))
