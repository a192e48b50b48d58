"""How to write a new op or layer with its own backward, make it differentiable twice (and n times),
and check it with ``minigan.gradcheck`` and ``minigan.gradgradcheck`` — including wrong backwards
that the checkers catch, with their reports.

    python examples/custom_layer_gradcheck.py [--out DIR]      (--quick is accepted: it is quick already)

An op in minigan is a function that computes its output on the backend arrays (``x.data``, NumPy or
CuPy through ``x.xp``), defines ``backward(g, needs, *saved)`` right beside it, and records itself on
the tape with ``Tensor._from_op(out, inputs, backward, name, saved=(...))``, as the ops in
``minigan/ops/`` and ``minigan/nn/`` do:

- g = ∂L/∂out comes in; one gradient per input goes out (None for an input that needs none);
  ``needs[i]`` says whether input i wants a gradient in this pass, so only those are computed;
- ``saved`` names what the backward reads: inputs (as tensors, or None where not needed) and
  ``minigan.autograd.OUTPUT``, last, for the op's own output. Save as little as possible: the tape
  keeps it alive until the backward has run. The backward receives them as its arguments, named like
  the inputs so that they shadow them: it never reads an input's ``.data`` from its closure;
- the backward is written with operators, methods that arrays and tensors share (``sum``,
  ``reshape``, ``T``, indexing) and the functions of ``xp = namespace(g)``. In an ordinary backward
  pass g and the saved values are arrays and ``xp`` is NumPy (or CuPy): plain array code. Under
  ``minigan.grad(..., create_graph=True)`` they are tensors and ``xp`` is ``minigan.ops``: the same
  lines are recorded as ops, so the gradient can be differentiated again, to any order.

A layer is a ``Module`` whose ``Parameter``s are inputs of such an op. The cases:

1. softplus(x) = ln(1 + eˣ), computed as max(x, 0) + ln(1 + e^(−|x|)) so that no exp overflows.
   minigan has it built in (``minigan.softplus``, written much like this); ``my_softplus`` is how one
   would write it, and the script compares the two. Its derivative σ(x) is a function of the output,
   σ(x) = 1 − e^(−out) = −expm1(−out), so it saves only the output.
2. The same op with a classic slip in its backward: σ(x)(1 − σ(x)), the derivative of σ, instead of σ.
3. ``Swish``, a layer with a learnable β per feature: y = x · σ(βx) (Ramachandran et al., 2017), one op
   with the closed-form backward, s = σ(βx):
   ∂L/∂x = g · (s + βx · s(1 − s)),  ∂L/∂β = Σₙ g · x² · s(1 − s).
   NumPy has no σ; ``tanh`` is in both namespaces, so σ(z) = (1 + tanh(z/2)) / 2 (no overflow either).
4. The layer with a β-gradient that forgets to multiply by g. With L = Σ y, g is all ones and the mistake
   is invisible; ``gradcheck`` reduces the output with a random cotangent v, L = Σ v ⊙ y, and catches it.
5. A float32 input: both checkers refuse it and say why (finite differences need float64).
6. A softplus whose backward is right in value but reads σ(x) computed in the forward from ``x.data``:
   an array, which the tape sees as a constant. It passes ``gradcheck``; under ``create_graph`` its
   gradient g · σ(x) no longer depends on x, the graph is cut there, the second derivative comes out
   0, and ``gradgradcheck`` fails.
7. The first-order interface, ``backward(g)`` on arrays and no ``saved=``, still works where only first
   derivatives are needed (``gradcheck`` passes); differentiating it twice raises an error naming the op.
"""

import numpy as np

import _study
import minigan
from minigan.autograd import OUTPUT
from minigan.errors import DTypeError, GradcheckError, GraphError
from minigan.nn import Module, Parameter
from minigan.ops.elementwise import stable_sigmoid
from minigan.ops.namespace import namespace
from minigan.tensor import Tensor


