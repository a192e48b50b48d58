"""``Module``, ``Parameter`` and ``Sequential``: the containers layers are built from.

A module owns parameters (tensors it learns), buffers (tensors it keeps but does not learn, such as
BatchNorm's running statistics) and sub-modules, all found by attribute assignment, as in PyTorch::

    class Net(Module):
        def __init__(self):
            super().__init__()
            self.fc = Dense(4, 2)           # a sub-module
            self.scale = Parameter([1.0])   # a parameter

        def forward(self, x):
            return self.fc(x) * self.scale
"""

from collections import OrderedDict

import numpy as np

from minigan import backends
from minigan.autograd import RemovableHandle
from minigan.errors import BackendError, DTypeError, ShapeError
from minigan.serialization import load_npz, save_npz
from minigan.tensor import Tensor, as_float_dtype


class Parameter(Tensor):
    """A tensor a module learns: a leaf with ``requires_grad=True`` unless told otherwise."""

    __slots__ = ()

    def __init__(self, data, requires_grad=True, dtype=None, name=None):
        super().__init__(data, requires_grad=requires_grad, dtype=dtype, name=name)


class Module:
    """Base class of layers and networks. Subclasses define ``forward``; call the module to run it."""

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", [])
        object.__setattr__(self, "_forward_hooks", [])
        object.__setattr__(self, "training", True)

    # ------------------------------------------------------------------------- registration
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"call Module.__init__() in {type(self).__name__}.__init__ before assigning {name!r}")
        if name in self._buffers and (value is None or isinstance(value, Tensor)) \
                and not isinstance(value, Parameter):
            self._buffers[name] = value  # a buffer stays a buffer when reassigned, as in PyTorch
            return
        for registry in (self._parameters, self._buffers, self._modules):
            registry.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        for registry in ("_parameters", "_buffers", "_modules"):
            table = self.__dict__.get(registry)
            if table is not None and name in table:
                return table[name]
        raise AttributeError(f"{type(self).__name__!r} has no attribute {name!r}")

    def __delattr__(self, name):
        for registry in (self._parameters, self._buffers, self._modules):
            if name in registry:
                del registry[name]
                return
        object.__delattr__(self, name)

    def register_buffer(self, name, value):
        """Keep tensor ``value`` as buffer ``name``: saved in the state dict, not learned."""
        if value is not None and not isinstance(value, Tensor):
            raise TypeError(f"register_buffer({name!r}): expected a Tensor or None, got {type(value).__name__}")
        self.__dict__.pop(name, None)
        self._buffers[name] = value

    # ------------------------------------------------------------------------------ running
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        for hook in tuple(self._forward_pre_hooks):
            replaced = hook(self, args)
            if replaced is not None:
                args = replaced if isinstance(replaced, tuple) else (replaced,)
        out = self.forward(*args, **kwargs)
        for hook in tuple(self._forward_hooks):
            replaced = hook(self, args, out)
            if replaced is not None:
                out = replaced
        return out

    def forward_pair(self, following, x):
        """``following(self(x))`` computed in one fused step, or None (the default) when this module
        has no fusion with ``following``. :class:`Sequential` asks before running two neighbours; a
        module that answers gives the numbers and gradients of the two calls, and changes no names,
        parameters or state-dict keys (``Dense`` then ``LeakyReLU`` on the CuPy backend does)."""
        return None

    def register_forward_pre_hook(self, hook):
        """Call ``hook(module, inputs)`` before each forward (``inputs``: the positional arguments, a
        tuple); a non-None result replaces them (a value that is not a tuple becomes a 1-tuple), as in
        PyTorch. Returns a handle whose ``remove()`` takes the hook off. :func:`~minigan.nn.spectral_norm`
        computes its weight this way."""
        self._forward_pre_hooks.append(hook)
        return RemovableHandle(self._forward_pre_hooks, hook)

    def register_forward_hook(self, hook):
        """Call ``hook(module, inputs, output)`` after each forward; a non-None result replaces the output.

        Returns a handle whose ``remove()`` takes the hook off. Combine with ``output.register_hook``
        to capture each layer's activations and their gradients.
        """
        self._forward_hooks.append(hook)
        return RemovableHandle(self._forward_hooks, hook)

    def train(self, mode=True):
        """Training mode (BatchNorm uses batch statistics, Dropout drops) for this module and its children."""
        for module in self.modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self):
        """Evaluation mode: BatchNorm uses its running statistics, Dropout passes everything."""
        return self.train(False)

    def zero_grad(self):
        """Forget every parameter's gradient (set ``.grad`` to None)."""
        for p in self.parameters():
            p.grad = None

    # ---------------------------------------------------------------------------- traversal
    def named_modules(self, prefix=""):
        """(dotted name, module) for this module and every module below it, depth first."""
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self):
        return (m for _, m in self.named_modules())

    def children(self):
        return iter(self._modules.values())

    def named_parameters(self):
        """(dotted name, parameter) for every parameter, e.g. ``("0.weight", ...)``; each only once."""
        seen = set()
        for prefix, module in self.named_modules():
            for name, p in module._parameters.items():
                if p is not None and p not in seen:
                    seen.add(p)
                    yield (f"{prefix}.{name}" if prefix else name), p

    def parameters(self):
        return [p for _, p in self.named_parameters()]

    def named_buffers(self):
        for prefix, module in self.named_modules():
            for name, b in module._buffers.items():
                if b is not None:
                    yield (f"{prefix}.{name}" if prefix else name), b

    def buffers(self):
        return [b for _, b in self.named_buffers()]

    # ---------------------------------------------------------------------------- state
    def state_dict(self):
        """``{dotted name: array copy}`` of every parameter and buffer, on their backend."""
        state = OrderedDict()
        for name, t in list(self.named_parameters()) + list(self.named_buffers()):
            state[name] = t.data.copy()
        return state

    def load_state_dict(self, state):
        """Copy ``state`` into the parameters and buffers. Every key, shape and dtype is checked first:
        a missing, extra, wrongly shaped or non-numeric entry raises naming it, and nothing is changed.
        Numbers are cast to each parameter's dtype (a float64 state loads into a float32 model)."""
        targets = OrderedDict(list(self.named_parameters()) + list(self.named_buffers()))
        missing = [k for k in targets if k not in state]
        extra = [k for k in state if k not in targets]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing key(s) {missing}")
            if extra:
                parts.append(f"unexpected key(s) {extra}")
            raise KeyError(f"{type(self).__name__}.load_state_dict: {'; '.join(parts)}")
        for name, t in targets.items():
            shape = tuple(np.shape(state[name]))
            if shape != t.shape:
                raise ShapeError(
                    f"{type(self).__name__}.load_state_dict: {name!r} has shape {shape} in the state dict "
                    f"but {t.shape} in the module"
                )
        converted = []
        for name, t in targets.items():
            value = _as_array(state[name])
            if value.dtype.kind not in "fiu":
                raise DTypeError(f"{type(self).__name__}.load_state_dict: {name!r} holds {value.dtype} values; "
                                 f"expected numbers (cast to {t.dtype})")
            converted.append(backends.to_backend(value, t.backend))
        for t, value in zip(targets.values(), converted):
            t.data[...] = value  # in place: views of the array (optimizer buffers) stay valid
        return self

    def save(self, path):
        """Write the state dict to ``path`` (``.npz``), atomically."""
        save_npz(path, self.state_dict())

    def load(self, path):
        """Load a state dict saved by :meth:`save` (checked as in :meth:`load_state_dict`)."""
        return self.load_state_dict(load_npz(path))

    def to(self, *args, backend=None, dtype=None):
        """Convert every parameter and buffer, and any ``.grad``, in place; return the module.

        As ``torch.nn.Module.to``: ``to("cupy")`` / ``to("numpy")`` moves to a backend, ``to("float64")``
        (or ``np.float64``, ``minigan.float64``) casts, ``to("cupy", "float64")`` does both, and so do the
        keywords ``backend=`` and ``dtype=``; ``to(tensor)`` takes the tensor's backend and dtype. The
        Parameter and buffer objects stay the same (BatchNorm's running statistics included); only
        their ``.data`` (and ``.grad``) is replaced, and only where it changes. A gradient that is a
        tensor on the tape (after ``backward(create_graph=True)``) becomes a converted leaf.

        Everything is checked, and every new array made, before anything changes: an unknown backend,
        an unusable GPU or a dtype other than float32/float64 raises and leaves the module as it was.

        Build optimizers after moving a module, as in PyTorch. One built before keeps the same
        Parameter objects, so it steps the converted values; its own state buffers (momentum,
        Adam's moments) follow each parameter's dtype and backend at its next step (see
        :mod:`minigan.optim`).
        """
        backend, dtype = _conversion_target(args, backend, dtype)

        def convert(array):
            moved = array if backend is None else backends.to_backend(array, backend)
            return moved if dtype is None or moved.dtype == dtype else moved.astype(dtype)

        tensors, seen = [], set()
        for t in self.parameters() + self.buffers():
            if id(t) not in seen:
                seen.add(id(t))
                tensors.append(t)
        updates = []
        for t in tensors:
            grad = t.grad
            if isinstance(grad, Tensor):
                new = convert(grad.data)
                grad = grad if new is grad.data else Tensor._from_op(new, (), None, None)
            elif grad is not None:
                grad = convert(grad)
            updates.append((t, convert(t.data), grad))
        for t, data, grad in updates:
            t.data, t.grad = data, grad
        return self

    def double(self):
        """Cast every parameter and buffer (and gradient) to float64 in place: ``to(dtype="float64")``."""
        return self.to(dtype=np.float64)

    def float(self):
        """Cast every parameter and buffer (and gradient) to float32 in place: ``to(dtype="float32")``."""
        return self.to(dtype=np.float32)

    def __repr__(self):
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        for name, child in self._modules.items():
            lines.append(f"  ({name}): " + repr(child).replace("\n", "\n  "))
        return lines[0] + ")" if len(lines) == 1 else "\n".join(lines) + "\n)"

    def extra_repr(self):
        return ""


