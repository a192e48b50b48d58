"""``gradcheck``: compare autograd's gradients with central finite differences.

The check reduces ``fn``'s output to a scalar with a fixed random cotangent v (not all ones, so a
backward that ignores or mishandles its incoming gradient is caught, for scalar outputs too):

    L(x) = Σ v ⊙ fn(x)

then compares, for each input that requires grad, the analytic gradient dL/dx from ``backward(v)``
with a numeric one:

- ``mode="full"``: every element i, (L(x + ε eᵢ) − L(x − ε eᵢ)) / 2ε. Exact location of any error;
  costs two evaluations of ``fn`` per element.
- ``mode="random"``: ``n_directions`` random unit vectors u, (L(x + ε u) − L(x − ε u)) / 2ε against
  ⟨dL/dx, u⟩ (the directional derivative, as Chainer's ``check_backward``). Two evaluations per
  direction, whatever the size; it says which input is wrong but not which element.
- ``mode="auto"`` (default): full for inputs of at most ``max_full_elements`` elements, random above.

An element passes when |analytic − numeric| ≤ atol + rtol · |numeric| (PyTorch's defaults: ε = 1e-6,
atol = 1e-5, rtol = 1e-3). The check also runs backward twice on the same graph and requires the
same gradients both times (a backward that mutates what it saved fails). Where a full-mode element
fails and its one-sided differences disagree, the report says the input sits on a kink (ReLU or abs
at 0), where no gradient check can pass, instead of leaving a mystery.

``fn`` may be a :class:`~minigan.nn.Module`: ``gradcheck(model, x)`` checks the gradient of every
input that requires grad and of every parameter that requires grad, each row of the report named
``input i`` or ``parameter <name>`` (its ``named_parameters()`` name, e.g. ``parameter 1.weight``).
The check runs on a float64 deep copy of the module (its inputs copied to float64 too; the caller's
module, its buffers, gradients and mode, and minigan's random state are left as they were), and the
copy is made the same function at every evaluation: before each one its buffers and
:mod:`minigan.random`'s state are put back as they were at the start, so BatchNorm in training (which
updates its running statistics) and Dropout (which draws a mask) are checked as the fixed functions
that one forward pass computes. (For a plain function the check perturbs each input's ``.data`` in
place and restores it exactly, so ``gradcheck(lambda x, *p: layer(x), (x, *layer.parameters()))``
checks a float64 layer in place, without the copy.)

``gradgradcheck`` checks second derivatives the same way, as PyTorch's does: with a random output
gradient v it forms the first derivatives

    G(x, v) = ∂⟨v, fn(x)⟩/∂x,   computed by minigan.grad(..., create_graph=True),

and runs the gradient check on G as a function of x *and* v: autograd's derivatives of G (the double
backward) against finite differences of G. A first derivative that is right but built from constants
— a backward that reads ``.data``, say, and so cuts the graph — passes ``gradcheck`` and fails here.
It also compares G with the plain (first-order) backward, which runs on arrays rather than tensors:
the two paths must agree. (Run ``gradcheck`` too: a first derivative that is wrong, or not linear in
its incoming gradient, is its business.)
"""

import copy
from dataclasses import dataclass, field

import numpy as np

from minigan import backends, random
from minigan.autograd import enable_grad, grad, no_grad
from minigan.errors import DTypeError, GradcheckError
from minigan.tensor import Tensor, check_same_backend


@dataclass
class InputCheck:
    """The result for one input: the worst element (full mode) or direction (random mode)."""

    position: int
    shape: tuple
    mode: str
    checked: int
    max_abs_error: float
    max_rel_error: float
    worst: object
    analytic: float
    numeric: float
    passed: bool
    kinks: list = field(default_factory=list)
    label: str = ""

    @property
    def name(self):
        """``"input i"``, or what gradgradcheck calls it (``"grad_output j"``)."""
        return self.label or f"input {self.position}"

    def describe_worst(self):
        if self.mode == "full":
            return str(tuple(int(i) for i in self.worst))
        return f"direction {self.worst}"