# ----------------------------------------------------------------------------------- the new op
def softplus_forward(x):
    """ln(1 + eˣ) = max(x, 0) + ln(1 + e^(−|x|)) on x's array: no exp overflows."""
    xp = x.xp
    return xp.maximum(x.data, 0) + xp.log1p(xp.exp(-xp.abs(x.data)))


def my_softplus(x):
    """out = ln(1 + eˣ);  dx = g · σ(x) = g · (−expm1(−out)).  (minigan has it: ``minigan.softplus``.)

    Second derivative, recorded by the same line under create_graph: σ(x)(1 − σ(x)).
    """
    def backward(g, needs, out):
        return (-g * namespace(g).expm1(-out),)

    return Tensor._from_op(softplus_forward(x), (x,), backward, "my_softplus", saved=(OUTPUT,))


def my_softplus_slip(x):
    """The same forward; the backward uses σ'(x) = σ(x)(1 − σ(x)) — wrong on purpose."""
    def backward(g, needs, out):
        s = -namespace(g).expm1(-out)
        return (g * s * (1 - s),)

    return Tensor._from_op(softplus_forward(x), (x,), backward, "my_softplus_slip", saved=(OUTPUT,))


def my_softplus_cut(x):
    """The same forward; dx = g · σ(x) with σ(x) computed from x.data — right in value, but an array,
    a constant to the tape: the second derivative through it is 0 (wrong on purpose)."""
    s = stable_sigmoid(x.xp, x.data)

    def backward(g, needs):
        return (g * s,)

    return Tensor._from_op(softplus_forward(x), (x,), backward, "my_softplus_cut", saved=())


def my_softplus_first_order(x):
    """The first-order interface: ``backward(g)`` on arrays, no ``saved=``. Differentiable once."""
    s = stable_sigmoid(x.xp, x.data)
    return Tensor._from_op(softplus_forward(x), (x,), lambda g: (g * s,), "my_softplus_first_order")


# -------------------------------------------------------------------------------- the new layer
def sigmoid(xp, z):
    """σ(z) = (1 + tanh(z/2)) / 2, with ``tanh`` from NumPy, CuPy or minigan.ops (all three have it)."""
    return 0.5 + 0.5 * xp.tanh(0.5 * z)


def swish(x, beta):
    """y = x · σ(βx) for x (N, C) and β (C,);  with s = σ(βx):
    dx = g · (s + βx · s(1 − s)),  dβ = Σₙ g · x² · s(1 − s).
    Saves x and β: each gradient reads both."""
    out = x.data * sigmoid(x.xp, beta.data * x.data)

    def backward(g, needs, x, beta):
        s = sigmoid(namespace(g), beta * x)
        slope = s * (1 - s)
        dx = g * (s + beta * x * slope) if needs[0] else None
        dbeta = (g * x * x * slope).sum(axis=0) if needs[1] else None
        return dx, dbeta

    return Tensor._from_op(out, (x, beta), backward, "swish", saved=(x, beta))


def swish_forgets_g(x, beta):
    """The same forward; dβ = Σₙ x² · s(1 − s) leaves out g — wrong on purpose."""
    out = x.data * sigmoid(x.xp, beta.data * x.data)

    def backward(g, needs, x, beta):
        s = sigmoid(namespace(g), beta * x)
        slope = s * (1 - s)
        return g * (s + beta * x * slope), (x * x * slope).sum(axis=0)

    return Tensor._from_op(out, (x, beta), backward, "swish_forgets_g", saved=(x, beta))


class Swish(Module):
    """y = x · σ(βx) with a learnable β per feature, starting at 1 (then y = x σ(x), SiLU)."""

    def __init__(self, num_features, op=swish, dtype=None):
        super().__init__()
        self.op = op
        self.beta = Parameter([1.0] * num_features, dtype=dtype)

    def forward(self, x):
        return self.op(x, self.beta)


# ------------------------------------------------------------------------------------- checking
CHECKERS = {"gradcheck": minigan.gradcheck, "gradgradcheck": minigan.gradgradcheck}


