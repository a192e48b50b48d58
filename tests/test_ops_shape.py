"""Specification of the shape and indexing ops: squeeze, unsqueeze, flatten, expand, split, chunk, pad,
flip, tile, repeat, repeat_interleave, gather.

Every op in ``OPS`` is checked the same ways: its value equals a NumPy reference; ``gradcheck`` and
``gradgradcheck`` pass; its third derivative matches a closed form built from the NumPy reference
alone (the ops are linear, so for L = Σ w · op(x)³ it is 6 Σ w · op(u) · op(v) · op(z), with op's
constant part, pad's value, taken out); and PyTorch
gives the same value, gradient and Hessian-vector product. Op-specific behaviour and every error
message follow.
"""

import numpy as np
import pytest

import minigan
from minigan import DTypeError, ShapeError
from minigan.nn import functional as F
from tests.conftest import to_numpy


def leaf(array, requires_grad=True):
    return minigan.tensor(np.asarray(array, dtype=np.float64), requires_grad=requires_grad, dtype="float64")


def value(t):
    return to_numpy(t.data)


def weighted_concatenation(pieces, axis, cat):
    """The pieces of a split joined back, piece i times i + 1: one output that tells the pieces apart."""
    return cat([p * float(i + 1) for i, p in enumerate(pieces)], axis)


