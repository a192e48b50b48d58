"""``Tensor``: an array, the gradient of a loss with respect to it, and its place on the tape.

dtypes
------
Tensors hold floating-point numbers only: ``float32`` (the default, see :func:`set_default_dtype`) or
``float64`` (what :func:`minigan.gradcheck` needs). Mixing follows one rule each way:

- two tensors of different dtypes promote to the wider one, as in NumPy (float32 + float64 →
  float64), and the gradient flowing back to the float32 operand is cast back to float32;
- anything that is not a tensor (a Python or NumPy scalar, a list, an array) takes the dtype of the
  tensor it meets, so ``x32 * np.float64(2)`` stays float32: no silent upcasts.

Backends
--------
A new tensor lives on the current backend (:mod:`minigan.backend`), except that a CuPy array stays on
the GPU. ``Tensor.to("cupy")`` / ``Tensor.to("numpy")`` move one, differentiably.
"""

import numpy as np

from minigan import autograd, backends as _backend
from minigan.errors import BackendError, DTypeError, GraphError

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_default_dtype = np.dtype(np.float32)


def get_default_dtype():
    """The dtype of tensors made from Python numbers, lists and non-float arrays (float32 at start)."""
    return _default_dtype


def set_default_dtype(dtype):
    """Make ``dtype`` (float32 or float64) the default dtype of new tensors."""
    global _default_dtype
    _default_dtype = as_float_dtype(dtype, "set_default_dtype")


def as_float_dtype(dtype, op):
    """``dtype`` as a ``numpy.dtype``, checked to be float32 or float64."""
    try:
        dtype = np.dtype(dtype)
    except TypeError as exc:
        raise DTypeError(f"{op}: {dtype!r} is not a dtype; expected float32 or float64") from exc
    if dtype not in FLOAT_DTYPES:
        raise DTypeError(f"{op}: dtype {dtype} is not supported; expected float32 or float64")
    return dtype


