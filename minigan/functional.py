"""Jacobians, Hessians and their products with vectors: ``torch.autograd.functional`` for minigan.

Each function takes ``func`` (tensors in; a tensor or a tuple of tensors out) and the point ``inputs``
(a tensor, or a tuple of tensors: ``func(*inputs)`` is called), and is a few calls of
:func:`minigan.grad`. Write x for the inputs, y = f(x) for the outputs, J = ∂y/∂x for the Jacobian
and, for a scalar f, ∇f for its gradient and H = ∂²f/∂x² for its Hessian.

Reverse mode, the only mode minigan's tape has, gives vᵀJ directly. Everything else is built from it:

- ``vjp(func, x, v)`` = vᵀJ: one pass, ``grad(y, x, grad_outputs=v)``.
- ``jvp(func, x, v)`` = Jv, by the double-vjp trick. For a dummy cotangent u (zeros, requiring grad)
  ``w = grad(y, x, grad_outputs=u, create_graph=True)`` records w(u) = Jᵀu, a function *linear* in u;
  its own vjp with v is vᵀ ∂w/∂u = vᵀJᵀ, so ``grad(w, u, grad_outputs=v)`` is Jv. The value of u
  never matters (zeros keep it finite); two passes.
- ``jacobian(func, x)`` = J, of shape y.shape + x.shape: one vjp per output element, row k being
  ``grad(y, x, grad_outputs=eₖ)`` (``strategy="reverse-mode"``), or one jvp per input element, column k
  being ``grad(w, u, grad_outputs=eₖ)`` with w = Jᵀu recorded once (``strategy="forward-mode"``:
  fewer passes when y has more elements than x).
- ``hessian(func, x)`` = H: the Jacobian of the gradient, ``jacobian`` of
  x ↦ ``grad(f, x, create_graph=True)``.
- ``vhp(func, x, v)`` = vᵀH: the vjp of the gradient, ``grad(∇f, x, grad_outputs=v)``; two passes.
- ``hvp(func, x, v)`` = Hv: the jvp of the gradient, by the double-vjp trick on ∇f; three passes.
  H is symmetric for a twice continuously differentiable f, so hvp and vhp then agree and vhp is
  the cheaper one.

Conventions (PyTorch's)
-----------------------
- A single tensor ``inputs`` gives tensor results; a tuple gives tuples, one entry per input. vjp's
  and jvp's results are ``(func_output, product)``; so are hvp's and vhp's. The Jacobian is a tensor
  for one input and one output, a tuple when one of them is a tuple, and a tuple of tuples when both
  are, ``J[i][j]`` being ∂(output i)/∂(input j) of shape output_i.shape + input_j.shape; likewise
  ``H[i][j]`` has shape input_i.shape + input_j.shape.
- ``v`` has the shapes of the outputs (vjp) or of the inputs (jvp, hvp, vhp); it may be omitted only
  when that is a single tensor with one element (it is then 1).
- ``func`` sees fresh tensors: detached copies of the inputs that require grad, so the caller's tensors
  and their ``.grad`` are left alone, and the results are detached. With ``create_graph=True`` an
  input that requires grad enters through an identity op instead (a reshape to its own shape), and
  the outputs and results stay on the tape: they can be differentiated again, with respect to the
  caller's tensors.
- An output that does not depend on an input gives zeros; with ``strict=True`` it is a
  :class:`~minigan.errors.GraphError` naming the input instead (and, with ``create_graph=True`` too, so
  is a result that would not depend on the inputs, such as the Hessian of a quadratic).
- ``vectorize=True`` (PyTorch's vmap-batched rows) is not supported: it raises ``NotImplementedError``.
  ``strategy="forward-mode"`` is supported, through the double-vjp trick above, with ``strict`` and
  ``create_graph``.
"""

from minigan import autograd, ops
from minigan.autograd import enable_grad
from minigan.errors import GraphError, ShapeError
from minigan.tensor import Tensor

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]

STRATEGIES = ("reverse-mode", "forward-mode")


