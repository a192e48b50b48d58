"""The tape: grad mode, graph nodes, the reverse topological walk, ``backward`` and ``grad``.

Nodes and edges
---------------
An op whose inputs need gradients records a :class:`Node` on its output tensor (``tensor.grad_fn``).
The node holds the op's name, one edge per input, the op's ``backward`` function (written beside its
forward in :mod:`minigan.ops` or :mod:`minigan.nn`) and the values that backward needs — and nothing
else. An edge leads to the input's own node when the input is an op's output, to the input tensor
itself when it is a leaf (a tensor the user made with ``requires_grad=True``: that is where ``.grad``
is stored), and is None for an input that needs no gradient. Edges never hold an intermediate
tensor's data: once the user drops an intermediate result, its array lives on only if some op saved
it for its backward (a frozen layer's ``linear`` saves W, not its input; ``sigmoid`` saves its output,
not its input).

Backward functions
------------------
``backward(g, needs, *saved)`` receives g = ∂L/∂(output), a tuple ``needs`` saying which inputs want a
gradient in this pass, and the saved values, and returns one gradient (or None) per input. It is
written with arithmetic operators, methods that arrays and tensors share (``sum``, ``reshape``,
``transpose``, ``T``, indexing) and the functions of ``xp = namespace(g)``:

- in an ordinary backward pass g and the saved values are backend arrays and ``xp`` is NumPy (or
  CuPy): the pass is plain array code, as fast as hand-written NumPy;
- with ``create_graph=True`` they are tensors and ``xp`` is :mod:`minigan.ops`: the same lines are
  recorded on the tape as ops, so the gradient has a graph of its own and can be differentiated
  again — to any order, since every op's backward is made of ops that have backwards.

An op recorded without ``saved`` (``Tensor._from_op(out, parents, backward, op)`` with
``backward(g)`` on arrays, the first-order interface) still works in every first-order pass; under
``create_graph=True`` its gradient becomes a tensor whose own backward raises, naming the op.

The walk
--------
``backward`` walks the graph once, children before parents (an iterative depth-first sort, so a chain
of any depth works without touching Python's recursion limit), sums the gradients arriving at each
node, runs the node's hooks, and hands the sum to the node's backward. Each backward's result is
checked — one gradient per input, each of its input's shape — and a wrong one is an error naming the
op; ``.grad`` fields are written only after the whole walk has succeeded. Afterwards each node's
backward and saved values are dropped unless ``retain_graph`` is true (its default is
``create_graph``).

Watching
--------
Anomaly mode (:mod:`minigan.anomaly`), the profiler and the op trace (:mod:`minigan.profiler`) look at
every op without being part of any: each attaches a watcher (:func:`watch`) that ``Tensor._from_op``
tells about each output it makes and the walk tells about each backward it runs. While nothing is
attached an op pays for one test of a module flag.

What ``.grad`` holds: a backend array after an ordinary backward pass; after
``backward(create_graph=True)`` a tensor on the tape (its array is ``.grad.data``), so that it can be
differentiated. :func:`grad` returns gradients without touching ``.grad`` at all, and is the better
tool for gradient penalties and Hessian-vector products.
"""

import sys
import weakref

import numpy as np

from minigan.errors import DTypeError, GraphError, ShapeError

_grad_enabled = True
_watchers = ()     # what anomaly mode, the profiler and MINIGAN_DEBUG's op trace attach: see watch()
_watching = False  # the one flag every op tests: bool(_watchers)


def is_grad_enabled():
    """True unless inside ``no_grad()``: whether new ops record themselves on the tape."""
    return _grad_enabled


class _GradMode:
    """Sets grad mode for a ``with`` block or, used as a decorator, for a function call."""

    mode = True

    def __enter__(self):
        global _grad_enabled
        self._previous, _grad_enabled = _grad_enabled, self.mode
        return self

    def __exit__(self, *exc_info):
        global _grad_enabled
        _grad_enabled = self._previous
        return False

    def __call__(self, function):
        def wrapped(*args, **kwargs):
            with type(self)():
                return function(*args, **kwargs)

        wrapped.__name__ = function.__name__
        wrapped.__doc__ = function.__doc__
        wrapped.__wrapped__ = function
        return wrapped