def _conversion_target(args, backend, dtype):
    """(backend name or None, numpy dtype or None) from ``Module.to``'s arguments, checked."""
    if len(args) > 2:
        raise TypeError(f"Module.to: expected at most a backend and a dtype, got {len(args)} arguments")
    target = {"backend": backend, "dtype": dtype}
    for arg in args:
        if isinstance(arg, Tensor):
            given = {"backend": arg.backend, "dtype": arg.dtype}
        elif isinstance(arg, str) and arg in backends.BACKENDS:
            given = {"backend": arg}
        else:
            given = {"dtype": arg}
        for name, value in given.items():
            if target[name] is not None:
                raise TypeError(f"Module.to: {name} given twice (a second time as {value!r})")
            target[name] = value
    backend, dtype = target["backend"], target["dtype"]
    if backend is None and dtype is None:
        raise TypeError("Module.to: give a backend ('numpy' or 'cupy'), a dtype (float32 or float64), or both")
    if backend is not None:
        backends.module_for(backend)  # an unknown name, or CuPy without a usable GPU, raises here
    if dtype is not None:
        try:
            np.dtype(dtype)
        except TypeError:
            raise BackendError(
                f"Module.to: {dtype!r} is neither a backend ({', '.join(map(repr, backends.BACKENDS))}) "
                "nor a dtype (float32 or float64)") from None
        dtype = as_float_dtype(dtype, "Module.to")
    return backend, dtype