# ---------------------------------------------------------------------------------------- helpers
def _as_tuple(value, what, fn):
    """``(was_a_tuple, tensors)``: ``value`` (a tensor, or a tuple or list of tensors) as a tuple, checked."""
    is_tuple = isinstance(value, (tuple, list))
    values = tuple(value) if is_tuple else (value,)
    for i, t in enumerate(values):
        if not isinstance(t, Tensor):
            where = f"entry {i} of {what}" if is_tuple else what
            raise TypeError(
                f"{fn}: {where} must be a minigan Tensor (or {what} a tuple of them), got {type(t).__name__}"
            )
    return is_tuple, values


def _untuple(values, is_tuple):
    return values if is_tuple else values[0]


def _prepare(inputs, create_graph):
    """The tensors ``func`` is called with: new ones, so the caller's are never changed.

    Under ``create_graph`` an input that requires grad goes through an identity op (a view, as
    PyTorch's ``view_as``), so that gradients flow on to the caller's tensor; any other input becomes a
    detached leaf that requires grad. Either way each is a tensor of its own, even when the caller
    passes the same tensor twice.
    """
    return tuple(x.reshape(x.shape) if create_graph and x.requires_grad else x.detach().requires_grad_()
                 for x in inputs)


def _vectors(v, refs, refs_are_tuple, create_graph, fn, what):
    """``v`` as a tuple matching ``refs`` (the outputs for vjp, the inputs otherwise), checked."""
    if v is None:
        if len(refs) != 1 or refs[0].size != 1:
            shapes = ", ".join(str(r.shape) for r in refs)
            raise ShapeError(
                f"{fn}: v may be omitted only when {what} is a single tensor with one element; got {what} "
                f"of shape {shapes}: pass v, tensors of those shapes"
            )
        return (None,)
    _, v = _as_tuple(v, "v", fn)
    if len(v) != len(refs):
        raise ShapeError(f"{fn}: v has {len(v)} tensors, but {what} has {len(refs)}: pass one per tensor of {what}")
    for i, (vi, ref) in enumerate(zip(v, refs)):
        if vi.shape != ref.shape:
            where = f"entry {i} of v" if refs_are_tuple else "v"
            raise ShapeError(
                f"{fn}: {where} has shape {vi.shape}, but the tensor of {what} it goes with has shape {ref.shape}"
            )
    return tuple(vi.reshape(vi.shape) if create_graph and vi.requires_grad else vi.detach() for vi in v)


def _call(func, inputs, fn, strict):
    """``(was_a_tuple, outputs)`` of ``func(*inputs)``, checked to be tensors (and, if strict, on the tape)."""
    result = func(*inputs)
    if not isinstance(result, (Tensor, tuple, list)):
        raise TypeError(
            f"{fn}: func must return a minigan Tensor or a tuple of them, but returned a {type(result).__name__}"
        )
    is_tuple, outputs = _as_tuple(result, "the outputs of func", fn)
    _check_on_tape(outputs, fn, strict)
    return is_tuple, outputs


def _check_on_tape(outputs, fn, strict):
    """With ``strict``, refuse an output that no recorded op connects to the inputs."""
    for i, out in enumerate(outputs):
        if strict and not out.requires_grad:
            raise GraphError(
                f"{fn}(strict=True): output {i} of func does not require grad, so it depends on none of "
                "the inputs: compute it from them with recorded ops, or pass strict=False to get zeros"
            )


def _call_scalar(func, inputs, fn, strict):
    """The output of ``func(*inputs)``, checked to be one tensor with one element."""
    result = func(*inputs)
    if not isinstance(result, Tensor):
        raise TypeError(
            f"{fn}: func must return a single minigan Tensor with one element, but returned a {type(result).__name__}"
        )
    if result.size != 1:
        raise ShapeError(f"{fn}: func must return a tensor with one element, but returned one of shape {result.shape}")
    _check_on_tape((result,), fn, strict)
    return result