class Tensor:
    """An n-dimensional float array that can record the ops applied to it and backpropagate.

    Attributes: ``data`` (the backend array), ``grad`` (backend array or None), ``requires_grad``.
    Tensors produced by ops also know ``op`` (the op's name) and ``parents`` (its input tensors) until
    backward frees the graph: enough to print or walk the tape (see :mod:`minigan.graph`).
    """

    __slots__ = ("data", "grad", "requires_grad", "name", "_node", "_hooks", "__weakref__")
    # Make ``ndarray + Tensor`` and ``np.float64(2) * Tensor`` call the Tensor's reflected operator
    # instead of letting NumPy turn the tensor into an object array.
    __array_ufunc__ = None

    def __init__(self, data, requires_grad=False, dtype=None, name=None):
        self.data = _to_array(data, dtype)
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self.name = name
        self._node = None
        self._hooks = None

    @classmethod
    def _from_op(cls, data, parents, backward, op, saved=None):
        """The output of op ``op``; records it on the tape if grad mode is on and a parent needs it.

        ``backward(g, needs, *saved)`` must return one gradient (shaped like that parent, or None) per
        parent; ``saved`` lists the tensors it reads, and :data:`~minigan.autograd.OUTPUT` — last — for
        the output (see :mod:`minigan.autograd`). Without ``saved``, ``backward(g)`` works on arrays and the
        op is differentiable once.
        """
        out = cls.__new__(cls)
        if isinstance(data, np.generic):  # NumPy reductions return scalars; keep 0-d arrays.
            data = np.asarray(data)
        out.data = data
        out.grad = None
        out.name = None
        out._hooks = None
        if parents and autograd._grad_enabled:
            if len(parents) == 1:
                needs = (parents[0].requires_grad,)
            elif len(parents) == 2:
                needs = (parents[0].requires_grad, parents[1].requires_grad)
            else:
                needs = tuple([p.requires_grad for p in parents])
            if True in needs:
                out.requires_grad = True
                out._node = autograd.Node(op, parents, needs, backward, saved, out)
                if autograd._watching:
                    autograd.notify_forward(out, parents, op)
                return out
        out.requires_grad = False
        out._node = None
        if autograd._watching:  # the one test every op pays while nothing watches (autograd.watch)
            autograd.notify_forward(out, parents, op)
        return out

    @classmethod
    def _from_node(cls, data, node):
        """A tensor holding ``data`` whose graph is ``node``: an op's saved output, under create_graph."""
        out = cls._from_op(data, (), None, None)
        out.requires_grad = True
        out._node = node
        return out

    # ----------------------------------------------------------------------------------- properties
    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def size(self):
        return self.data.size

    @property
    def xp(self):
        """The array module holding the data: ``numpy`` or ``cupy``."""
        return _backend.array_module(self.data)

    @property
    def backend(self):
        """``"numpy"`` or ``"cupy"``."""
        return _backend.backend_name(self.data)

    @property
    def op(self):
        """Name of the op that produced this tensor, or None for a leaf (kept after backward frees the graph)."""
        return None if self._node is None else self._node.op

    @property
    def grad_fn(self):
        """The :class:`~minigan.autograd.Node` that produced this tensor, or None for a leaf."""
        return self._node

    @property
    def parents(self):
        """The inputs of the op that produced this tensor, one per input (empty once the graph is freed).

        Each is the input tensor while it is alive (leaves always are), the input's
        :class:`~minigan.autograd.Node` once an intermediate tensor has been dropped (the graph keeps
        nodes, not data), or None for an input that needs no gradient.
        """
        if self._node is None or self._node.backward is None:
            return ()
        return tuple(_input_of(v) for v in self._node.parents)

    @property
    def is_leaf(self):
        """True for tensors not produced by a recorded op: the ones whose ``.grad`` backward fills."""
        return self._node is None

    @property
    def T(self):
        return self.transpose()

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __repr__(self):
        body = np.array2string(self.numpy(), separator=", ", prefix="tensor(")
        extra = f", dtype={self.dtype}"
        if self.backend != "numpy":
            extra += f", backend={self.backend!r}"
        if self._node is not None:
            extra += f", op={self._node.op!r}"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    # ------------------------------------------------------------------------------------- autograd
    def backward(self, grad=None, retain_graph=None, create_graph=False, inputs=None):
        """Backpropagate from this tensor into the ``.grad`` of the leaves; see :func:`minigan.autograd.backward`.

        ``grad`` is the gradient of some scalar loss with respect to this tensor (default 1 for a
        single-element tensor). ``create_graph=True`` records the backward pass itself, so the
        gradients (stored in ``.grad`` as tensors) can be differentiated again; ``retain_graph``
        defaults to ``create_graph``.
        """
        autograd.backward(self, grad, retain_graph, create_graph, inputs)

    def detach(self):
        """The same data (shared, not copied) as a new leaf that records nothing."""
        return Tensor._from_op(self.data, (), None, None)

    def requires_grad_(self, requires_grad=True):
        """Set ``requires_grad`` on a leaf in place and return it."""
        if not self.is_leaf:
            raise GraphError(
                f"requires_grad_() on the output of {self.op!r}: only leaves can change it; "
                "use .detach() first"
            )
        self.requires_grad = bool(requires_grad)
        return self

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is known, during backward.

        ``grad`` is the total gradient of the loss with respect to this tensor: a backend array, or a
        tensor under ``create_graph=True``. The hook may return None to leave it as it is, or a new
        value of the same shape to replace it for the rest of the backward pass (on a leaf: before it
        is added to ``.grad``). It must not change ``grad`` in place: the same array may flow to other
        tensors. Returns a handle whose ``remove()`` takes the hook off.
        """
        if not self.requires_grad:
            raise GraphError("register_hook() on a tensor that does not require grad: it gets no gradient")
        if self._node is not None:  # an op's output: the hook belongs to its node, as its gradient does
            if self._node.hooks is None:
                self._node.hooks = []
            hooks = self._node.hooks
        else:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
        hooks.append(hook)
        return autograd.RemovableHandle(hooks, hook)

    def retain_grad(self):
        """Keep this non-leaf tensor's gradient in ``.grad`` after backward (leaves always keep it)."""
        if not self.requires_grad:
            raise GraphError("retain_grad() on a tensor that does not require grad: it gets no gradient")
        if self._node is not None:
            self._node.retains_grad = True
        return self

    # ---------------------------------------------------------------------------------- conversion
    def numpy(self):
        """A host NumPy copy of the data."""
        if isinstance(self.data, np.ndarray):
            return self.data.copy()
        return self.data.get()

    def item(self):
        """The value of a one-element tensor as a Python float."""
        if self.data.size != 1:
            raise ValueError(f"item(): the tensor has {self.data.size} elements (shape {self.shape}), not 1")
        return float(self.data.reshape(()).item())

    def tolist(self):
        return self.numpy().tolist()

    def astype(self, dtype):
        """A differentiable cast to ``dtype`` (float32 or float64)."""
        return ops.astype(self, dtype)

    def to(self, target):
        """A differentiable copy on backend ``target`` ("numpy" or "cupy"), or a cast if a dtype is given."""
        if isinstance(target, str) and target in _backend.BACKENDS:
            return ops.to_backend(self, target)
        return ops.astype(self, target)

    # ----------------------------------------------------------------------------------- operators
    def __add__(self, other):
        return ops.add(self, other)

    def __radd__(self, other):
        return ops.add(other, self)

    def __sub__(self, other):
        return ops.sub(self, other)

    def __rsub__(self, other):
        return ops.sub(other, self)

    def __mul__(self, other):
        return ops.mul(self, other)

    def __rmul__(self, other):
        return ops.mul(other, self)

    def __truediv__(self, other):
        return ops.div(self, other)

    def __rtruediv__(self, other):
        return ops.div(other, self)

    def __pow__(self, exponent):
        return ops.pow(self, exponent)

    def __rpow__(self, base):
        return ops.rpow(base, self)

    def __matmul__(self, other):
        return ops.matmul(self, other)

    def __rmatmul__(self, other):
        return ops.matmul(other, self)

    def __neg__(self):
        return ops.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return ops.abs(self)

    def __getitem__(self, index):
        return ops.getitem(self, index)

    # Comparisons give backend boolean arrays (masks for ``where``), not tensors: they have no
    # gradient. ``==`` is left as identity so that tensors can be dict keys and set members.
    def __lt__(self, other):
        return self.data < _raw(other)

    def __le__(self, other):
        return self.data <= _raw(other)

    def __gt__(self, other):
        return self.data > _raw(other)

    def __ge__(self, other):
        return self.data >= _raw(other)

    __hash__ = object.__hash__

    # ---------------------------------------------------------------------------------- op methods
    def sum(self, axis=None, keepdims=False):
        return ops.sum(self, axis, keepdims)

    def mean(self, axis=None, keepdims=False):
        return ops.mean(self, axis, keepdims)

    def max(self, axis=None, keepdims=False):
        return ops.max(self, axis, keepdims)

    def var(self, axis=None, ddof=0, keepdims=False):
        return ops.var(self, axis, ddof, keepdims)

    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = shape[0]
        return ops.reshape(self, tuple(shape))

    def transpose(self, *axes):
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = axes[0]
        return ops.transpose(self, tuple(axes) if axes else None)

    def squeeze(self, axis=None):
        return ops.squeeze(self, axis)

    def unsqueeze(self, axis):
        return ops.unsqueeze(self, axis)

    def flatten(self, start_dim=0, end_dim=-1):
        return ops.flatten(self, start_dim, end_dim)

    def expand(self, *sizes):
        return ops.expand(self, *sizes)

    def split(self, split_size_or_sections, axis=0):
        return ops.split(self, split_size_or_sections, axis)

    def chunk(self, chunks, axis=0):
        return ops.chunk(self, chunks, axis)

    def flip(self, *axes):
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = axes[0]
        return ops.flip(self, tuple(axes) if axes else None)

    def tile(self, *reps):
        if len(reps) == 1 and isinstance(reps[0], (tuple, list)):
            reps = reps[0]
        return ops.tile(self, tuple(reps))

    def repeat(self, *sizes):
        return ops.repeat(self, *sizes)

    def repeat_interleave(self, repeats, axis=None):
        return ops.repeat_interleave(self, repeats, axis)

    def gather(self, axis, index):
        return ops.gather(self, axis, index)

    def outer(self, other):
        return ops.outer(self, other)

    def exp(self):
        return ops.exp(self)

    def log(self):
        return ops.log(self)

    def sqrt(self):
        return ops.sqrt(self)

    def abs(self):
        return ops.abs(self)

    def tanh(self):
        return ops.tanh(self)

    def sigmoid(self):
        return ops.sigmoid(self)

    def clip(self, min=None, max=None):
        return ops.clip(self, min, max)

    def log1p(self):
        return ops.log1p(self)

    def expm1(self):
        return ops.expm1(self)

    def sin(self):
        return ops.sin(self)

    def cos(self):
        return ops.cos(self)

    def square(self):
        return ops.square(self)

    def softplus(self, beta=1.0, threshold=20.0):
        return ops.softplus(self, beta, threshold)

    def min(self, axis=None, keepdims=False):
        return ops.min(self, axis, keepdims)

    def argmax(self, axis=None, keepdims=False):
        return ops.argmax(self, axis, keepdims)

    def argmin(self, axis=None, keepdims=False):
        return ops.argmin(self, axis, keepdims)

    def prod(self, axis=None, keepdims=False):
        return ops.prod(self, axis, keepdims)

    def cumsum(self, axis=None):
        return ops.cumsum(self, axis)

    def std(self, axis=None, ddof=0, keepdims=False):
        return ops.std(self, axis, ddof, keepdims)

    def norm(self, ord=2, axis=None, keepdims=False):
        return ops.norm(self, ord, axis, keepdims)

    def softmax(self, axis=-1):
        return ops.softmax(self, axis)

    def log_softmax(self, axis=-1):
        return ops.log_softmax(self, axis)

    def logsumexp(self, axis=None, keepdims=False):
        return ops.logsumexp(self, axis, keepdims)