@dataclass
class GradcheckReport:
    """Everything ``gradcheck`` measured; ``str(report)`` prints it as a table."""

    inputs: list
    deterministic: bool
    nondeterminism: float
    eps: float
    atol: float
    rtol: float
    passed: bool = False
    subject: str = ""  # what was checked, when it is not simply fn: a module's float64 copy

    def __str__(self):
        return "\n".join(self._lines())

    def _lines(self):
        width = max([5] + [len(c.name) for c in self.inputs if c.label])
        subject = [self.subject] if self.subject else []
        header = (f"{'input':>{width}}  {'shape':<14} {'mode':<6} {'checked':>7}  {'max abs err':>11}  "
                  f"{'max rel err':>11}  {'worst at':<14} {'analytic':>12}  {'numeric':>12}  ok")
        lines = subject + [header]
        for c in self.inputs:
            label = c.label or str(c.position)
            lines.append(
                f"{label:>{width}}  {str(c.shape):<14} {c.mode:<6} {c.checked:>7}  {c.max_abs_error:>11.3e}  "
                f"{c.max_rel_error:>11.3e}  {c.describe_worst():<14} {c.analytic:>12.6g}  {c.numeric:>12.6g}  "
                f"{'yes' if c.passed else 'NO'}"
            )
        lines.append(f"tolerance: |analytic - numeric| <= {self.atol:g} + {self.rtol:g} * |numeric|, eps = {self.eps:g}")
        lines.append("backward deterministic on repeat: " + (
            "yes" if self.deterministic else f"NO (gradients differ by up to {self.nondeterminism:.3e})"))
        for c in self.inputs:
            for index, left, right in c.kinks[:5]:
                lines.append(
                    f"{c.name}, element {tuple(int(i) for i in index)}: one-sided differences disagree "
                    f"(left {left:.6g}, right {right:.6g}): fn is not differentiable there (a kink such as "
                    "ReLU or abs at 0), so no gradient check can pass; move the input away from the kink"
                )
            if not c.passed and c.mode == "random":
                lines.append(f"{c.name}: run with mode='full' to find the wrong element")
        return lines


def _validate(fn, inputs, allow_float32, who="gradcheck"):
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    inputs = tuple(inputs)
    if not callable(fn):
        raise TypeError(f"{who}: fn must be callable, got {type(fn).__name__}")
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor):
            raise TypeError(f"{who}: input {i} is a {type(t).__name__}, expected a minigan Tensor")
    checked = [t for t in inputs if t.requires_grad]
    if not checked:
        raise ValueError(f"{who}: no input has requires_grad=True, so there is nothing to check")
    check_same_backend(who, *inputs)
    for i, t in enumerate(inputs):
        if t.requires_grad and t.dtype != np.float64 and not allow_float32:
            raise DTypeError(
                f"{who}: input {i} (shape {t.shape}) is {t.dtype}, but finite differences need float64: "
                "with eps=1e-6 a float32 perturbation is below the rounding error of the function "
                "values (float32 keeps about 7 digits), so the numeric gradient is noise and the check "
                "cannot tell a right backward from a wrong one. Cast inputs with .astype('float64') "
                "(and build layers with dtype float64), or pass allow_float32=True with a larger eps "
                "and looser tolerances if you really mean it."
            )
    return inputs


def _is_module(fn):
    from minigan.nn.module import Module

    return isinstance(fn, Module)


class _ModuleFunction:
    """A float64 deep copy of ``module`` as a function of its inputs and of its parameters that require
    grad (``inputs``: float64 copies of the given inputs, then those parameters; ``labels`` name them),
    the same function at every call: each call first puts the copy's buffers and minigan.random's
    state back as they were when the copy was made. A ``with`` block puts the random state back at
    its end too, so the caller's draws go on as if no check had run."""

    def __init__(self, module, inputs, who):
        if isinstance(inputs, Tensor) or not isinstance(inputs, (list, tuple)):
            inputs = (inputs,)
        # The copy needs no gradients: the memo makes deepcopy give None for each, not copy it.
        tensors = module.parameters() + module.buffers()
        self.module = copy.deepcopy(module, {id(t.grad): None for t in tensors if t.grad is not None})
        self.module.to(dtype=np.float64)
        home = next((t.backend for t in self.module.parameters() + self.module.buffers()), None)
        given = tuple(_float64_copy(x, i, home, who) for i, x in enumerate(inputs))
        named = [(name, p) for name, p in self.module.named_parameters() if p.requires_grad]
        if not named and not any(x.requires_grad for x in given):
            raise ValueError(f"{who}: neither an input nor a parameter of {type(module).__name__} requires grad, "
                             "so there is nothing to check")
        self.n_inputs = len(given)
        self.inputs = given + tuple(p for _, p in named)
        self.labels = [f"input {i}" for i in range(len(given))] + [f"parameter {name}" for name, _ in named]
        self.buffers = [(owner, name, b, b.data.copy()) for _, owner in self.module.named_modules()
                        for name, b in owner._buffers.items() if b is not None]
        self.random_state = random.get_state()
        mode = "training" if module.training else "eval"
        self.description = (f"module {type(module).__name__} ({mode} mode), checked on a float64 copy whose buffers "
                            "and minigan.random state are restored before every evaluation")

    def __call__(self, *args):
        for owner, name, tensor, values in self.buffers:
            owner._buffers[name] = tensor
            tensor.data = values.copy()
        random.set_state(self.random_state)
        return self.module(*args[:self.n_inputs])

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        random.set_state(self.random_state)
        return False

    def label(self, report):
        for c in report.inputs:
            if c.position < len(self.labels):
                c.label = self.labels[c.position]
        report.subject = self.description
        return report