def _grad(outputs, inputs, grad_outputs=None, create_graph=False, retain_graph=None):
    """:func:`minigan.grad` of the outputs that require grad; None for each input they do not reach."""
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    pairs = [(out, g) for out, g in zip(outputs, grad_outputs) if out is not None and out.requires_grad]
    if not pairs:
        return (None,) * len(inputs)
    return autograd.grad([out for out, _ in pairs], list(inputs), [g for _, g in pairs], retain_graph=retain_graph,
                         create_graph=create_graph, allow_unused=True)


def _zeros_for_missing(grads, refs, strict, message):
    """``grads`` with each None replaced by zeros shaped like its ``refs`` entry, or, if strict, an error."""
    filled = []
    for i, (g, ref) in enumerate(zip(grads, refs)):
        if g is None:
            if strict:
                raise GraphError(message.format(i=i))
            g = ops.zeros_like(ref)
        filled.append(g)
    return tuple(filled)


def _finish(tensors, create_graph):
    """The results as the caller gets them: detached unless ``create_graph``."""
    return tuple(tensors) if create_graph else tuple(t.detach() for t in tensors)


def _check_options(fn, vectorize, strategy, name):
    if vectorize:
        raise NotImplementedError(
            f"{fn}: vectorize=True is not supported (minigan has no batched, vmap-style grad); "
            "vectorize=False gives the same result, one minigan.grad call per row or column"
        )
    if strategy not in STRATEGIES:
        raise ValueError(f"{fn}: {name} must be one of {', '.join(map(repr, STRATEGIES))}, got {strategy!r}")


def _one_hot(like, k):
    """eₖ: a backend array shaped like ``like``, 1 at flat index k and 0 elsewhere (a seed for grad)."""
    seed = like.xp.zeros(like.size, dtype=like.dtype)
    seed[k] = 1
    return seed.reshape(like.shape)


def _block(slices, shape, like, axis):
    """Stack the rows (axis 0) or columns (axis −1) of one Jacobian block and give it ``shape``."""
    if not slices:  # an output (rows) or an input (columns) with no elements
        return Tensor._from_op(like.xp.zeros(shape, dtype=like.dtype), (), None, None)
    return ops.stack(slices, axis=axis).reshape(shape)


# ------------------------------------------------------------------------------ vjp and jvp
def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(*inputs), vᵀJ)``: the vector–Jacobian product, shaped like ``inputs``.

    ``v`` is shaped like the outputs (omit it for a single one-element output). One reverse pass:
    ``grad(outputs, inputs, grad_outputs=v)``.
    """
    with enable_grad():
        inputs_are_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        inputs = _prepare(inputs, create_graph)
        outputs_are_tuple, outputs = _call(func, inputs, "vjp", strict)
        v = _vectors(v, outputs, outputs_are_tuple, create_graph, "vjp", "the outputs of func")
        grads = _grad(outputs, inputs, v, create_graph=create_graph)
        grads = _zeros_for_missing(grads, inputs, strict,
                                   "vjp(strict=True): the outputs of func do not depend on input {i}")
    return (_untuple(_finish(outputs, create_graph), outputs_are_tuple),
            _untuple(_finish(grads, create_graph), inputs_are_tuple))


def _transposed_jacobian(outputs, inputs, strict, fn):
    """``(u, w)``: dummy cotangents u (zeros that require grad) and w = Jᵀu, recorded as a function of u."""
    dummies = tuple(ops.zeros_like(out, requires_grad=True) for out in outputs)
    vjps = _grad(outputs, inputs, dummies, create_graph=True)
    if strict:
        for i, w in enumerate(vjps):
            if w is None:
                raise GraphError(f"{fn}(strict=True): the outputs of func do not depend on input {i}")
    return dummies, vjps


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(*inputs), Jv)``: the Jacobian–vector product, shaped like the outputs.

    ``v`` is shaped like ``inputs`` (omit it for a single one-element input). The double-vjp trick
    (module docstring): w = Jᵀu for a dummy u, then ``grad(w, u, grad_outputs=v)``.
    """
    with enable_grad():
        inputs_are_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
        inputs = _prepare(inputs, create_graph)
        v = _vectors(v, inputs, inputs_are_tuple, create_graph, "jvp", "inputs")
        outputs_are_tuple, outputs = _call(func, inputs, "jvp", strict)
        dummies, vjps = _transposed_jacobian(outputs, inputs, strict, "jvp")
        products = _grad(vjps, dummies, v, create_graph=create_graph)
        products = _zeros_for_missing(products, outputs, strict,
                                      "jvp(strict=True): output {i} of func does not depend on the inputs")
    return (_untuple(_finish(outputs, create_graph), outputs_are_tuple),
            _untuple(_finish(products, create_graph), outputs_are_tuple))