def np_pad(a, pad, mode="constant", value=0.0):
    """torch.nn.functional.pad in NumPy: reflect and replicate pad the whole axis and then crop (they
    index positions of the uncropped axis); constant and circular crop first and then pad."""
    pairs = [(0, 0)] * (a.ndim - len(pad) // 2) + [(pad[i], pad[i + 1]) for i in range(len(pad) - 2, -1, -2)]
    positive = [(max(left, 0), max(right, 0)) for left, right in pairs]
    crop = tuple(slice(max(-left, 0), n - max(-right, 0)) for n, (left, right) in zip(a.shape, pairs))
    if mode in ("reflect", "replicate"):
        padded = np.pad(a, positive, mode={"reflect": "reflect", "replicate": "edge"}[mode])
        crop = tuple(slice(max(-left, 0), m - max(-right, 0)) for m, (left, right) in zip(padded.shape, pairs))
        return padded[crop]
    if mode == "circular":
        return np.pad(a[crop], positive, mode="wrap")
    return np.pad(a[crop], positive, constant_values=value)


def np_gather(a, axis, index):
    out = np.empty(index.shape)
    for position in np.ndindex(*index.shape):
        source = list(position)
        source[axis] = index[position]
        out[position] = a[tuple(source)]
    return out


INDEX_1 = np.array([[0, 3, 3, 1, 0], [2, 2, 0, 1, 3], [1, 0, 0, 0, 2]])  # gather along axis 1 of (3, 4), repeats
INDEX_0 = np.array([[2, 0, 2], [1, 1, 0]])  # gather along axis 0 of (3, 4): smaller on axis 1

# (id, ours, PyTorch's (given the torch module), NumPy reference, input shape)
OPS = [
    ("squeeze all", lambda x: minigan.squeeze(x), lambda T, x: x.squeeze(), np.squeeze, (2, 1, 3, 1)),
    ("squeeze axes (0, 2)", lambda x: minigan.squeeze(x, (0, 2)), lambda T, x: x.squeeze((0, 2)),
     lambda a: np.squeeze(a, (0, 2)), (1, 3, 1, 2)),
    ("squeeze an axis of size 3", lambda x: minigan.squeeze(x, 1), lambda T, x: x.squeeze(1),
     lambda a: a, (2, 3)),
    ("unsqueeze -1", lambda x: minigan.unsqueeze(x, -1), lambda T, x: x.unsqueeze(-1),
     lambda a: a[..., None], (2, 3)),
    ("unsqueeze 1", lambda x: minigan.unsqueeze(x, 1), lambda T, x: x.unsqueeze(1), lambda a: a[:, None], (2, 3)),
    ("flatten", lambda x: minigan.flatten(x), lambda T, x: T.flatten(x), lambda a: a.reshape(-1), (2, 3, 4)),
    ("flatten 1 to 2", lambda x: minigan.flatten(x, 1, 2), lambda T, x: T.flatten(x, 1, 2),
     lambda a: a.reshape(2, 12, 5), (2, 3, 4, 5)),
    ("expand", lambda x: minigan.expand(x, 2, -1, 4), lambda T, x: x.expand(2, -1, 4),
     lambda a: np.broadcast_to(a, (2, 3, 4)), (3, 1)),
    ("split into 2s", lambda x: weighted_concatenation(minigan.split(x, 2), 0, minigan.concatenate),
     lambda T, x: weighted_concatenation(T.split(x, 2), 0, T.cat),
     lambda a: weighted_concatenation(np.split(a, [2, 4]), 0, np.concatenate), (5, 3)),
    ("split into sections", lambda x: weighted_concatenation(minigan.split(x, [1, 3, 2], 1), 1, minigan.concatenate),
     lambda T, x: weighted_concatenation(T.split(x, [1, 3, 2], 1), 1, T.cat),
     lambda a: weighted_concatenation(np.split(a, [1, 4], 1), 1, np.concatenate), (3, 6)),
    ("chunk", lambda x: weighted_concatenation(minigan.chunk(x, 3), 0, minigan.concatenate),
     lambda T, x: weighted_concatenation(T.chunk(x, 3), 0, T.cat),
     lambda a: weighted_concatenation(np.split(a, [3, 6]), 0, np.concatenate), (7, 2)),
    ("pad constant", lambda x: minigan.pad(x, (1, 2, -1, 1), value=0.5),
     lambda T, x: T.nn.functional.pad(x, (1, 2, -1, 1), value=0.5),
     lambda a: np_pad(a, (1, 2, -1, 1), value=0.5), (2, 3, 4)),
    ("pad reflect", lambda x: minigan.pad(x, (2, 1, 1, 3), "reflect"),
     lambda T, x: T.nn.functional.pad(x, (2, 1, 1, 3), "reflect"),
     lambda a: np_pad(a, (2, 1, 1, 3), "reflect"), (1, 2, 4, 5)),
    ("pad reflect cropping", lambda x: minigan.pad(x, (-1, 3), "reflect"),
     lambda T, x: T.nn.functional.pad(x, (-1, 3), "reflect"), lambda a: np_pad(a, (-1, 3), "reflect"), (1, 2, 4)),
    ("pad replicate", lambda x: minigan.pad(x, (3, -1, 1, 2), "replicate"),
     lambda T, x: T.nn.functional.pad(x, (3, -1, 1, 2), "replicate"),
     lambda a: np_pad(a, (3, -1, 1, 2), "replicate"), (1, 2, 3, 4)),
    ("pad circular", lambda x: minigan.pad(x, (2, -1, 1, 2), "circular"),
     lambda T, x: T.nn.functional.pad(x, (2, -1, 1, 2), "circular"),
     lambda a: np_pad(a, (2, -1, 1, 2), "circular"), (1, 2, 3, 4)),
    ("pad circular 3 axes", lambda x: minigan.pad(x, (1, 1, 2, 0, 0, 1), "circular"),
     lambda T, x: T.nn.functional.pad(x, (1, 1, 2, 0, 0, 1), "circular"),
     lambda a: np_pad(a, (1, 1, 2, 0, 0, 1), "circular"), (1, 1, 2, 3, 2)),
    ("flip axis 0", lambda x: minigan.flip(x, 0), lambda T, x: T.flip(x, (0,)), lambda a: np.flip(a, 0), (3, 4)),
    ("flip axes (0, 2)", lambda x: minigan.flip(x, (0, 2)), lambda T, x: T.flip(x, (0, 2)),
     lambda a: np.flip(a, (0, 2)), (2, 3, 4)),
    ("flip all", lambda x: minigan.flip(x), lambda T, x: T.flip(x, (0, 1)), np.flip, (3, 4)),
    ("tile fewer reps", lambda x: minigan.tile(x, (2,)), lambda T, x: T.tile(x, (2,)),
     lambda a: np.tile(a, (2,)), (2, 3)),
    ("tile more reps", lambda x: minigan.tile(x, (2, 1, 3)), lambda T, x: T.tile(x, (2, 1, 3)),
     lambda a: np.tile(a, (2, 1, 3)), (2, 3)),
    ("repeat", lambda x: minigan.repeat(x, 2, 1, 3), lambda T, x: x.repeat(2, 1, 3),
     lambda a: np.tile(a, (2, 1, 3)), (2, 3)),
    ("repeat_interleave int", lambda x: minigan.repeat_interleave(x, 2, axis=1),
     lambda T, x: T.repeat_interleave(x, 2, dim=1), lambda a: np.repeat(a, 2, axis=1), (2, 3)),
    ("repeat_interleave counts", lambda x: minigan.repeat_interleave(x, [1, 0, 3], axis=0),
     lambda T, x: T.repeat_interleave(x, T.tensor([1, 0, 3]), dim=0),
     lambda a: np.repeat(a, [1, 0, 3], axis=0), (3, 2)),
    ("repeat_interleave flat", lambda x: minigan.repeat_interleave(x, 2), lambda T, x: T.repeat_interleave(x, 2),
     lambda a: np.repeat(a, 2), (2, 3)),
    ("gather axis 1", lambda x: minigan.gather(x, 1, INDEX_1), lambda T, x: T.gather(x, 1, T.tensor(INDEX_1)),
     lambda a: np_gather(a, 1, INDEX_1), (3, 4)),
    ("gather axis 0", lambda x: minigan.gather(x, 0, INDEX_0), lambda T, x: T.gather(x, 0, T.tensor(INDEX_0)),
     lambda a: np_gather(a, 0, INDEX_0), (3, 4)),
]
OP_IDS = [op[0] for op in OPS]
# CuPy's scatter-add (the backward of indexing) adds with atomics, in no fixed order: two backward passes
# may differ in the last bit.
NONDET_TOL = 1e-12


def draw(seed, shape):
    return np.random.default_rng(seed).standard_normal(shape)


# -------------------------------------------------------------------- every op, the same four ways
@pytest.mark.parametrize("name, ours, theirs, reference, shape", OPS, ids=OP_IDS)
def test_forward_equals_numpy(backend_name, name, ours, theirs, reference, shape):
    a = draw(0, shape)
    out = ours(leaf(a))
    expected = reference(a)
    assert out.shape == expected.shape
    np.testing.assert_array_equal(value(out), expected)


@pytest.mark.parametrize("name, ours, theirs, reference, shape", OPS, ids=OP_IDS)
def test_gradcheck(backend_name, name, ours, theirs, reference, shape):
    assert minigan.gradcheck(ours, [leaf(draw(1, shape))], nondet_tol=NONDET_TOL)


@pytest.mark.parametrize("name, ours, theirs, reference, shape", OPS, ids=OP_IDS)
def test_gradgradcheck(backend_name, name, ours, theirs, reference, shape):
    assert minigan.gradgradcheck(ours, [leaf(draw(2, shape))], nondet_tol=NONDET_TOL)


@pytest.mark.parametrize("name, ours, theirs, reference, shape", OPS, ids=OP_IDS)
def test_third_derivative_of_the_cube_matches_the_closed_form(backend_name, name, ours, theirs, reference, shape):
    rng = np.random.default_rng(3)
    x0, u, v = (rng.standard_normal(shape) for _ in range(3))
    w = rng.standard_normal(reference(x0).shape)
    x = leaf(x0)
    (g1,) = minigan.grad((ours(x) ** 3 * w).sum(), x, create_graph=True)
    (g2,) = minigan.grad((g1 * u).sum(), x, create_graph=True)
    (g3,) = minigan.grad((g2 * v).sum(), x)
    linear = lambda z: reference(z) - reference(np.zeros(shape))  # noqa: E731  (pad's value is a constant)
    basis = np.eye(x0.size).reshape((x0.size,) + shape)
    expected = [6 * (w * linear(u) * linear(v) * linear(z)).sum() for z in basis]
    np.testing.assert_allclose(value(g3).reshape(-1), expected, rtol=1e-12, atol=1e-12)


def hessian_vector_products(grad, fn, x, weights, direction):
    """Value of fn, gradient and Hessian-vector product of L = Σ w · fn(x)³, in minigan or torch."""
    out = fn(x)
    (g,) = grad((out * out * out * weights).sum(), x, create_graph=True)
    (hv,) = grad((g * direction).sum(), x)
    return out, g, hv


@pytest.mark.torch
@pytest.mark.parametrize("name, ours, theirs, reference, shape", OPS, ids=OP_IDS)
def test_matches_torch_value_gradient_and_hessian_vector_product(backend_name, name, ours, theirs, reference,
                                                                 shape):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    a, direction = rng.standard_normal(shape), rng.standard_normal(shape)
    weights = rng.standard_normal(reference(a).shape)
    mine = hessian_vector_products(minigan.grad, ours, leaf(a), weights, direction)
    t = torch.tensor(a, requires_grad=True)
    expected = hessian_vector_products(torch.autograd.grad, lambda x: theirs(torch, x), t, torch.tensor(weights),
                                       torch.tensor(direction))
    for m, e in zip(mine, expected):
        np.testing.assert_allclose(value(m), e.detach().numpy(), rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------------------------------------ methods
@pytest.mark.parametrize("method, function", [
    (lambda x: x.squeeze(), lambda x: minigan.squeeze(x)),
    (lambda x: x.unsqueeze(0), lambda x: minigan.unsqueeze(x, 0)),
    (lambda x: x.flatten(1), lambda x: minigan.flatten(x, 1)),
    (lambda x: x.expand(3, 2, 1, 4), lambda x: minigan.expand(x, (3, 2, 1, 4))),
    (lambda x: x.split(1, 2)[1], lambda x: minigan.split(x, 1, axis=2)[1]),
    (lambda x: x.chunk(2, 0)[0], lambda x: minigan.chunk(x, 2)[0]),
    (lambda x: x.flip(0, 2), lambda x: minigan.flip(x, (0, 2))),
    (lambda x: x.tile(2, 1), lambda x: minigan.tile(x, (2, 1))),
    (lambda x: x.repeat(2, 1, 1), lambda x: minigan.repeat(x, (2, 1, 1))),
    (lambda x: x.repeat_interleave(2, 2), lambda x: minigan.repeat_interleave(x, 2, axis=2)),
    (lambda x: x.gather(2, np.zeros((2, 1, 3), int)), lambda x: minigan.gather(x, 2, np.zeros((2, 1, 3), int))),
], ids=["squeeze", "unsqueeze", "flatten", "expand", "split", "chunk", "flip", "tile", "repeat",
        "repeat_interleave", "gather"])
def test_tensor_methods_equal_the_functions(backend_name, method, function):
    x = leaf(draw(5, (2, 1, 4)))
    np.testing.assert_array_equal(value(method(x)), value(function(x)))


def test_functional_pad_is_the_op(backend_name):
    assert F.pad is minigan.pad


# -------------------------------------------------------------------------- squeeze, unsqueeze, flatten
@pytest.mark.parametrize("shape, axis, expected", [
    ((2, 1, 3, 1), None, (2, 3)), ((2, 1, 3), 1, (2, 3)), ((2, 1, 3), -2, (2, 3)), ((2, 1, 3), 0, (2, 1, 3)),
    ((1, 2, 1), (0, 1, 2), (2,)), ((), 0, ()), ((1, 1), None, ()),
])
def test_squeeze_removes_the_size_1_axes_asked_for(backend_name, shape, axis, expected):
    assert minigan.squeeze(leaf(np.zeros(shape)), axis).shape == expected


@pytest.mark.parametrize("shape, axis, expected", [
    ((2, 3), 0, (1, 2, 3)), ((2, 3), 2, (2, 3, 1)), ((2, 3), -1, (2, 3, 1)), ((2, 3), -3, (1, 2, 3)), ((), 0, (1,)),
])
def test_unsqueeze_inserts_a_size_1_axis(backend_name, shape, axis, expected):
    assert minigan.unsqueeze(leaf(np.zeros(shape)), axis).shape == expected


@pytest.mark.parametrize("shape, start, end, expected", [
    ((2, 3, 4), 0, -1, (24,)), ((2, 3, 4), 1, -1, (2, 12)), ((2, 3, 4), 0, 1, (6, 4)), ((2, 3, 4), 1, 1, (2, 3, 4)),
    ((), 0, -1, (1,)),
])
def test_flatten_merges_start_dim_to_end_dim(backend_name, shape, start, end, expected):
    assert minigan.flatten(leaf(np.zeros(shape)), start, end).shape == expected


def test_reshaping_ops_record_their_own_names(backend_name):
    x = leaf(np.zeros((2, 1)))
    assert [minigan.squeeze(x).op, minigan.unsqueeze(x, 0).op, minigan.flatten(x).op] == [
        "squeeze", "unsqueeze", "flatten"]


# -------------------------------------------------------------------------------------------- expand
def test_expand_is_a_read_only_view(backend_name):
    x = leaf(draw(6, (3, 1)))
    out = minigan.expand(x, 2, 3, 4)
    if backend_name == "numpy":  # CuPy has no read-only arrays
        assert not out.data.flags.writeable
    assert out.data.strides[0] == 0 and out.data.strides[2] == 0  # no copy: the stretched axes have stride 0


def test_expand_gradient_sums_over_the_stretched_and_new_axes(backend_name):
    x = leaf(draw(7, (3, 1)))
    g = draw(8, (2, 3, 4))
    minigan.expand(x, 2, -1, 4).backward(g)
    np.testing.assert_allclose(to_numpy(x.grad), g.sum(axis=(0, 2))[:, None], rtol=1e-12)


# ------------------------------------------------------------------------------------- split, chunk
@pytest.mark.parametrize("length, size, expected", [(5, 2, [2, 2, 1]), (6, 3, [3, 3]), (2, 5, [2]), (0, 2, [0])])
def test_split_by_size_gives_pieces_of_that_size_the_last_smaller(backend_name, length, size, expected):
    assert [p.shape[0] for p in minigan.split(leaf(np.zeros((length, 2))), size)] == expected


@pytest.mark.parametrize("length, chunks, expected", [(5, 3, [2, 2, 1]), (6, 4, [2, 2, 2]), (2, 5, [1, 1]),
                                                      (0, 2, [0, 0])])
def test_chunk_gives_pieces_of_ceil_n_over_chunks_as_torch(backend_name, length, chunks, expected):
    assert [p.shape[0] for p in minigan.chunk(leaf(np.zeros((length, 2))), chunks)] == expected


def test_split_returns_a_tuple_with_each_piece_equal_to_its_slice(backend_name):
    a = draw(9, (2, 6))
    pieces = minigan.split(leaf(a), [1, 0, 5], axis=-1)
    assert isinstance(pieces, tuple)
    for piece, expected in zip(pieces, [a[:, :1], a[:, 1:1], a[:, 1:]]):
        np.testing.assert_array_equal(value(piece), expected)


def test_a_split_piece_passes_its_gradient_to_its_slice_only(backend_name):
    x = leaf(draw(10, (5, 2)))
    g = draw(11, (2, 2))
    minigan.split(x, 2)[1].backward(g)
    expected = np.zeros((5, 2))
    expected[2:4] = g
    np.testing.assert_array_equal(to_numpy(x.grad), expected)


# ----------------------------------------------------------------------------------------------- pad
@pytest.mark.parametrize("mode, pad, expected", [  # PyTorch's results on arange(4)
    ("reflect", (-2, 2), [2, 3, 2, 1]), ("reflect", (-1, 3), [1, 2, 3, 2, 1, 0]), ("reflect", (2, -1), [2, 1, 0, 1, 2]),
    ("reflect", (-4, 1), [2]), ("circular", (-2, 2), [2, 3, 2, 3]), ("circular", (2, -1), [1, 2, 0, 1, 2]),
    ("circular", (3, -1), [0, 1, 2, 0, 1, 2]), ("replicate", (-2, 2), [2, 3, 3, 3]),
    ("replicate", (2, -1), [0, 0, 0, 1, 2]), ("replicate", (-4, 1), [3]), ("constant", (-1, -2), [1]),
    ("constant", (-2, -2), []),
])
def test_pad_with_negative_amounts_crops_as_torch(backend_name, mode, pad, expected):
    np.testing.assert_array_equal(value(minigan.pad(leaf(np.arange(4.0)), pad, mode)), expected)


@pytest.mark.parametrize("mode, numpy_mode", [("reflect", "reflect"), ("replicate", "edge"), ("circular", "wrap")])
def test_pad_modes_equal_numpy_pad_on_any_number_of_axes(backend_name, mode, numpy_mode):
    a = draw(12, (3, 4))
    out = minigan.pad(leaf(a), (1, 2, 2, 1), mode)
    np.testing.assert_array_equal(value(out), np.pad(a, [(2, 1), (1, 2)], mode=numpy_mode))


def test_pad_constant_fills_with_value(backend_name):
    out = minigan.pad(leaf(np.ones((1, 2))), (1, 0), value=-3.0)
    np.testing.assert_array_equal(value(out), [[-3.0, 1.0, 1.0]])


def test_pad_gradients_of_copied_elements_add_up(backend_name):
    x = leaf(np.arange(4.0))
    minigan.pad(x, (2, 2), "reflect").sum().backward()  # copies 2 1 | 0 1 2 3 | 2 1
    np.testing.assert_array_equal(to_numpy(x.grad), [1, 3, 3, 1])
    y = leaf(np.arange(3.0))
    minigan.pad(y, (2, 1), "replicate").sum().backward()  # 0 0 | 0 1 2 | 2
    np.testing.assert_array_equal(to_numpy(y.grad), [3, 1, 2])


def test_pad_constant_gradient_is_the_gradient_of_the_kept_elements(backend_name):
    x = leaf(np.arange(4.0))
    g = np.arange(10.0, 15.0)
    minigan.pad(x, (2, -1), value=7.0).backward(g)  # out = 7 7 0 1 2
    np.testing.assert_array_equal(to_numpy(x.grad), [12, 13, 14, 0])


# ------------------------------------------------------------------------------------ flip and tile
def test_flip_gradient_is_g_flipped_back(backend_name):
    x, g = leaf(draw(13, (2, 3))), draw(14, (2, 3))
    minigan.flip(x, 1).backward(g)
    np.testing.assert_array_equal(to_numpy(x.grad), g[:, ::-1])


def test_flip_output_is_a_copy(backend_name):
    a = draw(15, (3,))
    x = leaf(a)
    out = minigan.flip(x)
    x.data[...] = 0.0
    np.testing.assert_array_equal(value(out), a[::-1])


def test_tile_gradient_sums_the_tiles(backend_name):
    x, g = leaf(draw(16, (2, 3))), draw(17, (2, 4, 6))
    minigan.tile(x, (2, 2, 2)).backward(g)
    np.testing.assert_allclose(to_numpy(x.grad), g.reshape(2, 2, 2, 2, 3).sum(axis=(0, 1, 3)), rtol=1e-12)


def test_tile_with_an_int_and_with_zero_reps(backend_name):
    a = draw(18, (2, 3))
    np.testing.assert_array_equal(value(minigan.tile(leaf(a), 2)), np.tile(a, 2))
    assert minigan.tile(leaf(a), (0, 1)).shape == (0, 3)


# ---------------------------------------------------------------------------- repeat_interleave, gather
def test_repeat_interleave_gradient_sums_each_elements_repeats(backend_name):
    x, g = leaf(draw(19, (3,))), draw(20, (6,))
    minigan.repeat_interleave(x, np.array([2, 0, 4])).backward(g)
    np.testing.assert_allclose(to_numpy(x.grad), [g[:2].sum(), 0.0, g[2:].sum()], rtol=1e-12)


def test_gather_gradient_scatter_adds_into_the_picked_positions(backend_name):
    a, g = draw(21, (3, 4)), draw(22, INDEX_1.shape)
    x = leaf(a)
    minigan.gather(x, 1, INDEX_1).backward(g)
    expected = np.zeros((3, 4))
    np.add.at(expected, (np.arange(3)[:, None], INDEX_1), g)
    np.testing.assert_allclose(to_numpy(x.grad), expected, rtol=1e-12)


def test_gather_accepts_a_list_of_ints_and_an_empty_index(backend_name):
    a = draw(23, (2, 3))
    np.testing.assert_array_equal(value(minigan.gather(leaf(a), 1, [[2], [0]])), [[a[0, 2]], [a[1, 0]]])
    assert minigan.gather(leaf(a), 0, np.zeros((0, 3), dtype=np.int64)).shape == (0, 3)


def test_gathers_second_derivative_gathers_again(backend_name):
    a, w = draw(24, (3, 4)), draw(25, INDEX_1.shape)
    x = leaf(a)
    (g,) = minigan.grad((minigan.gather(x, 1, INDEX_1) ** 2 * w).sum(), x, create_graph=True)
    (h,) = minigan.grad(g.sum(), x)  # d/dx Σ scatter_add(2 w · gather(x)) = scatter_add(2 w)
    expected = np.zeros((3, 4))
    np.add.at(expected, (np.arange(3)[:, None], INDEX_1), 2 * w)
    np.testing.assert_allclose(value(h), expected, rtol=1e-12)


# -------------------------------------------------------------------------------------------- errors
ERRORS = [
    ("squeeze axis out of range", lambda x: minigan.squeeze(x, 3), ShapeError, "axis 3 is out of range"),
    ("unsqueeze axis too large", lambda x: minigan.unsqueeze(x, 4), ShapeError,
     "unsqueeze: axis 4 is out of range for a tensor of shape (2, 3, 4, 1) (expected -4 <= axis < 4)"),
    ("unsqueeze axis too small", lambda x: minigan.unsqueeze(x, -5), ShapeError, "axis -5 is out of range"),
    ("unsqueeze float axis", lambda x: minigan.unsqueeze(x, 1.0), TypeError, "axis must be an int"),
    ("flatten start after end", lambda x: minigan.flatten(x, 2, 1), ShapeError,
     "flatten: start_dim 2 comes after end_dim 1 for a tensor of shape (2, 3, 4)"),
    ("flatten end out of range", lambda x: minigan.flatten(x, 0, 3), ShapeError, "flatten: axis 3 is out of range"),
    ("expand too few sizes", lambda x: minigan.expand(x, 3, 4), ShapeError, "give at least one per axis (3)"),
    ("expand a non-singleton axis", lambda x: minigan.expand(x, 2, 5, 4), ShapeError,
     "expand: cannot expand shape (2, 3, 4) to (2, 5, 4): size 5 for axis 1 (size 3)"),
    ("expand -1 on a new axis", lambda x: minigan.expand(x, -1, 2, 3, 4), ShapeError,
     "size -1 for a new leading axis"),
    ("expand a negative size", lambda x: minigan.expand(x, 2, -2, 4), ShapeError, "size -2 for axis 1"),
    ("split size 0", lambda x: minigan.split(x, 0), ShapeError, "split: split size 0 for axis 0 of length 2"),
    ("split sections that do not add up", lambda x: minigan.split(x, [1, 1], 1), ShapeError,
     "split: sections [1, 1] must be non-negative and add up to the length 3 of axis 1"),
    ("split negative section", lambda x: minigan.split(x, [4, -1], 1), ShapeError, "must be non-negative"),
    ("split axis out of range", lambda x: minigan.split(x, 1, 3), ShapeError, "split: axis 3 is out of range"),
    ("chunk 0", lambda x: minigan.chunk(x, 0), ShapeError, "the number of chunks must be a positive int, got 0"),
    ("pad odd amounts", lambda x: minigan.pad(x, (1, 2, 3)), ShapeError, "3 padding amounts (1, 2, 3)"),
    ("pad too many amounts", lambda x: minigan.pad(x, (1,) * 8), ShapeError, "at most its 3 axes"),
    ("pad crops too much", lambda x: minigan.pad(x, (-3, -2)), ShapeError,
     "pad: padding (-3, -2) crops more than the 4 elements of axis 2"),
    ("pad reflect as wide as the axis", lambda x: minigan.pad(x, (0, 4), "reflect"), ShapeError,
     "reflect padding (0, 4) of axis 2 of shape (2, 3, 4) must be less than the axis's length 4"),
    ("pad circular wrapping twice", lambda x: minigan.pad(x, (-1, 4), "circular"), ShapeError,
     "wraps around more than once: at most the 3 element(s) left after cropping"),
    ("pad unknown mode", lambda x: minigan.pad(x, (1, 1), "mirror"), ValueError, "unknown mode 'mirror'"),
    ("pad value with reflect", lambda x: minigan.pad(x, (1, 1), "reflect", value=1.0), ValueError,
     "mode 'reflect' takes no value"),
    ("pad replicate an empty axis", lambda x: minigan.pad(x[:, :0], (0, 0, 1, 0), "replicate"), ShapeError,
     "replicate padding (1, 0) of the empty axis 1"),
    ("flip a repeated axis", lambda x: minigan.flip(x, (0, 0)), ShapeError, "flip: repeated axis"),
    ("flip axis out of range", lambda x: minigan.flip(x, 3), ShapeError, "flip: axis 3 is out of range"),
    ("tile negative reps", lambda x: minigan.tile(x, (1, -1)), ShapeError, "tile: reps (1, -1) must be non-negative"),
    ("repeat too few sizes", lambda x: minigan.repeat(x, 2, 2), ShapeError,
     "repeat: 2 repeat sizes (2, 2) for a tensor of shape (2, 3, 4): give at least one per axis (3)"),
    ("repeat_interleave negative", lambda x: minigan.repeat_interleave(x, -1, 0), ShapeError,
     "repeats must be a non-negative int or 2 of them"),
    ("repeat_interleave wrong count", lambda x: minigan.repeat_interleave(x, [1, 2], 1), ShapeError,
     "or 3 of them (one per element of axis 1 of shape (2, 3, 4)), got shape (2,)"),
    ("repeat_interleave float repeats", lambda x: minigan.repeat_interleave(x, 2.0), DTypeError,
     "repeat_interleave: repeats must hold integers, got dtype float64"),
    ("repeat_interleave tensor repeats", lambda x: minigan.repeat_interleave(x, x), TypeError,
     "repeats must be an integer array, not a Tensor"),
    ("gather index with fewer axes", lambda x: minigan.gather(x, 1, np.zeros((2, 3), int)), ShapeError,
     "gather: index of shape (2, 3) for a tensor of shape (2, 3, 4): it must have the same number of axes (3)"),
    ("gather index larger on another axis", lambda x: minigan.gather(x, 1, np.zeros((3, 1, 1), int)), ShapeError,
     "index of shape (3, 1, 1) is larger than the tensor's shape (2, 3, 4) on an axis other than axis 1"),
    ("gather index too large", lambda x: minigan.gather(x, 1, np.full((1, 1, 1), 3)), ShapeError,
     "gather: index values from 3 to 3 are out of range for axis 1 of length 3 (expected 0 to 2)"),
    ("gather negative index", lambda x: minigan.gather(x, 2, np.full((1, 1, 1), -1)), ShapeError,
     "index values from -1 to -1 are out of range"),
    ("gather float index", lambda x: minigan.gather(x, 0, np.zeros((1, 1, 1))), DTypeError,
     "gather: index must hold integers, got dtype float64"),
    ("gather tensor index", lambda x: minigan.gather(x, 0, x), TypeError, "index must be an integer array"),
]


@pytest.mark.parametrize("name, call, error, message", ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_name_the_op_and_the_problem(backend_name, name, call, error, message):
    with pytest.raises(error) as info:
        call(leaf(np.zeros((2, 3, 4))))
    assert message in str(info.value)