class no_grad(_GradMode):
    """``with minigan.no_grad():`` — ops inside record nothing and their outputs need no gradient."""

    mode = False


class enable_grad(_GradMode):
    """``with minigan.enable_grad():`` — turn recording back on inside a ``no_grad`` block."""

    mode = True


def watch(watcher):
    """Attach ``watcher`` to every op until :func:`unwatch`: the tools that look inside a run use this.

    A watcher has five methods. ``forward(out, parents, op)`` runs as each op's output tensor is made
    (``op`` is its name; ``parents`` its input tensors). In a backward pass, around each node's backward:
    ``backward_start(node, g)``, then ``backward_end(node, g, grads)`` with the gradients it returned,
    or ``backward_failed(node, exc)`` if it raised. Op names None are tensors the engine makes for
    itself (new leaves, constants), not ops. While no watcher is attached each op pays for one test of
    the flag ``_watching`` and nothing else.
    """
    global _watchers, _watching
    _watchers = _watchers + (watcher,)
    _watching = True


def unwatch(watcher):
    """Detach ``watcher`` (attached by :func:`watch`); a watcher that is not attached is ignored."""
    global _watchers, _watching
    _watchers = tuple(w for w in _watchers if w is not watcher)
    _watching = bool(_watchers)


def notify_forward(out, parents, op):
    """Tell every watcher that op ``op`` made ``out`` from ``parents`` (called by ``Tensor._from_op``)."""
    for watcher in _watchers:
        watcher.forward(out, parents, op)


class RemovableHandle:
    """Returned by ``register_hook``: ``handle.remove()`` takes the hook off again."""

    def __init__(self, hooks, hook):
        self._hooks = hooks
        self._hook = hook

    def remove(self):
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


class _Output:
    """The marker an op puts in ``saved`` for its own output (see :class:`Node`)."""

    def __repr__(self):
        return "OUTPUT"


OUTPUT = _Output()


class Node:
    """One recorded op: its name, its edges to its inputs, its backward, and what that backward needs.

    ``parents`` has one entry per input: the input's Node, the input tensor itself if it is a leaf, or
    None if it needs no gradient. ``needs[i]`` is True where ``parents[i]`` is not None. ``saved`` holds
    the tensors the backward reads (inputs, as tensors) and, where the op saved :data:`OUTPUT` (always
    the last entry of ``saved``), the output's array; the backward receives them as arrays in an ordinary pass and as tensors under
    ``create_graph`` (the output then as a tensor whose node is this one, so that a second derivative
    flows back through the op). ``shape`` and ``dtype`` are the output's.
    """

    __slots__ = ("op", "parents", "needs", "backward", "saved", "shape", "dtype", "hooks", "retains_grad",
                 "tensor_ref", "trace")  # trace: where the op was made, kept in anomaly mode only

    def __init__(self, op, parents, needs, backward, saved, out):
        data = out.data
        self.op = op
        # An edge to the input's node, or to the input itself if it is a leaf (``_node`` is None then).
        if len(parents) == 1:  # most ops have one or two inputs: no comprehension for them
            self.parents = ((parents[0]._node or parents[0]) if needs[0] else None,)
        elif len(parents) == 2:
            a, b = parents
            self.parents = ((a._node or a) if needs[0] else None, (b._node or b) if needs[1] else None)
        else:
            self.parents = tuple([(p._node or p) if need else None for p, need in zip(parents, needs)])
        self.needs = needs
        self.backward = backward
        if saved and saved[-1] is OUTPUT:
            saved = saved[:-1] + (data,)
        self.saved = saved
        self.shape = data.shape
        self.dtype = data.dtype
        self.hooks = None
        self.retains_grad = False
        self.tensor_ref = weakref.ref(out)

    # A node stands in for its tensor in graph listings once the tensor itself is gone.
    requires_grad = True
    is_leaf = False

    @property
    def name(self):
        """The name of the tensor this node produced, if that tensor is still alive and has one."""
        tensor = self.tensor_ref()
        return None if tensor is None else tensor.name

    @property
    def grad_fn(self):
        return self

    def __repr__(self):
        return f"<Node {self.op} {self.shape} {self.dtype}>"


def vertex_of(tensor):
    """The tensor's place in the graph: its node if an op produced it, else the (leaf) tensor itself."""
    return tensor._node if tensor._node is not None else tensor