def _float64_copy(x, position, backend, who):
    """A float64 copy of a module's input: a tensor keeps its backend and requires_grad; anything else
    becomes a constant on the module's backend."""
    if isinstance(x, Tensor):
        out = Tensor._from_op(x.data.astype(np.float64, copy=True), (), None, None)
        return out.requires_grad_() if x.requires_grad else out
    try:
        data = Tensor(x, dtype=np.float64).data
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{who}: input {position} is a {type(x).__name__}, expected a minigan Tensor or an array "
                        f"({exc})") from None
    return Tensor._from_op(data if backend is None else backends.to_backend(data, backend), (), None, None)


def _analytic_gradients(fn, inputs, rng):
    """Gradients of L = Σ v·fn(x), from two backward passes over one graph; also the cotangent v."""
    saved = [t.grad for t in inputs]
    try:
        for t in inputs:
            t.grad = None
        out = fn(*inputs)
        if not isinstance(out, Tensor):
            raise TypeError(f"gradcheck: fn must return a minigan Tensor, got {type(out).__name__}")
        xp = out.xp
        signs = rng.choice([-1.0, 1.0], size=out.shape)
        v = xp.asarray(signs * rng.uniform(0.5, 1.5, size=out.shape), dtype=out.dtype)
        zeros = [xp.zeros(t.shape, dtype=t.dtype) for t in inputs]
        if not out.requires_grad:  # fn ignored every input that needs a gradient: its gradient is 0.
            return v, zeros, zeros
        out.backward(v, retain_graph=True)
        first = [t.grad if t.grad is not None else z for t, z in zip(inputs, zeros)]
        for t in inputs:
            t.grad = None
        out.backward(v)
        second = [t.grad if t.grad is not None else z for t, z in zip(inputs, zeros)]
        return v, first, second
    finally:
        for t, g in zip(inputs, saved):
            t.grad = g


def _loss(fn, inputs, v):
    with no_grad():
        out = fn(*inputs)
    return float((out.data.astype(np.float64) * v).sum())


def _check_full(fn, inputs, position, grad, v, eps, atol, rtol):
    t = inputs[position]
    data = t.data
    analytic = np.asarray(grad.get() if hasattr(grad, "get") else grad, dtype=np.float64)
    numeric = np.zeros(t.shape)
    left = np.zeros(t.shape)
    right = np.zeros(t.shape)
    f0 = _loss(fn, inputs, v)
    for index in np.ndindex(*t.shape):
        original = data[index].copy()
        try:
            data[index] = original + eps
            f_plus = _loss(fn, inputs, v)
            data[index] = original - eps
            f_minus = _loss(fn, inputs, v)
        finally:
            data[index] = original
        numeric[index] = (f_plus - f_minus) / (2 * eps)
        left[index] = (f0 - f_minus) / eps
        right[index] = (f_plus - f0) / eps
    # Where the one-sided differences disagree, fn has a kink: no gradient is right there, even one
    # that happens to match the central difference (abs at 0: sign(0) = 0 = (|ε| − |−ε|) / 2ε).
    kink = np.abs(left - right) > atol + rtol * np.maximum(np.abs(left), np.abs(right))
    kinks = [(index, left[index], right[index]) for index in np.ndindex(*t.shape) if kink[index]]
    return _summarize(position, t.shape, "full", analytic.ravel(), numeric.ravel(), atol, rtol,
                      locate=lambda i: np.unravel_index(i, t.shape) if t.shape else (), kinks=kinks)


