"""Ops that move elements without changing them: reshape, transpose, broadcast_to, getitem (and its
backward, scatter_add), concatenate, stack; and PyTorch's shape and indexing ops: squeeze, unsqueeze,
flatten, expand, split, chunk, pad, flip, tile, repeat, repeat_interleave, gather.

Their backward moves the gradient back to where each element came from: reshape back, transpose by
the inverse permutation, scatter-add into zeros for indexing (an element picked twice gets both
gradients), split for concatenate and stack, a sum over the copies for tile.

``split``, ``repeat`` and ``pad`` follow PyTorch, not NumPy's functions of those names (``numpy.repeat``
is :func:`repeat_interleave` here): a backward must not call them through ``xp``.
"""

import math

import numpy as np

from minigan.errors import DTypeError, ShapeError
from minigan.ops.broadcasting import unbroadcast
from minigan.ops.namespace import namespace
from minigan.ops.reduction import normalize_axes
from minigan.tensor import Tensor, check_same_backend


def reshape(a, shape):
    """The same elements in shape ``shape`` (one axis may be −1);  da = g reshaped to a's shape."""
    try:
        out = a.data.reshape(shape)
    except (ValueError, TypeError):
        raise ShapeError(f"reshape: cannot reshape a tensor of shape {a.shape} ({a.size} elements) into {shape}") from None
    a_shape = a.shape

    def backward(g, needs):
        return (g.reshape(a_shape),)

    return Tensor._from_op(out, (a,), backward, "reshape", saved=())


def transpose(a, axes=None):
    """Permute the axes (reverse them when ``axes`` is None);  da = g permuted by the inverse."""
    if axes is None:
        axes = tuple(reversed(range(a.ndim)))
    if (len(axes) != a.ndim or any(not -a.ndim <= ax < a.ndim for ax in axes)
            or sorted(ax % a.ndim for ax in axes) != list(range(a.ndim))):
        raise ShapeError(f"transpose: {axes} is not a permutation of the {a.ndim} axes of shape {a.shape}")
    axes = tuple(ax % a.ndim for ax in axes)
    inverse = tuple(np.argsort(axes))

    def backward(g, needs):
        return (g.transpose(inverse),)

    return Tensor._from_op(a.data.transpose(axes), (a,), backward, "transpose", saved=())


def broadcast_to(a, shape):
    """a stretched to ``shape`` by NumPy's broadcasting rules (a read-only view, as ``numpy.broadcast_to``
    and PyTorch's ``expand``);  da = g summed over the stretched axes (:func:`unbroadcast`)."""
    shape = tuple(int(n) for n in shape)
    try:
        out = a.xp.broadcast_to(a.data, shape)
    except ValueError:
        raise ShapeError(f"broadcast_to: cannot broadcast shape {a.shape} to {shape}") from None
    a_shape = a.shape

    def backward(g, needs):
        return (unbroadcast(g, a_shape),)

    return Tensor._from_op(out, (a,), backward, "broadcast_to", saved=())


def _is_advanced(part):
    return not (part is None or part is Ellipsis or isinstance(part, (int, np.integer, slice)))


def _normalize_index(index, xp):
    """Lists and arrays in ``index`` become backend arrays; tensors are refused (they are floats)."""
    parts = index if isinstance(index, tuple) else (index,)
    normalized = []
    for part in parts:
        if isinstance(part, Tensor):
            raise TypeError(
                "getitem: index with integers, slices or an integer/boolean array, not a Tensor "
                "(tensors hold floats); use tensor.data.astype(int) if you mean its values"
            )
        if isinstance(part, (list, np.ndarray)) or hasattr(part, "__cuda_array_interface__"):
            part = xp.asarray(part)
        normalized.append(part)
    return tuple(normalized)


def _scatter_add(xp, target, index, values):
    """target[index] += values, adding for every repeat of an index (``ufunc.at``, NumPy and CuPy alike)."""
    xp.add.at(target, index, values)