def topological_order(*roots):
    """The vertices (nodes, and leaf tensors) the roots depend on, each after all its parents.

    ``roots`` are tensors or vertices. Iterative depth-first post-order: the graph's depth is limited
    by memory only.
    """
    order = []
    visited = set()
    for root in roots:
        if hasattr(root, "_node"):
            root = vertex_of(root)
        stack = [(root, False)]
        while stack:
            vertex, parents_done = stack.pop()
            if parents_done:
                order.append(vertex)
                continue
            if vertex in visited:
                continue
            visited.add(vertex)
            stack.append((vertex, True))
            if type(vertex) is Node:
                for parent in vertex.parents:
                    if parent is not None and parent not in visited:
                        stack.append((parent, False))
    return order


def _leading_to(order, wanted):
    """The vertices of ``order`` (topological) from which some vertex of ``wanted`` can be reached."""
    relevant = set()
    for vertex in order:
        if vertex in wanted or (type(vertex) is Node and any(p in relevant for p in vertex.parents if p is not None)):
            relevant.add(vertex)
    return relevant


def _check_not_freed(order, relevant):
    for vertex in order:
        if type(vertex) is Node and vertex.backward is None and (relevant is None or vertex in relevant):
            raise GraphError(
                f"backward through a freed graph: the output of {vertex.op!r} (shape {vertex.shape}) "
                "already had its graph freed by an earlier backward(). Pass retain_graph=True to the "
                "first backward() to backpropagate through the same graph twice."
            )


def _as_tensor(value):
    if isinstance(value, Tensor):
        return value
    return Tensor._from_op(value, (), None, None)


def _seed(root, grad, create_graph, who):
    """The gradient that starts the walk at ``root``: an array, or a tensor under ``create_graph``."""
    xp = root.xp
    if grad is None:
        if root.data.size != 1:
            raise GraphError(
                f"{who} on a tensor of shape {root.shape} needs a gradient for it, an array of that shape: "
                "only the gradient of a single-element tensor defaults to 1"
            )
        seed = xp.ones_like(root.data)
        return _as_tensor(seed) if create_graph else seed
    if isinstance(grad, Tensor):
        if grad.shape != root.shape:
            raise ShapeError(f"{who}: the gradient has shape {grad.shape}, but the tensor has shape {root.shape}")
        if type(grad.data) is not type(root.data):
            raise GraphError(f"{who}: the gradient lives on the {grad.backend} backend, the tensor on {root.backend}")
        if create_graph:  # kept as it is: a gradient that requires grad can be differentiated through
            return grad if grad.dtype == root.dtype else grad.astype(root.dtype)
        grad = grad.data
    try:
        seed = xp.array(grad, dtype=root.dtype, copy=True)
    except TypeError as exc:
        raise GraphError(
            f"{who}: a gradient of type {type(grad).__name__} cannot be used for a tensor on the "
            f"{root.backend} backend ({exc})"
        ) from exc
    if seed.shape != root.shape:
        raise ShapeError(f"{who}: the gradient has shape {seed.shape}, but the tensor has shape {root.shape}")
    return _as_tensor(seed) if create_graph else seed


def _run_hooks(hooks, vertex, grad):
    is_tensor = isinstance(grad, Tensor)
    for hook in list(hooks):  # a hook may remove itself: every hook registered now still runs
        replaced = hook(grad)
        if replaced is None:
            continue
        if replaced.shape != grad.shape or replaced.dtype != grad.dtype:
            error = ShapeError if replaced.shape != grad.shape else DTypeError
            raise error(
                f"a gradient hook on a tensor of shape {vertex.shape} and dtype {vertex.dtype} returned shape "
                f"{replaced.shape} and dtype {replaced.dtype}; a hook must return None or a value of the "
                "gradient's shape and dtype"
            )
        if is_tensor:
            grad = _as_tensor(replaced)
        elif isinstance(replaced, Tensor):
            grad = replaced.data.copy()
        else:
            grad = replaced.copy() if replaced is not grad else replaced  # the hook's array stays the caller's
    return grad