def _check_random(fn, inputs, position, grad, v, eps, atol, rtol, n_directions, rng):
    t = inputs[position]
    xp = t.xp
    original = t.data.copy()
    analytic, numeric = [], []
    for _ in range(n_directions):
        u = rng.standard_normal(t.shape)
        u /= np.linalg.norm(u) or 1.0
        u_b = xp.asarray(u, dtype=t.dtype)
        try:
            t.data[...] = original + eps * u_b
            f_plus = _loss(fn, inputs, v)
            t.data[...] = original - eps * u_b
            f_minus = _loss(fn, inputs, v)
        finally:
            t.data[...] = original
        numeric.append((f_plus - f_minus) / (2 * eps))
        analytic.append(float((grad.astype(np.float64) * xp.asarray(u)).sum()))
    return _summarize(position, t.shape, "random", np.array(analytic), np.array(numeric), atol, rtol,
                      locate=lambda i: int(i), kinks=[])


def _summarize(position, shape, mode, analytic, numeric, atol, rtol, locate, kinks):
    error = np.abs(analytic - numeric)
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.where(error == 0, 0.0, error / np.abs(numeric))
        violation = error / (atol + rtol * np.abs(numeric))
    worst = int(np.argmax(violation)) if violation.size else 0
    return InputCheck(
        position=position, shape=tuple(shape), mode=mode, checked=int(analytic.size),
        max_abs_error=float(error.max()) if error.size else 0.0,
        max_rel_error=float(relative.max()) if relative.size else 0.0,
        worst=locate(worst), analytic=float(analytic[worst]) if analytic.size else 0.0,
        numeric=float(numeric[worst]) if numeric.size else 0.0,
        passed=bool((violation <= 1).all()) and not kinks, kinks=kinks,
    )


def check_gradients(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, mode="auto", n_directions=10, seed=0,
                    max_full_elements=1024, allow_float32=False, nondet_tol=0.0):
    """Run the gradient check and return a :class:`GradcheckReport` (never raises on a mismatch).

    See the module docstring for the method (and for a :class:`~minigan.nn.Module` as ``fn``);
    :func:`gradcheck` is the raising version.
    """
    options = dict(eps=eps, atol=atol, rtol=rtol, mode=mode, n_directions=n_directions, seed=seed,
                   max_full_elements=max_full_elements, allow_float32=allow_float32, nondet_tol=nondet_tol)
    if _is_module(fn):
        with _ModuleFunction(fn, inputs, "gradcheck") as function:
            return function.label(_check_gradients(function, function.inputs, **options))
    return _check_gradients(fn, inputs, **options)


def _check_gradients(fn, inputs, eps, atol, rtol, mode, n_directions, seed, max_full_elements, allow_float32,
                     nondet_tol):
    if mode not in ("auto", "full", "random"):
        raise ValueError(f"gradcheck: mode must be 'auto', 'full' or 'random', got {mode!r}")
    inputs = _validate(fn, inputs, allow_float32)
    rng = np.random.default_rng(seed)
    v, first, second = _analytic_gradients(fn, inputs, rng)
    v_host = np.asarray(v.get() if hasattr(v, "get") else v, dtype=np.float64)
    v_backend = inputs[0].xp.asarray(v_host)
    first_value, second_value = _loss(fn, inputs, v_backend), _loss(fn, inputs, v_backend)
    # nondet_tol forgives what it forgives backward: last-bit differences of atomic adds on a GPU
    # (scatter-adds in a first derivative that gradgradcheck differentiates), not random draws.
    if abs(first_value - second_value) > nondet_tol:
        raise GradcheckError(
            f"gradcheck: fn returned different values for the same inputs ({first_value!r} then "
            f"{second_value!r}); finite differences need a deterministic fn. Draw random numbers (noise, "
            "dropout masks) outside fn, or seed them inside it (or, for last-bit differences of atomic adds "
            "on a GPU, pass a small nondet_tol)."
        )
    nondeterminism = max(
        (float(inputs[0].xp.abs(a.astype(np.float64) - b.astype(np.float64)).max()) if a.size else 0.0)
        for a, b in zip(first, second)
    )
    checks = []
    for position, t in enumerate(inputs):
        if not t.requires_grad:
            continue
        use_full = mode == "full" or (mode == "auto" and t.size <= max_full_elements)
        if use_full:
            checks.append(_check_full(fn, inputs, position, first[position], v_backend, eps, atol, rtol))
        else:
            checks.append(_check_random(fn, inputs, position, first[position], v_backend, eps, atol, rtol,
                                        n_directions, rng))
    report = GradcheckReport(inputs=checks, deterministic=nondeterminism <= nondet_tol,
                             nondeterminism=nondeterminism, eps=eps, atol=atol, rtol=rtol)
    report.passed = report.deterministic and all(c.passed for c in checks)
    return report


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, mode="auto", n_directions=10, seed=0,
              max_full_elements=1024, allow_float32=False, nondet_tol=0.0, return_report=False):
    """Check ``fn``'s gradients against central finite differences.

    ``fn`` takes the tensors ``inputs`` (a tensor or a sequence) and returns a tensor. Every input with
    ``requires_grad=True`` is checked; inputs must be float64 unless ``allow_float32=True``. ``fn`` may
    also be a :class:`~minigan.nn.Module`: then every input and every parameter that requires grad is
    checked, on a float64 copy made deterministic (module docstring).

    Returns True on success (or the :class:`GradcheckReport` if ``return_report=True``); raises
    :class:`~minigan.errors.GradcheckError`, whose message is the report, on failure.
    """
    report = check_gradients(fn, inputs, eps=eps, atol=atol, rtol=rtol, mode=mode,
                             n_directions=n_directions, seed=seed, max_full_elements=max_full_elements,
                             allow_float32=allow_float32, nondet_tol=nondet_tol)
    if not report.passed:
        failed = [f"{c.name} (shape {c.shape})" for c in report.inputs if not c.passed]
        what = f"for {', '.join(failed)}" if failed else "because backward is not deterministic"
        raise GradcheckError(f"gradcheck failed {what}:\n{report}", report)
    return report if return_report else True


