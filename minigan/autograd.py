"""The tape: grad mode, the reverse topological walk, and gradient hooks.

Every op's output tensor remembers its ``parents`` and a ``backward`` function (written beside the op's
forward in :mod:`minigan.ops`) that maps the gradient of the output to one gradient per parent. That
is the whole tape: the graph is the set of tensors reachable through ``parents``.

``backward(root)`` walks that graph once, children before parents (an iterative depth-first sort, so
a chain of any depth works without touching Python's recursion limit), sums the gradients arriving at
each node, runs the node's hooks, and hands the sum to the node's backward. Gradients are stored only
on leaves (tensors created by the user with ``requires_grad=True``) and on tensors that asked for it
with ``retain_grad()``. Afterwards each node's backward function and parent links are dropped, which
frees the saved activations, unless ``retain_graph=True``. Each backward's result is checked — one
gradient per parent, each of its parent's shape — and a wrong one is an error naming the op; the
``.grad`` fields are written only after the whole walk has succeeded.

Gradients are plain backend arrays (``numpy.ndarray`` or ``cupy.ndarray``), not tensors: minigan
computes first derivatives only.
"""

from minigan.errors import GraphError, ShapeError

_grad_enabled = True


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


class RemovableHandle:
    """Returned by ``register_hook``: ``handle.remove()`` takes the hook off again."""

    def __init__(self, hooks, hook):
        self._hooks = hooks
        self._hook = hook

    def remove(self):
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


def topological_order(root):
    """The tensors ``root`` depends on through ops that need gradients, each after all its parents.

    Iterative depth-first post-order: the graph's depth is limited by memory only.
    """
    order = []
    visited = set()
    stack = [(root, False)]
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
            order.append(node)
            continue
        if node in visited:
            continue
        visited.add(node)
        stack.append((node, True))
        for parent in node._parents:
            if parent.requires_grad and parent not in visited:
                stack.append((parent, False))
    return order


def _check_not_freed(order):
    for node in order:
        if node._op is not None and node._backward is None:
            raise GraphError(
                f"backward through a freed graph: the output of {node._op!r} (shape {node.shape}) "
                "already had its graph freed by an earlier backward(). Pass retain_graph=True to the "
                "first backward() to backpropagate through the same graph twice."
            )


def _seed_gradient(root, grad):
    xp = root.xp
    if grad is None:
        if root.data.size != 1:
            raise GraphError(
                f"backward() on a tensor of shape {root.shape} needs `grad`, an array of that shape: "
                "only the gradient of a single-element tensor defaults to 1"
            )
        return xp.ones_like(root.data)
    if hasattr(grad, "requires_grad"):  # a Tensor: use its array
        grad = grad.data
    try:
        seed = xp.array(grad, dtype=root.dtype, copy=True)
    except TypeError as exc:
        raise GraphError(
            f"backward(): grad of type {type(grad).__name__} cannot be used for a tensor on the "
            f"{root.backend} backend ({exc})"
        ) from exc
    if seed.shape != root.shape:
        raise ShapeError(f"backward(): grad has shape {seed.shape}, but the tensor has shape {root.shape}")
    return seed


def _run_hooks(node, grad):
    for hook in node._hooks:
        replaced = hook(grad)
        if replaced is not None:
            if replaced.shape != grad.shape:
                raise ShapeError(
                    f"a gradient hook on a tensor of shape {node.shape} returned shape {replaced.shape}; "
                    "a hook must return None or an array of the gradient's shape"
                )
            grad = replaced
    return grad


def backward(root, grad=None, retain_graph=False):
    """Accumulate d(root)/d(leaf), weighted by ``grad``, into ``.grad`` of every leaf that needs it.

    ``grad`` is the gradient of some scalar loss with respect to ``root`` (default 1 for a
    single-element root). Raises :class:`GraphError` before changing anything if the root does not
    require grad, if ``grad`` is missing for a non-scalar root, or if part of the graph was freed.
    """
    if not root.requires_grad:
        raise GraphError(
            "backward() on a tensor that does not require grad: none of its inputs had "
            "requires_grad=True, or it was computed inside no_grad()"
        )
    seed = _seed_gradient(root, grad)
    order = topological_order(root)
    _check_not_freed(order)

    pending = {root: seed}
    finished = []  # (tensor, gradient) to store in .grad once the whole walk has succeeded
    while order:
        # Popping (reverse topological order) drops this function's reference to each node once it is
        # done, so an intermediate output whose consumers have all run is freed during the backward
        # pass, not after it: the graph's activations go as the gradient passes them.
        node = order.pop()
        g = pending.pop(node, None)
        if g is None:
            continue
        if node._hooks:
            hooked = _run_hooks(node, g)
            if hooked is not g:  # the hook's array stays the caller's: keep a copy of our own
                g = hooked.copy()
        if node._backward is None or node._retains_grad:
            finished.append((node, g))
        if node._backward is None:
            continue
        parent_grads = node._backward(g)
        if len(parent_grads) != len(node._parents):
            raise RuntimeError(
                f"the backward of op {node._op!r} returned {len(parent_grads)} gradients for its "
                f"{len(node._parents)} inputs: it must return one (an array or None) per input"
            )
        for parent, parent_grad in zip(node._parents, parent_grads):
            if parent_grad is None or not parent.requires_grad:
                continue
            if parent_grad.shape != parent.shape:
                raise ShapeError(
                    f"the backward of op {node._op!r} returned a gradient of shape {parent_grad.shape} "
                    f"for an input of shape {parent.shape} (output shape {node.shape}); each gradient "
                    "must have its input's shape (sum over broadcast axes)"
                )
            if parent_grad.dtype != parent.dtype:
                parent_grad = parent_grad.astype(parent.dtype)
            if parent in pending:
                pending[parent] = pending[parent] + parent_grad
            else:
                pending[parent] = parent_grad
        if not retain_graph:
            node._backward = None
            node._parents = ()
    # Stored only now, so that an op's backward failing half-way leaves every .grad as it was.
    stored = set()  # ids of arrays already kept as some tensor's .grad: never store one twice.
    for node, g in finished:
        _store_gradient(node, g, stored)


def _store_gradient(node, g, stored):
    """Add ``g`` into ``node.grad``. A stored array is never shared with another tensor or a view."""
    if node.grad is None:
        if not g.flags.owndata or id(g) in stored:
            g = g.copy()
        node.grad = g
        stored.add(id(g))
    else:
        node.grad = node.grad + g