def _backward_on_tensors(node, g, needs):
    """Run ``node``'s backward on tensors under ``create_graph``, so that it records itself."""
    saved = node.saved
    with enable_grad():
        if saved is None:  # an op with the first-order interface: backward(g) on arrays
            grads = node.backward(g.data)
            return tuple(None if x is None else _once_differentiable(x, g, node) for x in grads)
        values = [s if s is None or isinstance(s, Tensor) else Tensor._from_node(s, node) for s in saved]
        grads = node.backward(g, needs, *values)
    return tuple(x if x is None or isinstance(x, Tensor) else _as_tensor(x) for x in grads)


def _once_differentiable(array, g, node):
    """The gradient of a first-order-only op as a tensor on the tape, depending on g and on the op's
    inputs, whose own backward says why it cannot be differentiated."""
    op = node.op

    def backward(gg, needs, *saved):
        raise GraphError(
            f"op {op!r} was recorded with a backward on arrays only (Tensor._from_op without saved=), so "
            "its gradient cannot be differentiated again. Write its backward with operators on its "
            "arguments and pass the values it reads as saved=(...) to make it twice differentiable."
        )

    out = Tensor._from_node(array, None)
    out._node = Node(f"{op}_backward", (g,), (g.requires_grad,), backward, (), out)
    out._node.parents += node.parents
    out._node.needs = tuple(p is not None for p in out._node.parents)
    return out


def _walk(seeds, retain_graph, create_graph, wanted=None):
    """Backpropagate ``seeds`` ({vertex: gradient}) through the graph.

    With ``wanted`` None, return the (tensor, gradient) pairs for ``.grad``: every leaf reached and
    every node whose tensor called ``retain_grad()``. Otherwise ``wanted`` is a set of vertices; only
    the part of the graph leading to them is run and their gradients are returned as a dict.
    """
    order = topological_order(*seeds)
    relevant = None if wanted is None else _leading_to(order, wanted)
    _check_not_freed(order, relevant)
    pending = dict(seeds)
    finished = []
    captured = {}
    while order:
        # Popping (reverse topological order) drops this function's reference to each node once it is
        # done, so an intermediate result whose consumers have all run is freed during the backward
        # pass, not after it: the graph's saved activations go as the gradient passes them.
        vertex = order.pop()
        g = pending.pop(vertex, None)
        if g is None:
            continue
        if type(vertex) is not Node:  # a leaf tensor
            if vertex._hooks:
                g = _run_hooks(vertex._hooks, vertex, g)
            if wanted is None:
                finished.append((vertex, g))
            elif vertex in wanted:
                captured[vertex] = g
            continue
        if vertex.hooks:
            g = _run_hooks(vertex.hooks, vertex, g)
        if wanted is None:
            if vertex.retains_grad:
                tensor = vertex.tensor_ref()
                if tensor is not None:
                    finished.append((tensor, g))
            needs = vertex.needs
        else:
            if vertex in wanted:
                captured[vertex] = g
            needs = tuple(p is not None and p in relevant for p in vertex.parents)
            if not any(needs):
                continue
        saved = vertex.saved
        if _watching:  # anomaly mode, a profile, the op trace: the one test a node pays when none is on
            parent_grads = _watched_backward(vertex, g, needs, create_graph)
        elif create_graph:  # (_run_backward's three cases, inline: this is the hot loop)
            parent_grads = _backward_on_tensors(vertex, g, needs)
        elif saved is None:  # an op with the first-order interface: backward(g) on arrays
            parent_grads = vertex.backward(g)
        else:                # the ordinary pass: arrays in, arrays out
            parent_grads = vertex.backward(g, needs, *[s.data if isinstance(s, Tensor) else s for s in saved])
        if len(parent_grads) != len(vertex.parents):
            raise _noted(RuntimeError(
                f"the backward of op {vertex.op!r} returned {len(parent_grads)} gradients for its "
                f"{len(vertex.parents)} inputs: it must return one (an array or None) per input"
            ), vertex)
        for parent, parent_grad, needed in zip(vertex.parents, parent_grads, needs):
            if parent_grad is None or not needed:
                continue
            if parent_grad.shape != parent.shape:
                raise _noted(ShapeError(
                    f"the backward of op {vertex.op!r} returned a gradient of shape {parent_grad.shape} "
                    f"for an input of shape {parent.shape} (output shape {vertex.shape}); each gradient "
                    "must have its input's shape (sum over broadcast axes)"
                ), vertex)
            if parent_grad.dtype != parent.dtype:
                parent_grad = parent_grad.astype(parent.dtype)
            if parent in pending:
                _accumulate(pending, parent, parent_grad)
            else:
                pending[parent] = parent_grad
        if not retain_graph:  # the edges stay (they hold nodes, no data), so the graph's shape is known
            vertex.backward = None
            vertex.saved = None
    return finished if wanted is None else captured