@dataclass
class GradgradcheckReport(GradcheckReport):
    """A :class:`GradcheckReport` of the first derivatives G(x, v), plus how G compares with the plain
    backward. Rows are labelled ``input i`` (of ``fn``) and ``grad_output`` (the v of the module
    docstring)."""

    first_order_mismatch: float = 0.0
    first_order_consistent: bool = True

    def _lines(self):
        lines = ["second derivatives: the gradient check of G(x, v) = d<v, fn(x)>/dx (create_graph=True)"]
        lines += super()._lines()
        lines.append("first derivatives with create_graph=True equal the plain backward's: " + (
            "yes" if self.first_order_consistent else f"NO (they differ by up to {self.first_order_mismatch:.3e})"))
        return lines


def _grad_outputs(out, grad_outputs, rng, who):
    """The output gradient v as a float64 tensor that requires grad: random (seeded) unless given."""
    if grad_outputs is None:
        signs = rng.choice([-1.0, 1.0], size=out.shape)
        values = out.xp.asarray(signs * rng.uniform(0.5, 1.5, size=out.shape), dtype=out.dtype)
        return Tensor._from_op(values, (), None, None).requires_grad_()
    if isinstance(grad_outputs, (list, tuple)):
        if len(grad_outputs) != 1:
            raise ValueError(f"{who}: fn returns one tensor, so give one grad_output, got {len(grad_outputs)}")
        grad_outputs = grad_outputs[0]
    v = grad_outputs if isinstance(grad_outputs, Tensor) else Tensor(out.xp.asarray(grad_outputs), dtype=out.dtype)
    if v.shape != out.shape:
        raise ValueError(f"{who}: grad_outputs has shape {v.shape}, but fn returns shape {out.shape}")
    return v


def _first_derivatives(fn, n_inputs, differentiable):
    """G(x, v): the first derivatives of ⟨v, fn(x)⟩ with respect to the inputs that require grad, as
    one flat tensor recorded with create_graph=True."""
    from minigan.ops import concatenate, reshape

    def G(*args):
        xs, v = args[:n_inputs], args[n_inputs]
        with enable_grad():
            out = fn(*xs)
            wrt = [xs[i] for i in differentiable]
            if not out.requires_grad:
                grads = [x.xp.zeros(x.shape, dtype=x.dtype) for x in wrt]
                return Tensor._from_op(out.xp.concatenate([g.reshape(-1) for g in grads]), (), None, None)
            grads = grad(out, wrt, grad_outputs=v, create_graph=True, materialize_grads=True)
        return concatenate([reshape(g, (-1,)) for g in grads])

    return G