# ------------------------------------------------------------------------------------ jacobian
def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False, strategy="reverse-mode"):
    """∂(outputs)/∂(inputs): ``J[i][j]`` of shape output_i.shape + input_j.shape (nesting: module docstring).

    ``strategy="reverse-mode"`` computes it a row at a time (one vjp per output element, dtype of the
    input), ``"forward-mode"`` a column at a time (one jvp per input element, dtype of the output).
    ``strict=True`` raises if an output does not depend on an input at all, and, with
    ``create_graph=True``, if a block would not depend on the inputs (a linear function's Jacobian).
    ``vectorize=True`` raises ``NotImplementedError``.
    """
    _check_options("jacobian", vectorize, strategy, "strategy")
    with enable_grad():
        inputs_are_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _prepare(inputs, create_graph)
        outputs_are_tuple, outputs = _call(func, inputs, "jacobian", strict)
        build = _jacobian_by_rows if strategy == "reverse-mode" else _jacobian_by_columns
        blocks = build(outputs, inputs, create_graph, strict)
        blocks = tuple(_finish(row, create_graph) for row in blocks)
    if not inputs_are_tuple:
        blocks = tuple(row[0] for row in blocks)
    return _untuple(blocks, outputs_are_tuple)


def _check_block(block, reached, i, j, create_graph, strict):
    if not strict:
        return
    if not reached:
        raise GraphError(f"jacobian(strict=True): output {i} of func does not depend on input {j}")
    if create_graph and not block.requires_grad:
        raise GraphError(
            f"jacobian(strict=True, create_graph=True): the Jacobian of output {i} with respect to input {j} "
            "does not depend on the inputs (func is linear in it), so it cannot be differentiated again"
        )


def _jacobian_by_rows(outputs, inputs, create_graph, strict):
    """Row k of each block ``J[i][j]`` is ``grad(output_i, inputs, grad_outputs=eₖ)[j]``."""
    blocks = []
    for i, out in enumerate(outputs):
        rows = [[] for _ in inputs]
        reached = [False] * len(inputs)
        for k in range(out.size):
            grads = _grad((out,), inputs, (_one_hot(out, k),), create_graph=create_graph, retain_graph=True)
            for j, (g, x) in enumerate(zip(grads, inputs)):
                reached[j] = reached[j] or g is not None
                rows[j].append(ops.zeros_like(x) if g is None else g)
        row = []
        for j, x in enumerate(inputs):
            block = _block(rows[j], out.shape + x.shape, x, 0)
            _check_block(block, reached[j], i, j, create_graph, strict)
            row.append(block)
        blocks.append(tuple(row))
    return blocks


def _jacobian_by_columns(outputs, inputs, create_graph, strict):
    """Column k of each block ``J[i][j]`` is ``grad(w_j, u, grad_outputs=eₖ)[i]``, with w = Jᵀu recorded once."""
    dummies, vjps = _transposed_jacobian(outputs, inputs, False, "jacobian")
    columns = [[[] for _ in inputs] for _ in outputs]
    reached = [[False] * len(inputs) for _ in outputs]
    for j, (w, x) in enumerate(zip(vjps, inputs)):
        for k in range(x.size if w is not None else 0):
            grads = _grad((w,), dummies, (_one_hot(w, k),), create_graph=create_graph, retain_graph=True)
            for i, (g, out) in enumerate(zip(grads, outputs)):
                reached[i][j] = reached[i][j] or g is not None
                columns[i][j].append((ops.zeros_like(out) if g is None else g).reshape((out.size,)))
    blocks = []
    for i, out in enumerate(outputs):
        row = []
        for j, x in enumerate(inputs):
            block = _block(columns[i][j], out.shape + x.shape, out, -1)
            _check_block(block, reached[i][j], i, j, create_graph, strict)
            row.append(block)
        blocks.append(tuple(row))
    return blocks


