"""einsum — sums of products written with index letters — and outer, its simplest case.

``einsum("ij,jk->ik", A, B)`` is A @ B: each operand's axes are named by letters; letters shared by
operands are multiplied elementwise, letters missing from the output are summed over. As in
``numpy.einsum`` and ``torch.einsum``:

- the output is given after ``->`` (explicit mode) or, without it, is every letter that occurs exactly
  once, in alphabetical order (uppercase first), after the ellipsis axes (implicit mode);
- ``...`` stands for the leading axes an operand has beyond its letters; these broadcast between
  operands by NumPy's rules, and so do named axes of size 1. An output without ``...`` sums the
  ellipsis axes away (as PyTorch; NumPy refuses);
- a letter repeated in one operand takes a diagonal (``ii->i``), or a trace when summed (``ii->``).

Backward
--------
The gradient for operand k is again an einsum: of g (spelled with the output's letters) and every
other operand, producing operand k's letters. Two kinds of constant factors complete it:

- where a letter is repeated in operand k (``ii``), the gradient lives on the diagonal only: the
  repeat gets a fresh letter I and an identity matrix factor ``iI``;
- where a letter occurs in operand k only (summed away in the forward, ``ij->i``), every element
  along it received the same gradient: a vector of ones ``j`` factor broadcasts it back.

So ``d/dA einsum("ii,ij->j", A, B)`` is ``einsum("j,ij,iI->iI", g, B, eye)``, and the double backward
is einsum again, to any order. Size-1 axes that broadcast against other operands are stretched with
:func:`~minigan.ops.shape.broadcast_to` before the contraction, whose backward sums them back.
"""

import string

from minigan.errors import ShapeError
from minigan.ops.broadcasting import constant_like, operands as binary_operands
from minigan.ops.namespace import array_of, namespace
from minigan.ops.shape import broadcast_to
from minigan.tensor import Tensor, check_same_backend

LETTERS = string.ascii_letters