def _first_order_mismatch(fn, inputs, differentiable, v, G, atol, rtol):
    """The largest violation of |G − plain| ≤ atol + rtol·|plain| (≤ 1 passes), and the largest |G − plain|."""
    with enable_grad():
        out = fn(*inputs)
        if not out.requires_grad:
            return 0.0, 0.0
        plain = grad(out, [inputs[i] for i in differentiable], grad_outputs=v.data, allow_unused=True)
    xp = v.xp
    flat = xp.concatenate([(xp.zeros(inputs[i].shape, dtype=inputs[i].dtype) if g is None else g.data).reshape(-1)
                           for i, g in zip(differentiable, plain)])
    recorded = G(*inputs, v).data
    difference = xp.abs(recorded.astype(np.float64) - flat.astype(np.float64))
    if not difference.size:
        return 0.0, 0.0
    violation = difference / (atol + rtol * xp.abs(flat.astype(np.float64)))
    return float(violation.max()), float(difference.max())


def check_second_gradients(fn, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3, mode="auto",
                           n_directions=10, seed=0, max_full_elements=1024, allow_float32=False, nondet_tol=0.0):
    """Run the second-derivative check and return a :class:`GradgradcheckReport` (never raises on a mismatch).

    See the module docstring (a :class:`~minigan.nn.Module` as ``fn`` included); :func:`gradgradcheck`
    is the raising version.
    """
    options = dict(grad_outputs=grad_outputs, eps=eps, atol=atol, rtol=rtol, mode=mode, n_directions=n_directions,
                   seed=seed, max_full_elements=max_full_elements, allow_float32=allow_float32,
                   nondet_tol=nondet_tol)
    if _is_module(fn):
        with _ModuleFunction(fn, inputs, "gradgradcheck") as function:
            return function.label(_check_second_gradients(function, function.inputs, **options))
    return _check_second_gradients(fn, inputs, **options)


def _check_second_gradients(fn, inputs, grad_outputs, eps, atol, rtol, mode, n_directions, seed, max_full_elements,
                            allow_float32, nondet_tol):
    inputs = _validate(fn, inputs, allow_float32, who="gradgradcheck")
    with enable_grad():
        out = fn(*inputs)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradgradcheck: fn must return a minigan Tensor, got {type(out).__name__}")
    v = _grad_outputs(out, grad_outputs, np.random.default_rng(seed + 7919), "gradgradcheck")
    differentiable = [i for i, t in enumerate(inputs) if t.requires_grad]
    G = _first_derivatives(fn, len(inputs), differentiable)
    report = check_gradients(G, inputs + (v,), eps=eps, atol=atol, rtol=rtol, mode=mode,
                             n_directions=n_directions, seed=seed, max_full_elements=max_full_elements,
                             allow_float32=allow_float32, nondet_tol=nondet_tol)
    for c in report.inputs:
        c.label = f"input {c.position}" if c.position < len(inputs) else "grad_output"
    violation, mismatch = _first_order_mismatch(fn, inputs, differentiable, v, G, atol, rtol)
    result = GradgradcheckReport(inputs=report.inputs, deterministic=report.deterministic,
                                 nondeterminism=report.nondeterminism, eps=eps, atol=atol, rtol=rtol,
                                 first_order_mismatch=mismatch, first_order_consistent=violation <= 1)
    result.passed = report.passed and result.first_order_consistent
    return result


def gradgradcheck(fn, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3, mode="auto", n_directions=10,
                  seed=0, max_full_elements=1024, allow_float32=False, nondet_tol=0.0, return_report=False):
    """Check ``fn``'s second derivatives (its double backward) against finite differences of its first.

    ``fn`` and ``inputs`` as for :func:`gradcheck` (a module's parameters included); ``grad_outputs`` is
    the output gradient v (default: random, seeded, and itself checked). Returns True on success (or
    the report if ``return_report=True``); raises :class:`~minigan.errors.GradcheckError`, whose
    message is the report, on failure.
    """
    report = check_second_gradients(fn, inputs, grad_outputs=grad_outputs, eps=eps, atol=atol, rtol=rtol,
                                    mode=mode, n_directions=n_directions, seed=seed,
                                    max_full_elements=max_full_elements, allow_float32=allow_float32,
                                    nondet_tol=nondet_tol)
    if not report.passed:
        failed = [f"{c.name} (shape {c.shape})" for c in report.inputs if not c.passed]
        if not report.first_order_consistent:
            failed.append("the first derivatives (create_graph differs from the plain backward)")
        what = f"for {', '.join(failed)}" if failed else "because backward is not deterministic"
        raise GradcheckError(f"gradgradcheck failed {what}:\n{report}", report)
    return report if return_report else True