def getitem(a, index):
    """``a[index]`` with basic slicing and integer/boolean array indexing;  da = g scattered back.

    Basic indexing picks each element at most once, so the gradient is written into zeros; with an
    array index an element can be picked several times, and its gradients are added (scatter-add).
    Under ``create_graph`` that scatter is the op :func:`scatter_add`, whose own backward is indexing.
    """
    xp = a.xp
    index = _normalize_index(index, xp)
    try:
        out = a.data[index]
    except IndexError as exc:
        raise ShapeError(f"getitem: index {index} does not fit shape {a.shape}: {exc}") from None
    advanced = any(_is_advanced(part) for part in index)
    if not advanced:
        out = out.copy()
    a_shape = a.shape

    def backward(g, needs):
        return (scatter_add(g, index, a_shape),)

    return Tensor._from_op(out, (a,), backward, "getitem", saved=())


def scatter_add(values, index, shape):
    """zeros(shape) with ``values`` added at ``index`` (an element indexed twice gets both): the
    backward of ``getitem``. On a tensor it is an op whose backward is ``g[index]``; on an array, the
    array.
    """
    index = index if isinstance(index, tuple) else (index,)
    is_tensor = isinstance(values, Tensor)
    xp = values.xp if is_tensor else namespace(values)
    data = values.data if is_tensor else values
    out = xp.zeros(shape, dtype=data.dtype)
    if any(_is_advanced(part) for part in index):
        _scatter_add(xp, out, index, data)
    else:
        out[index] = data
    if not is_tensor:
        return out

    def backward(g, needs):
        return (g[index],)

    return Tensor._from_op(out, (values,), backward, "scatter_add", saved=())


def _as_tensor_list(op, tensors):
    tensors = list(tensors)
    if not tensors:
        raise ValueError(f"{op}: needs at least one tensor")
    for t in tensors:
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: expected minigan Tensors, got {type(t).__name__}")
    check_same_backend(op, *tensors)
    return tensors


def _join(op, tensors, axis, verb):
    """Check ``tensors`` and join their data with ``xp.concatenate`` or ``xp.stack`` (``op``)."""
    tensors = _as_tensor_list(op, tensors)
    xp = tensors[0].xp
    try:
        out = getattr(xp, op)([t.data for t in tensors], axis=axis)
    except (ValueError, np.exceptions.AxisError) as exc:
        shapes = ", ".join(str(t.shape) for t in tensors)
        raise ShapeError(f"{op}: cannot {verb} shapes {shapes} along axis {axis}: {exc}") from None
    return tensors, xp, out, axis % out.ndim


def concatenate(tensors, axis=0):
    """Join tensors along an existing axis;  each input's gradient is its slice of g."""
    tensors, xp, out, axis = _join("concatenate", tensors, axis, "join")
    ends = np.cumsum([t.shape[axis] for t in tensors])
    pieces = [(slice(None),) * axis + (slice(int(end - t.shape[axis]), int(end)),) for t, end in zip(tensors, ends)]

    def backward(g, needs):
        return tuple(g[piece] if need else None for piece, need in zip(pieces, needs))

    return Tensor._from_op(out, tuple(tensors), backward, "concatenate", saved=())


def stack(tensors, axis=0):
    """Join same-shaped tensors along a new axis;  each input's gradient is its slice of g."""
    tensors, xp, out, axis = _join("stack", tensors, axis, "stack")
    before = (slice(None),) * axis

    def backward(g, needs):
        return tuple(g[before + (i,)] if need else None for i, need in enumerate(needs))

    return Tensor._from_op(out, tuple(tensors), backward, "stack", saved=())


# ---------------------------------------------------------------------------------------------------
# The shape and indexing ops of PyTorch. Each is either a relabelling of a's elements in a new shape
# (squeeze, unsqueeze, flatten: da = g reshaped back), a view (expand), slices (split, chunk, flip), a
# reshape-and-sum (tile), or indexing with integer arrays (pad's non-constant modes, repeat_interleave,
# gather): those go through getitem, whose backward is scatter_add and whose double backward is
# indexing again, so an element picked twice gets both gradients to every order.
# ---------------------------------------------------------------------------------------------------