def einsum(subscripts, *operands, optimize=True):
    """The sum of products ``subscripts`` describes (see the module docstring), as ``numpy.einsum``.

    ``operands`` are tensors (or arrays and numbers, which take the first tensor's dtype); they may also
    be passed as one list. ``optimize`` is handed to the backend's einsum: whether it looks for a
    cheaper order of contraction (and BLAS); the result is the same either way, up to rounding.
    da_k = einsum(g, the other operands, identity and ones factors → operand k's letters).
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    tensors = _as_tensors(operands)
    terms, output, ellipsis = _parse(subscripts, [t.shape for t in tensors])
    sizes = _letter_sizes(subscripts, terms, tensors, ellipsis)
    full_shapes = [tuple(sizes[c] for c in term) for term in terms]
    tensors = [t if t.shape == full else broadcast_to(t, full) for t, full in zip(tensors, full_shapes)]
    return _contract(terms, output, tensors, sizes, optimize)


def _as_tensors(operands):
    if not operands:
        raise ShapeError("einsum: no operands given after the subscripts")
    first = next((x for x in operands if isinstance(x, Tensor)), None)
    if first is None:
        raise TypeError("einsum: expected at least one minigan Tensor among the operands, got "
                        + ", ".join(type(x).__name__ for x in operands))
    tensors = [x if isinstance(x, Tensor) else constant_like(x, first, "einsum") for x in operands]
    check_same_backend("einsum", *tensors)
    return tensors


def _check_term(subscripts, term, where):
    rest = term.replace("...", "", 1)
    for c in rest:
        if c not in LETTERS:
            what = ("a second '...'" if "..." in rest else "a '.' outside '...'" if c == "."
                    else f"the character {c!r}")
            raise ShapeError(f"einsum: {what} in {where} of subscripts {subscripts!r}; use letters a-z, A-Z "
                             "and at most one '...' per operand")


def _parse(subscripts, shapes):
    """Each operand's letters and the output's, with ``...`` replaced by letters of its own."""
    if not isinstance(subscripts, str):
        raise TypeError(f"einsum: subscripts must be a string such as 'ij,jk->ik', got {type(subscripts).__name__}")
    spec = subscripts.replace(" ", "")
    inputs, arrow, output = spec.partition("->")
    if "->" in output:
        raise ShapeError(f"einsum: subscripts {subscripts!r} must have at most one '->'")
    terms = inputs.split(",")
    if len(terms) != len(shapes):
        raise ShapeError(f"einsum: subscripts {subscripts!r} name {len(terms)} operand(s), but {len(shapes)} "
                         "were given")
    extra = []
    for k, (term, shape) in enumerate(zip(terms, shapes)):
        _check_term(subscripts, term, f"operand {k}")
        named = len(term.replace("...", ""))
        if len(shape) < named or (len(shape) != named and "..." not in term):
            raise ShapeError(f"einsum: operand {k} has shape {shape} ({len(shape)} axes), but its subscripts "
                             f"{term!r} name {named}{' or more' if '...' in term else ''}")
        extra.append(len(shape) - named)
    if arrow:
        _check_term(subscripts, output, "the output")
    free = [c for c in LETTERS if c not in spec]
    n_ellipsis = max((e for e, term in zip(extra, terms) if "..." in term), default=0)
    if n_ellipsis > len(free):
        raise ShapeError(f"einsum: subscripts {subscripts!r} use too many axes: at most {len(LETTERS)} letters "
                         "in all")
    ellipsis = "".join(free[len(free) - n_ellipsis:])
    terms = [term.replace("...", ellipsis[n_ellipsis - e:]) for term, e in zip(terms, extra)]
    letters = "".join(terms)
    if not arrow:
        singles = sorted(c for c in set(letters) - set(ellipsis) if letters.count(c) == 1)
        return terms, ellipsis + "".join(singles), ellipsis
    output = output.replace("...", ellipsis)
    for c in output:
        if output.count(c) > 1:
            raise ShapeError(f"einsum: the output letter {c!r} of subscripts {subscripts!r} occurs more than once")
        if c not in letters:
            raise ShapeError(f"einsum: the output letter {c!r} of subscripts {subscripts!r} names no axis of "
                             "any operand")
    return terms, output, ellipsis


def _letter_sizes(subscripts, terms, tensors, ellipsis):
    """The size of each letter, checked: equal wherever it occurs, except that 1 broadcasts."""
    sizes, first_seen = {}, {}
    for k, (term, t) in enumerate(zip(terms, tensors)):
        for c in set(term):
            if len({n for x, n in zip(term, t.shape) if x == c}) > 1:
                raise ShapeError(f"einsum: the letter {c!r} is repeated in operand {k} of {subscripts!r} on axes "
                                 f"of different sizes (shape {t.shape})")
        for c, n in zip(term, t.shape):
            known = sizes.get(c)
            if known is None or (known == 1 and n != 1):
                sizes[c], first_seen[c] = n, k
            elif n not in (1, known):
                j = first_seen[c]
                what = (f"the '...' axes of operand {j} (shape {tensors[j].shape}) and operand {k} (shape "
                        f"{t.shape}) do not broadcast" if c in ellipsis else
                        f"the letter {c!r} has size {known} in operand {j} but {n} in operand {k} (shape "
                        f"{t.shape})")
                raise ShapeError(f"einsum: in {subscripts!r}, {what}; sizes must agree or be 1")
    return sizes


def _contract(terms, output, tensors, sizes, optimize):
    """The einsum op itself, on operands whose letters have one size each."""
    xp = tensors[0].xp
    subscripts = ",".join(terms) + "->" + output
    out = xp.einsum(subscripts, *[t.data for t in tensors], optimize=optimize)
    if any(xp.may_share_memory(out, t.data) for t in tensors):  # a transpose or a diagonal is a view
        out = out.copy()
    needs = [t.requires_grad for t in tensors]
    plans = [_gradient_plan(k, terms, output, sizes) if need else None for k, need in enumerate(needs)]

    def backward(g, needs, *operands):
        xp, arrays = namespace(g), namespace(array_of(g))
        grads = []
        for k, need in enumerate(needs):
            if not need:
                grads.append(None)
                continue
            spec, factors = plans[k]
            constants = [arrays.eye(n, dtype=g.dtype) if kind == "eye" else arrays.ones(n, dtype=g.dtype)
                         for kind, n in factors]
            others = operands[:k] + operands[k + 1:]
            grad = xp.einsum(spec, g, *others, *constants, optimize=optimize)
            grads.append(grad if isinstance(grad, Tensor) else arrays.asarray(grad))
        return tuple(grads)

    saved = tuple(t if any(need for j, need in enumerate(needs) if j != k) else None for k, t in enumerate(tensors))
    return Tensor._from_op(out, tuple(tensors), backward, "einsum", saved=saved)


def _gradient_plan(k, terms, output, sizes):
    """The einsum giving operand k's gradient, and its constant factors: ("eye" or "ones", size) each."""
    term = terms[k]
    fresh = iter(c for c in LETTERS if c not in "".join(terms) + output)
    target, factor_terms, factors = [], [], []
    for i, c in enumerate(term):
        if c in term[:i]:  # a repeat: the gradient lives on the diagonal c = new
            new = next(fresh, None)
            if new is None:
                raise ShapeError(f"einsum: too many letters to differentiate operand {k} ({term!r}): "
                                 f"at most {len(LETTERS)} in all")
            target.append(new)
            factor_terms.append(c + new)
            factors.append(("eye", sizes[c]))
        else:
            target.append(c)
    present = set(output + "".join(terms[:k] + terms[k + 1:]) + "".join(factor_terms))
    for c in dict.fromkeys(term):
        if c not in present:  # summed away in operand k alone: its gradient is the same all along c
            factor_terms.append(c)
            factors.append(("ones", sizes[c]))
    subscripts = ",".join([output] + terms[:k] + terms[k + 1:] + factor_terms) + "->" + "".join(target)
    return subscripts, factors


def outer(a, b):
    """out[i, j] = a[i] · b[j] for 1-D a and b (``torch.outer``);  da = g @ b,  db = gᵀ @ a."""
    a, b = binary_operands("outer", a, b)
    if a.ndim != 1 or b.ndim != 1:
        raise ShapeError(f"outer: expected two 1-D tensors, got shapes {a.shape} and {b.shape}")
    out = a.data[:, None] * b.data[None, :]

    def backward(g, needs, a, b):
        return (g @ b if needs[0] else None,
                g.T @ a if needs[1] else None)

    saved = (a if b.requires_grad else None, b if a.requires_grad else None)
    return Tensor._from_op(out, (a, b), backward, "outer", saved=saved)