def _noted(exc, node):
    """``exc``, with a note of where ``node``'s op was made if anomaly mode recorded it."""
    if getattr(node, "trace", None):
        from minigan.anomaly import format_stack

        exc.add_note(f"(anomaly mode) op {node.op!r} was made in the forward pass at:\n" + format_stack(node.trace))
    return exc


def _run_backward(node, g, needs, create_graph):
    """The gradients ``node``'s backward returns for its inputs, given g = ∂L/∂(its output) (the same
    three cases as :func:`_walk`'s loop, which has them inline)."""
    saved = node.saved
    if create_graph:
        return _backward_on_tensors(node, g, needs)
    if saved is None:
        return node.backward(g)
    return node.backward(g, needs, *[s.data if isinstance(s, Tensor) else s for s in saved])


def _watched_backward(node, g, needs, create_graph):
    """:func:`_run_backward` with every watcher told before and after (see :func:`watch`)."""
    watchers = _watchers
    for watcher in watchers:
        watcher.backward_start(node, g)
    try:
        grads = _run_backward(node, g, needs, create_graph)
    except Exception as exc:
        for watcher in watchers:
            watcher.backward_failed(node, exc)
        raise
    for watcher in watchers:
        watcher.backward_end(node, g, grads)
    return grads


def _accumulate(pending, vertex, grad):
    """pending[vertex] += grad: in place when the running sum is an array no one else can see, else a
    new array (or tensor).

    A gradient that reaches a vertex along several edges (a weight used on the real and on the fake
    batch) is summed. Adding in place saves an array the size of the gradient, but only if nothing
    else refers to the running sum: a backward may have returned the same array for two inputs (add
    does), a hook may have kept it, or it may be a view of another array. So the sum is changed in
    place only when it owns its memory and its only references are the dict entry and this call's
    (CPython's reference count; NumPy elides temporaries by the same test).
    """
    total = pending[vertex]
    if (not isinstance(total, Tensor) and total.flags.owndata and getattr(total.flags, "writeable", True)
            and total.dtype == grad.dtype and total.shape == grad.shape and sys.getrefcount(total) == 3):
        total += grad
    else:
        pending[vertex] = total + grad