def check(checker, fn, inputs):
    """One checker on one case: (outcome, report or None, text). The outcome is "passed", "failed",
    or what it raised instead of checking (a float32 input, an op that is differentiable once)."""
    try:
        report = CHECKERS[checker](fn, inputs, return_report=True)
        return "passed", report, str(report)
    except GradcheckError as error:
        return "failed", error.report, str(error)
    except (DTypeError, GraphError) as error:
        return f"raised {type(error).__name__}", None, str(error)


def cases():
    """The seven cases as (name, what its backward is, fn, inputs, the outcomes expected of gradcheck and
    gradgradcheck), and the tensors and layers the figure reuses."""
    rng = np.random.default_rng(0)
    x = minigan.tensor(rng.uniform(-3, 3, (5, 4)), requires_grad=True, dtype="float64")
    layer_x = minigan.tensor(rng.uniform(-2, 2, (6, 4)), requires_grad=True, dtype="float64")
    right, wrong = Swish(4, swish, dtype="float64"), Swish(4, swish_forgets_g, dtype="float64")
    right.beta.data[:] = wrong.beta.data[:] = rng.uniform(0.5, 1.5, 4)
    x32 = x.detach().astype("float32").requires_grad_()
    table = [
        ("1. softplus", "right", my_softplus, (x,), ("passed", "passed")),
        ("2. softplus, slip: σ' for σ", "wrong on purpose", my_softplus_slip, (x,), ("failed", "failed")),
        ("3. Swish layer", "right", lambda x_, b: right(x_), (layer_x, right.beta), ("passed", "passed")),
        ("4. Swish layer, β-gradient forgets g", "wrong on purpose", lambda x_, b: wrong(x_),
         (layer_x, wrong.beta), ("failed", "passed")),
        ("5. softplus, float32 input", "right", my_softplus, (x32,), ("raised DTypeError",) * 2),
        ("6. softplus, backward reads x.data", "right in value, cut from the graph", my_softplus_cut, (x,),
         ("passed", "failed")),
        ("7. softplus, first-order interface", "right, arrays only", my_softplus_first_order, (x,),
         ("passed", "raised GraphError")),
    ]
    return table, x, right, wrong, layer_x


def run_checks(table):
    results = []
    for name, backward, fn, inputs, expected in table:
        outcomes = {checker: check(checker, fn, inputs) for checker in CHECKERS}
        results.append({"name": name, "backward": backward, "outcomes": outcomes, "expected": expected})
    return results


def twice_through_first_order(x):
    """The message of the error raised by differentiating ``my_softplus_first_order`` twice."""
    (dx,) = minigan.grad(my_softplus_first_order(x).sum(), x, create_graph=True)
    try:
        minigan.grad(dx.sum(), x)
    except GraphError as error:
        return str(error)
    return "(no error)"


# --------------------------------------------------------------------- against minigan.softplus
def derivatives(op, grid, orders):
    """[out, dout/dx, d²out/dx², …] of the elementwise op on the grid, each as an array: every
    derivative by minigan.grad with create_graph=True (its sum's gradient is the elementwise derivative)."""
    x = minigan.tensor(grid, requires_grad=True, dtype="float64")
    current = op(x)
    values = [current.numpy().copy()]
    for order in range(1, orders + 1):
        (current,) = minigan.grad(current.sum(), x, create_graph=order < orders, materialize_grads=True)
        values.append(current.numpy().copy())
        if not current.requires_grad:  # a constant: every higher derivative is 0
            values += [np.zeros_like(grid)] * (orders - order)
            break
    return values


def comparison(grid):
    builtin = derivatives(minigan.softplus, grid, 3)
    ours = derivatives(my_softplus, grid, 3)
    cut = derivatives(my_softplus_cut, grid, 3)
    names = ["softplus(x)", "d/dx", "d²/dx²", "d³/dx³"]
    rows = [[name, f"{np.abs(b).max():.3g}", f"{np.abs(a - b).max():.1e}", f"{np.abs(c - b).max():.1e}"]
            for name, a, b, c in zip(names, ours, builtin, cut)]
    return _study.markdown_table(["quantity", "largest magnitude (minigan.softplus)", "my_softplus: largest gap",
                                  "my_softplus_cut: largest gap"], rows)