# ------------------------------------------------------------------------ hessian, vhp, hvp
def _gradient(outputs, inputs, strict, fn):
    """∇f = ``grad(f, inputs, create_graph=True)``, zeros where f does not reach an input."""
    gradient = _grad(outputs, inputs, create_graph=True)
    if strict:
        for i, g in enumerate(gradient):
            if g is None or not g.requires_grad:
                raise GraphError(
                    f"{fn}(strict=True): the gradient with respect to input {i} does not depend on the inputs "
                    "(func is linear in it, or does not use it), so its second derivatives are all zero"
                )
    return _zeros_for_missing(gradient, inputs, False, "")


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False, outer_jacobian_strategy="reverse-mode"):
    """∂²f/∂(inputs)²: ``H[i][j]`` of shape input_i.shape + input_j.shape; a tensor for a single input.

    ``func`` must return one tensor with one element. H is the Jacobian (by
    ``outer_jacobian_strategy``) of x ↦ ``grad(f, x, create_graph=True)``. ``strict=True`` raises if
    f's gradient with respect to an input does not depend on the inputs (f linear in it).
    ``vectorize=True`` raises ``NotImplementedError``.
    """
    _check_options("hessian", vectorize, outer_jacobian_strategy, "outer_jacobian_strategy")
    inputs_are_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")

    def gradient(*xs):
        return _gradient((_call_scalar(func, xs, "hessian", strict),), xs, strict, "hessian")

    blocks = jacobian(gradient, inputs, create_graph, strict, strategy=outer_jacobian_strategy)
    if not inputs_are_tuple:
        return blocks[0][0]
    return blocks


def _second_order_setup(func, inputs, v, create_graph, strict, fn):
    """The common start of vhp and hvp: the prepared inputs, v, f's output and ∇f on the tape."""
    inputs_are_tuple, inputs = _as_tuple(inputs, "inputs", fn)
    inputs = _prepare(inputs, create_graph)
    v = _vectors(v, inputs, inputs_are_tuple, create_graph, fn, "inputs")
    out = _call_scalar(func, inputs, fn, strict)
    return inputs_are_tuple, inputs, v, out, _gradient((out,), inputs, strict, fn)


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(*inputs), vᵀH)``, shaped like ``inputs``: the vjp of the gradient, ``grad(∇f, inputs, v)``.

    ``func`` must return one tensor with one element; ``v`` is shaped like ``inputs``.
    """
    with enable_grad():
        inputs_are_tuple, inputs, v, out, gradient = _second_order_setup(func, inputs, v, create_graph, strict, "vhp")
        products = _grad(gradient, inputs, v, create_graph=create_graph)
        products = _zeros_for_missing(products, inputs, strict,
                                      "vhp(strict=True): the gradient of func does not depend on input {i}")
    return _finish((out,), create_graph)[0], _untuple(_finish(products, create_graph), inputs_are_tuple)


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(*inputs), Hv)``, shaped like ``inputs``: the jvp of the gradient, by the double-vjp trick.

    ``func`` must return one tensor with one element; ``v`` is shaped like ``inputs``. Three passes;
    for a twice continuously differentiable f, H is symmetric and :func:`vhp` gives the same in two.
    """
    with enable_grad():
        inputs_are_tuple, inputs, v, out, gradient = _second_order_setup(func, inputs, v, create_graph, strict, "hvp")
        dummies = tuple(ops.zeros_like(x, requires_grad=True) for x in inputs)
        transposed = _grad(gradient, inputs, dummies, create_graph=True)
        products = _grad(transposed, dummies, v, create_graph=create_graph)
        products = _zeros_for_missing(products, inputs, strict,
                                      "hvp(strict=True): the gradient of func does not depend on input {i}")
    return _finish((out,), create_graph)[0], _untuple(_finish(products, create_graph), inputs_are_tuple)