def _as_sequence(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _seeds(outputs, grad_outputs, create_graph, who):
    outputs = _as_sequence(outputs)
    grads = [None] * len(outputs) if grad_outputs is None else _as_sequence(grad_outputs)
    if len(grads) != len(outputs):
        raise ValueError(f"{who}: got {len(grads)} gradients for {len(outputs)} outputs")
    seeds = {}
    for output, grad in zip(outputs, grads):
        if not getattr(output, "requires_grad", False):
            raise GraphError(
                f"{who} on a tensor that does not require grad: none of its inputs had "
                "requires_grad=True, or it was computed inside no_grad()"
            )
        seed = _seed(output, grad, create_graph, who)
        vertex = vertex_of(output)
        seeds[vertex] = seeds[vertex] + seed if vertex in seeds else seed
    return seeds


def _wanted(inputs, who):
    inputs = _as_sequence(inputs)
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor):
            raise TypeError(f"{who}: input {i} is a {type(t).__name__}, expected a minigan Tensor")
        if not t.requires_grad:
            raise GraphError(f"{who}: input {i} (shape {t.shape}) does not require grad, so it has no gradient")
    return inputs


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate d(tensors)/d(leaf), weighted by ``grad_tensors``, into ``.grad`` of the leaves.

    ``tensors`` is a tensor or a sequence of them; ``grad_tensors`` the matching gradients of some
    scalar loss with respect to them (default 1 for single-element tensors). With ``inputs`` (tensors)
    only their ``.grad`` is filled and only the part of the graph leading to them is run.
    ``retain_graph`` defaults to ``create_graph``; with ``create_graph=True`` the gradients stored in
    ``.grad`` are tensors on the tape (module docstring). Raises :class:`GraphError` before changing
    anything if a tensor does not require grad, if a gradient is missing for a non-scalar tensor, or
    if part of the graph was freed.
    """
    if retain_graph is None:
        retain_graph = create_graph
    with _grad_mode(create_graph):
        seeds = _seeds(tensors, grad_tensors, create_graph, "backward()")
        if inputs is None:
            finished = _walk(seeds, retain_graph, create_graph)
        else:
            targets = _wanted(inputs, "backward()")
            captured = _walk(seeds, retain_graph, create_graph, {vertex_of(t) for t in targets})
            finished = [(t, captured[vertex_of(t)]) for t in targets if vertex_of(t) in captured]
        # Stored only now, so that an op's backward failing half-way leaves every .grad as it was.
        stored = set()  # ids of arrays already kept as some tensor's .grad: never store one twice.
        for tensor, g in finished:
            _store_gradient(tensor, g, stored)
        del finished


def _grad_mode(create_graph):
    """Backward passes run with grad mode on exactly when they build a graph (PyTorch's rule), whatever
    the caller's mode: ``grad(..., create_graph=True)`` inside ``no_grad()`` still records."""
    return enable_grad() if create_graph else no_grad()


def _store_gradient(tensor, g, stored):
    """Add ``g`` into ``tensor.grad``. A stored value is never shared with another tensor, a view, a
    hook that kept it, or the caller (a seed): an array is copied unless it is fresh and ours alone
    (the reference count says whether anyone else holds it); a tensor (create_graph) is copied as an op.
    """
    if tensor.grad is not None:
        tensor.grad = tensor.grad + g
        return
    if isinstance(g, Tensor):
        tensor.grad = g.astype(g.dtype)
        return
    if isinstance(g, np.generic):  # arithmetic on 0-d arrays gives NumPy scalars: keep a writable array
        g = np.asarray(g)
    # Held here by the caller's pair, its loop variable, this argument and getrefcount's own.
    if not g.flags.owndata or id(g) in stored or sys.getrefcount(g) > 4:
        g = g.copy()
    stored.add(id(g))
    tensor.grad = g


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=None,
         materialize_grads=False):
    """The gradients of ``outputs`` with respect to ``inputs``, as a tuple of tensors; no ``.grad`` changes.

    Like ``torch.autograd.grad``: ``grad_outputs`` weights each output (default 1 for single-element
    outputs); only the part of the graph that leads to ``inputs`` is run. With ``create_graph=True``
    the returned tensors are on the tape and can be differentiated again (to any order); otherwise
    they are new leaves that need no gradient. An input the outputs do not depend on raises
    :class:`GraphError`, unless ``allow_unused=True`` (its gradient is then None) or
    ``materialize_grads=True`` (zeros; ``allow_unused`` defaults to it, as in PyTorch).
    ``retain_graph`` defaults to ``create_graph``.

    "Depend" is read off the graph: a gradient in which an input enters only through a piecewise-
    constant mask (ReLU's [x > 0], the tie pattern of a max) does not depend on it — the derivative
    is zero wherever it exists — so under ``create_graph`` that input is unused by the gradient.
    """
    if allow_unused is None:
        allow_unused = materialize_grads
    if retain_graph is None:
        retain_graph = create_graph
    targets = _wanted(inputs, "grad()")
    with _grad_mode(create_graph):
        seeds = _seeds(outputs, grad_outputs, create_graph, "grad()")
        captured = _walk(seeds, retain_graph, create_graph, {vertex_of(t) for t in targets})
    results = []
    returned = set()
    for i, t in enumerate(targets):
        g = captured.get(vertex_of(t))
        if g is None:
            if not (allow_unused or materialize_grads):
                raise GraphError(
                    f"grad(): input {i} (shape {t.shape}) was not used to compute the outputs; pass "
                    "allow_unused=True to get None for it"
                )
            results.append(Tensor._from_op(t.xp.zeros_like(t.data), (), None, None) if materialize_grads else None)
            continue
        if not create_graph:  # an array (a hook's tensor became its array in _run_hooks)
            if not g.flags.owndata or id(g) in returned:
                g = g.copy()
            returned.add(id(g))
            g = Tensor._from_op(g, (), None, None)
        results.append(g)
    return tuple(results)


from minigan.tensor import Tensor  # noqa: E402  (at the end: tensor.py imports this module)