# --------------------------------------------------------------------------------------- report
def describe(outcome, report):
    """The verdict as the table gives it: which inputs failed, if the check ran and failed."""
    if report is None or outcome == "passed":
        return outcome
    failed = [c.name for c in report.inputs if not c.passed]
    return f"failed: {', '.join(failed)}" if failed else outcome


def report_sections(results, first_order_error, grid):
    verdict_rows, detail_rows, blocks = [], [], []
    for r in results:
        seen = tuple(r["outcomes"][checker][0] for checker in CHECKERS)
        verdict_rows.append([r["name"], r["backward"]]
                            + [describe(outcome, checked) for outcome, checked, _ in r["outcomes"].values()]
                            + ["yes" if seen == r["expected"] else "NO"])
        for checker, (outcome, checked, text) in r["outcomes"].items():
            blocks += [f"**{r['name']}** — `minigan.{checker}` {'passed' if outcome == 'passed' else 'raised'}:",
                       "```\n" + text + "\n```"]
            for c in checked.inputs if checked is not None else ():
                detail_rows.append([r["name"], checker, c.name, str(c.shape), c.checked, f"{c.max_abs_error:.1e}",
                                    f"{c.max_rel_error:.1e}", c.describe_worst(), f"{c.analytic:.4g}",
                                    f"{c.numeric:.4g}", "yes" if c.passed else "NO"])
    verdicts = _study.markdown_table(["case", "backward", "gradcheck", "gradgradcheck", "as expected"],
                                     verdict_rows)
    details = _study.markdown_table(["case", "checker", "input", "shape", "elements", "max abs error",
                                     "max rel error", "worst at", "analytic", "numeric", "passed"], detail_rows)
    return [
        "## Writing an op and a layer, and checking their first and second derivatives",
        "The verdicts of both checkers on each case. gradgradcheck checks the derivatives of "
        "G(x, v) = ∂⟨v, fn(x)⟩/∂x, the first derivatives recorded with create_graph=True, with respect to "
        "the inputs and to v (its row `grad_output`). Its verdict is on the second derivatives only: that G "
        "itself is right is gradcheck's business.",
        verdicts,
        "Why each verdict. 2: the slip fails both, since it saved its output and the second derivative "
        "reaches x through that output, i.e. through the same wrong backward. 4: forgetting g makes the "
        "first derivative wrong, not its derivative, so only gradcheck sees it. 6: σ(x) was computed from "
        "x.data in the forward, so the backward's g · σ(x) is an array times g: under create_graph the tape "
        "sees σ(x) as a constant, the graph is cut between the gradient and x, and the second derivative "
        "comes out 0 (analytic 0 against a numeric v · σ(x)(1 − σ(x)) below); its first derivative is right, so "
        "gradcheck passes. 7: the first-order interface is enough for gradcheck; gradgradcheck, like any "
        "second derivative, raises the GraphError shown below.",
        "One row per checked input (for the layer, x is input 0 and β input 1); the worst element's "
        "analytic and numeric derivatives.",
        details,
        f"`my_softplus` against `minigan.softplus` on {grid.size} points in [{grid[0]:g}, {grid[-1]:g}]: "
        "the largest absolute difference of each quantity, every derivative by `minigan.grad` with "
        "`create_graph=True`. (Above x = 20 the built-in returns x itself, PyTorch's threshold, which "
        "differs from ln(1 + eˣ) by less than e⁻²⁰ ≈ 2e-9.)",
        comparison(grid),
        "**7. differentiated twice** — `minigan.grad(dx.sum(), x)` with "
        "`(dx,) = minigan.grad(my_softplus_first_order(x).sum(), x, create_graph=True)` raised GraphError:",
        "```\n" + first_order_error + "\n```",
        *blocks,
    ]