def _as_array(value):
    if isinstance(value, Tensor):
        return value.data
    if backends._cupy is not None and isinstance(value, backends._cupy.ndarray):
        return value
    return np.asarray(value)


class Sequential(Module):
    """Modules applied one after another: ``Sequential(Dense(2, 8), LeakyReLU(), Dense(8, 1))``.

    Before running a module, ``forward`` offers it the next one (:meth:`Module.forward_pair`): a pair
    that fuses runs as one step (on the CuPy backend: Dense then LeakyReLU), any other as two calls.
    A pair where either module has forward pre-hooks is never fused: the hooks must run first
    (:func:`~minigan.nn.spectral_norm` sets the weight in one).
    """

    def __init__(self, *modules):
        super().__init__()
        for i, module in enumerate(modules):
            if not isinstance(module, Module):
                raise TypeError(f"Sequential: argument {i} is a {type(module).__name__}, not a Module")
            setattr(self, str(i), module)

    def forward(self, x):
        modules = tuple(self._modules.values())
        i = 0
        while i < len(modules):
            fused = (modules[i].forward_pair(modules[i + 1], x) if i + 1 < len(modules)
                     and not (modules[i]._forward_pre_hooks or modules[i + 1]._forward_pre_hooks) else None)
            if fused is None:
                x = modules[i](x)
                i += 1
            else:
                x = fused
                i += 2
        return x

    def __getitem__(self, index):
        return list(self._modules.values())[index]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())