def _axis(op, axis, shape):
    """``axis`` (an int, negative counting from the end) as an axis of ``shape``, checked."""
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{op}: axis must be an int, got {axis!r}")
    ndim = len(shape)
    if not -ndim <= axis < ndim:
        raise ShapeError(f"{op}: axis {axis} is out of range for a tensor of shape {shape} "
                         f"(expected {-ndim} <= axis < {ndim})")
    return int(axis) % ndim


def _sizes(op, sizes):
    """Sizes given as ints (``f(a, 2, 3)``) or as one tuple or list (``f(a, (2, 3))``), as a tuple of ints."""
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    for size in sizes:
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)):
            raise TypeError(f"{op}: sizes must be ints, got {sizes!r}")
    return tuple(int(size) for size in sizes)


def _relabel(a, shape, op):
    """a's elements, in order, in shape ``shape``, recorded as op ``op``;  da = g reshaped back."""
    a_shape = a.shape

    def backward(g, needs):
        return (g.reshape(a_shape),)

    return Tensor._from_op(a.data.reshape(shape), (a,), backward, op, saved=())


def squeeze(a, axis=None):
    """a without its size-1 axes: all of them (``axis`` None) or those among ``axis`` (an int or a tuple);
    a named axis whose size is not 1 is left as it is, as in PyTorch;  da = g reshaped back."""
    if axis is None:
        axes = range(a.ndim)
    else:  # a 0-d tensor accepts axis 0 or −1, as in PyTorch (and has nothing to remove)
        axes = normalize_axes("squeeze", axis, max(a.ndim, 1))
    drop = {ax for ax in axes if ax < a.ndim and a.shape[ax] == 1}
    return _relabel(a, tuple(n for ax, n in enumerate(a.shape) if ax not in drop), "squeeze")


def unsqueeze(a, axis):
    """a with a new axis of size 1 at position ``axis`` (−ndim−1 ≤ axis ≤ ndim; −1 appends it);
    da = g reshaped back."""
    ax = _axis("unsqueeze", axis, a.shape + (1,))
    return _relabel(a, a.shape[:ax] + (1,) + a.shape[ax:], "unsqueeze")


def flatten(a, start_dim=0, end_dim=-1):
    """Axes ``start_dim`` to ``end_dim`` (inclusive) merged into one, as ``torch.flatten`` (a 0-d tensor
    becomes shape (1,));  da = g reshaped back."""
    shape = a.shape if a.ndim else (1,)
    start, end = _axis("flatten", start_dim, shape), _axis("flatten", end_dim, shape)
    if start > end:
        raise ShapeError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for a tensor of shape "
                         f"{a.shape}")
    return _relabel(a, shape[:start] + (math.prod(shape[start:end + 1]),) + shape[end + 1:], "flatten")


def expand(a, *sizes):
    """a stretched to ``sizes`` without copying, as PyTorch's ``Tensor.expand``: −1 keeps an axis's size,
    only size-1 axes stretch, and new axes may be added in front. A read-only view (:func:`broadcast_to`);
    da = g summed over the stretched and the added axes."""
    sizes = _sizes("expand", sizes)
    lead = len(sizes) - a.ndim
    if lead < 0:
        raise ShapeError(f"expand: {len(sizes)} sizes {sizes} for a tensor of shape {a.shape}: give at least "
                         f"one per axis ({a.ndim})")
    shape = []
    for i, size in enumerate(sizes):
        old = a.shape[i - lead] if i >= lead else None
        if size == -1 and old is not None:
            shape.append(old)
        elif size >= 0 and (old is None or old in (1, size)):
            shape.append(size)
        else:
            where = "a new leading axis" if old is None else f"axis {i - lead} (size {old})"
            raise ShapeError(f"expand: cannot expand shape {a.shape} to {sizes}: size {size} for {where}; only "
                             "size-1 axes stretch, −1 keeps an existing axis's size")
    return broadcast_to(a, shape)


def _slice_along(a, axis, start, stop):
    return getitem(a, (slice(None),) * axis + (slice(start, stop),))