# --------------------------------------------------------------------------------------- figure
def central_difference(f, x, eps=1e-6):
    """(f(x + ε) − f(x − ε)) / 2ε of an elementwise NumPy function f, at every point of x."""
    return (f(x + eps) - f(x - eps)) / (2 * eps)


def beta_finite_differences(layer, x, v, eps=1e-6):
    """(L(β + ε eⱼ) − L(β − ε eⱼ)) / 2ε for L = Σ v ⊙ layer(x), each j; β is restored after."""
    beta = layer.beta.data.copy()
    numeric = np.zeros(beta.shape)
    try:
        for j in range(len(beta)):
            for sign in (1, -1):
                layer.beta.data[:] = beta
                layer.beta.data[j] += sign * eps
                with minigan.no_grad():
                    numeric[j] += sign * float((layer(x).numpy() * v).sum()) / (2 * eps)
    finally:
        layer.beta.data[:] = beta
    return numeric


def figure(right, wrong, layer_x, args):
    plt = _study.plt
    fig, (first, second, bars) = plt.subplots(1, 3, figsize=(15, 4.2))
    grid = np.linspace(-6, 6, 241)
    points = grid[::12]
    for op, label, color in ((my_softplus, "my_softplus (σ)", "C0"), (my_softplus_slip, "slip (σ')", "C3")):
        first.plot(grid, derivatives(op, grid, 1)[1], color=color, label=label)
    first.plot(grid, derivatives(minigan.softplus, grid, 1)[1], "--", color="C2", label="minigan.softplus")
    first.plot(points, central_difference(lambda t: np.logaddexp(0, t), points), "k.", label="finite differences")
    first.set_xlabel("x")
    first.set_title("first derivative: d softplus / dx", fontsize=10)
    first.legend(fontsize=8)

    for op, label, color in ((my_softplus, "my_softplus (create_graph)", "C0"),
                             (my_softplus_cut, "backward reads x.data: 0", "C1")):
        second.plot(grid, derivatives(op, grid, 2)[2], color=color, label=label)
    second.plot(grid, derivatives(minigan.softplus, grid, 2)[2], "--", color="C2", label="minigan.softplus")
    second.plot(points, central_difference(lambda t: 1 / (1 + np.exp(-t)), points), "k.",
                label="finite differences of σ")
    second.set_xlabel("x")
    second.set_title("second derivative: d² softplus / dx²", fontsize=10)
    second.set_ylim(-0.01, 0.32)
    second.legend(fontsize=8, loc="upper left")

    v = np.random.default_rng(1).uniform(-1.5, 1.5, (6, 4))
    grads = []
    for layer in (right, wrong):
        layer.beta.grad = None
        layer(layer_x).backward(v)
        grads.append(np.array(layer.beta.grad))
    numeric = beta_finite_differences(right, layer_x, v)
    index = np.arange(4)
    series = ((numeric, "finite differences", "0.3"), (grads[0], "right backward", "C0"),
              (grads[1], "backward that forgets g", "C3"))
    for k, (values, label, color) in enumerate(series):
        bars.bar(index + (k - 1) * 0.27, values, 0.27, label=label, color=color)
    bars.set_xticks(index, [f"β{j}" for j in index])
    bars.set_title("Swish layer: ∂L/∂β for L = Σ v ⊙ y, v random", fontsize=10)
    bars.legend(fontsize=8)
    fig.tight_layout()
    return _study.save_figure(fig, args, "custom_layer_gradcheck")


def main(argv=None):
    args = _study.parser("custom_layer_gradcheck", __doc__, seeds=0).parse_args(argv)
    table, x, right, wrong, layer_x = cases()
    results = run_checks(table)
    grid = np.linspace(-20, 20, 401)
    sections = report_sections(results, twice_through_first_order(x), grid)
    _study.write_report(args, "custom_layer_gradcheck", sections)
    figure(right, wrong, layer_x, args)


if __name__ == "__main__":
    main()