def _input_of(vertex):
    """An edge of the graph as the input it stands for: the tensor if alive, else its node (or None)."""
    if type(vertex) is autograd.Node:
        tensor = vertex.tensor_ref()
        return vertex if tensor is None else tensor
    return vertex


def _raw(value):
    return value.data if isinstance(value, Tensor) else value


def _to_array(data, dtype):
    """``data`` as a float array of the right backend: see the module docstring for the rules."""
    if isinstance(data, Tensor):
        data = data.data
    cupy = _backend._cupy
    if cupy is not None and isinstance(data, cupy.ndarray):
        xp = cupy
    else:
        xp = _backend.current_module()
    if dtype is None:
        kind = getattr(data, "dtype", None)
        dtype = kind if kind is not None and kind in FLOAT_DTYPES else _default_dtype
    else:
        dtype = as_float_dtype(dtype, "tensor")
    try:
        return xp.array(data, dtype=dtype, copy=True)
    except (TypeError, ValueError) as exc:
        raise DTypeError(f"tensor(): cannot make a {dtype} array from {type(data).__name__}: {exc}") from exc


def tensor(data, requires_grad=False, dtype=None, name=None):
    """A new leaf tensor holding a copy of ``data``.

    ``dtype`` defaults to the array's own dtype when ``data`` is a float32/float64 array, else to the
    default dtype (float32). The tensor is created on the current backend, unless ``data`` is a CuPy
    array, which stays on the GPU.
    """
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, name=name)


def check_same_backend(op, *tensors):
    """Raise :class:`BackendError` naming ``op`` if ``tensors`` do not all live on one backend."""
    first = type(tensors[0].data)
    for t in tensors[1:]:
        if type(t.data) is not first:
            described = ", ".join(f"{x.backend} {x.dtype}{x.shape}" for x in tensors)
            raise BackendError(
                f"{op}: operands live on different backends ({described}); move them to one backend "
                "with Tensor.to('numpy') or Tensor.to('cupy')"
            )


from minigan import ops  # noqa: E402  (ops needs Tensor defined first)