def split(a, split_size_or_sections, axis=0):
    """a cut along ``axis`` into a tuple of tensors, as ``torch.split`` (not ``numpy.split``): an int
    gives pieces of that size (the last one smaller if the size does not divide the axis), a list the
    size of each piece (they must add up to the axis's length);  each piece's gradient goes back to its
    slice of a."""
    ax = _axis("split", axis, a.shape)
    n = a.shape[ax]
    if isinstance(split_size_or_sections, (int, np.integer)) and not isinstance(split_size_or_sections, bool):
        size = int(split_size_or_sections)
        if size < 0 or (size == 0 and n > 0):
            raise ShapeError(f"split: split size {size} for axis {ax} of length {n}: it must be positive")
        sizes = [size] * (n // size) + ([n % size] if n % size else []) if n else [0]
    else:
        sizes = list(_sizes("split", (split_size_or_sections,)))
        if any(size < 0 for size in sizes) or sum(sizes) != n:
            raise ShapeError(f"split: sections {sizes} must be non-negative and add up to the length {n} of "
                             f"axis {ax} of shape {a.shape}")
    ends = np.cumsum(sizes)
    return tuple(_slice_along(a, ax, int(end - size), int(end)) for size, end in zip(sizes, ends))


def chunk(a, chunks, axis=0):
    """a cut along ``axis`` into ``chunks`` pieces of ceil(n / chunks) elements, as ``torch.chunk``: the
    last one smaller, and fewer pieces when fewer suffice (6 into 4 gives 3 pieces of 2)."""
    if isinstance(chunks, bool) or not isinstance(chunks, (int, np.integer)) or chunks < 1:
        raise ShapeError(f"chunk: the number of chunks must be a positive int, got {chunks!r}")
    n = a.shape[_axis("chunk", axis, a.shape)]
    return split(a, -(-n // int(chunks)) if n else [0] * int(chunks), axis)


PAD_MODES = ("constant", "reflect", "replicate", "circular")


def _pad_amounts(a, pad):
    """``pad`` (left, right pairs from the last axis backwards) as one (left, right) pair per axis of a,
    and the number of trailing axes it names."""
    amounts = _sizes("pad", (pad,))
    if len(amounts) % 2 or len(amounts) > 2 * a.ndim:
        raise ShapeError(f"pad: {len(amounts)} padding amounts {amounts} for a tensor of shape {a.shape}: give "
                         f"(left, right) pairs for at most its {a.ndim} axes, from the last axis backwards")
    pairs = [(0, 0)] * a.ndim
    for i in range(len(amounts) // 2):
        pairs[a.ndim - 1 - i] = amounts[2 * i], amounts[2 * i + 1]
    for ax, (n, (left, right)) in enumerate(zip(a.shape, pairs)):
        if n - max(-left, 0) - max(-right, 0) < 0:
            raise ShapeError(f"pad: padding ({left}, {right}) crops more than the {n} elements of axis {ax} of "
                             f"shape {a.shape}")
    return pairs, len(amounts) // 2


def _check_pad_mode(mode, a, pairs):
    for ax, (n, (left, right)) in enumerate(zip(a.shape, pairs)):
        kept = n - max(-left, 0) - max(-right, 0)
        widest = max(left, right)
        if widest <= 0:
            continue
        if mode == "reflect" and widest >= n:
            raise ShapeError(f"pad: reflect padding ({left}, {right}) of axis {ax} of shape {a.shape} must be "
                             f"less than the axis's length {n}")
        if mode == "replicate" and n == 0:
            raise ShapeError(f"pad: replicate padding ({left}, {right}) of the empty axis {ax} of shape {a.shape}")
        if mode == "circular" and widest > kept:
            raise ShapeError(f"pad: circular padding ({left}, {right}) of axis {ax} of shape {a.shape} wraps "
                             f"around more than once: at most the {kept} element(s) left after cropping")


def _source_positions(mode, n, left, right):
    """For each element of a padded axis, the position of the element of a it copies."""
    if mode == "circular":  # as PyTorch: crop first, then wrap around what is left
        start = max(-left, 0)
        kept = n - start - max(-right, 0)
        return start + np.arange(-max(left, 0), kept + max(right, 0)) % max(kept, 1)
    positions = np.arange(-left, n + right)
    if mode == "replicate":
        return np.clip(positions, 0, n - 1)
    period = 2 * (n - 1)  # reflect: mirrored at the edges, the edge elements not repeated
    positions = np.abs(positions) % period if period else np.zeros_like(positions)
    return np.where(positions > n - 1, period - positions, positions)


def pad(a, pad, mode="constant", value=0.0):
    """a padded as ``torch.nn.functional.pad``: ``pad`` holds (left, right) amounts for the last axis,
    then the one before it, and so on; a negative amount crops.

    - ``"constant"``: the new elements are ``value``;  da = g's elements that came from a.
    - ``"reflect"``: mirrored at the edge, the edge element not repeated (amounts < the axis's length);
    - ``"replicate"``: the edge element repeated;
    - ``"circular"``: wrapped around from the other end (after cropping, as PyTorch; at most once).

    The last three index a with integer arrays (:func:`getitem`), so an element copied several times
    gets the sum of its copies' gradients (scatter-add). Unlike PyTorch, they pad any number of trailing
    axes of a tensor of any rank.
    """
    if mode not in PAD_MODES:
        raise ValueError(f"pad: unknown mode {mode!r}; expected one of {', '.join(PAD_MODES)}")
    pairs, padded = _pad_amounts(a, pad)
    if mode == "constant":
        return _constant_pad(a, pairs, value)
    if value != 0:
        raise ValueError(f"pad: mode {mode!r} takes no value (got {value!r}); it is for mode 'constant'")
    _check_pad_mode(mode, a, pairs)
    first = a.ndim - padded
    index = [slice(None)] * first
    for i, (n, (left, right)) in enumerate(zip(a.shape[first:], pairs[first:])):
        positions = _source_positions(mode, n, left, right)
        index.append(positions.reshape((1,) * i + (-1,) + (1,) * (padded - 1 - i)))
    return getitem(a, tuple(index))


def _constant_pad(a, pairs, value):
    src = tuple(slice(max(-left, 0), n - max(-right, 0)) for n, (left, right) in zip(a.shape, pairs))
    dst = tuple(slice(max(left, 0), max(left, 0) + s.stop - s.start) for s, (left, right) in zip(src, pairs))
    out = a.xp.full(tuple(n + left + right for n, (left, right) in zip(a.shape, pairs)), value, dtype=a.dtype)
    out[dst] = a.data[src]
    a_shape = a.shape

    def backward(g, needs):
        return (scatter_add(g[dst], src, a_shape),)

    return Tensor._from_op(out, (a,), backward, "pad", saved=())


def flip(a, axis=None):
    """a reversed along ``axis`` (an int or a tuple; None reverses every axis);  da = g reversed back."""
    axes = normalize_axes("flip", axis, a.ndim)
    # The leading Ellipsis keeps a 0-d result an array (``x[()]`` would be a NumPy scalar).
    index = (Ellipsis,) + tuple(slice(None, None, -1) if ax in axes else slice(None) for ax in range(a.ndim))

    def backward(g, needs):
        return (g[index],)

    return Tensor._from_op(a.data[index].copy(), (a,), backward, "flip", saved=())


def tile(a, reps):
    """a repeated ``reps[i]`` times along axis i, as ``numpy.tile``/``torch.tile``: missing reps count as 1,
    extra reps add leading axes;  da = g cut into its tiles and summed over them."""
    reps = _sizes("tile", (reps,) if isinstance(reps, (int, np.integer)) else (tuple(reps),))
    if any(r < 0 for r in reps):
        raise ShapeError(f"tile: reps {reps} must be non-negative")
    ndim = max(len(reps), a.ndim)
    reps = (1,) * (ndim - len(reps)) + reps
    shape = (1,) * (ndim - a.ndim) + a.shape
    tiles = tuple(n for pair in zip(reps, shape) for n in pair)  # (r0, n0, r1, n1, …): tile index, element
    summed = tuple(range(0, 2 * ndim, 2))
    a_shape = a.shape

    def backward(g, needs):
        return (g.reshape(tiles).sum(axis=summed).reshape(a_shape),)

    return Tensor._from_op(a.xp.tile(a.data, reps), (a,), backward, "tile", saved=())


def repeat(a, *sizes):
    """PyTorch's ``Tensor.repeat`` (not ``numpy.repeat``, which is :func:`repeat_interleave`): :func:`tile`
    with at least one size per axis of a."""
    sizes = _sizes("repeat", sizes)
    if len(sizes) < a.ndim:
        raise ShapeError(f"repeat: {len(sizes)} repeat sizes {sizes} for a tensor of shape {a.shape}: give at "
                         f"least one per axis ({a.ndim})")
    return tile(a, sizes)


def repeat_interleave(a, repeats, axis=None):
    """Each element repeated ``repeats`` times along ``axis`` (``numpy.repeat``): an int, or one count per
    element of the axis; with ``axis`` None a is flattened first. Indexing with the repeated positions,
    so da = g summed over each element's repeats."""
    if axis is None:
        a, axis = reshape(a, (-1,)), 0
    ax = _axis("repeat_interleave", axis, a.shape)
    n = a.shape[ax]
    counts = _integer_array("repeat_interleave", "repeats", repeats, np)
    if counts.ndim > 1 or counts.size not in (1, n) or (counts.size and counts.min() < 0):
        raise ShapeError(f"repeat_interleave: repeats must be a non-negative int or {n} of them (one per "
                         f"element of axis {ax} of shape {a.shape}), got shape {counts.shape}")
    positions = np.repeat(np.arange(n), counts)
    return getitem(a, (slice(None),) * ax + (positions,))


def _integer_array(op, name, values, xp):
    """``values`` (an int, a list of ints, an integer NumPy or CuPy array) as an integer array of ``xp``."""
    if isinstance(values, Tensor):
        raise TypeError(f"{op}: {name} must be an integer array, not a Tensor (tensors hold floats); use "
                        "tensor.data.astype(int) if you mean its values")
    if hasattr(values, "__cuda_array_interface__") and xp is np:
        values = values.get()
    try:
        values = xp.asarray(values)
    except (TypeError, ValueError) as exc:
        raise DTypeError(f"{op}: {name} must be an array of ints ({exc})") from None
    if values.dtype.kind not in "iu":
        if values.size == 0 and values.dtype.kind == "f":  # ``[]`` becomes float64: an empty index is fine
            return values.astype(np.intp)
        raise DTypeError(f"{op}: {name} must hold integers, got dtype {values.dtype}")
    return values


def gather(a, axis, index):
    """Values of a picked along ``axis`` at ``index``, as ``torch.gather``: for a 3-D a and axis 1,
    out[i, j, k] = a[i, index[i, j, k], k].

    ``index`` is an integer array (NumPy, CuPy or a list of ints) with a's number of axes and, on every
    axis but ``axis``, at most a's size; out has its shape. Implemented as indexing with integer arrays
    (:func:`getitem`), so da = g scatter-added to the picked positions, and its gradient gathers again.
    """
    ax = _axis("gather", axis, a.shape)
    index = _integer_array("gather", "index", index, a.xp)
    if index.ndim != a.ndim:
        raise ShapeError(f"gather: index of shape {index.shape} for a tensor of shape {a.shape}: it must have "
                         f"the same number of axes ({a.ndim})")
    if any(m > n for d, (m, n) in enumerate(zip(index.shape, a.shape)) if d != ax):
        raise ShapeError(f"gather: index of shape {index.shape} is larger than the tensor's shape {a.shape} on "
                         f"an axis other than axis {ax}")
    if index.size and (int(index.min()) < 0 or int(index.max()) >= a.shape[ax]):
        raise ShapeError(f"gather: index values from {int(index.min())} to {int(index.max())} are out of range "
                         f"for axis {ax} of length {a.shape[ax]} (expected 0 to {a.shape[ax] - 1})")
    xp = a.xp
    mesh = tuple(index if d == ax else xp.arange(m).reshape((1,) * d + (-1,) + (1,) * (a.ndim - 1 - d))
                 for d, m in enumerate(index.shape))
    return getitem(a, mesh)
