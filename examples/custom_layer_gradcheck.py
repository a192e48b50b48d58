"""How to write a new op or layer with its own backward, and check it with ``minigan.gradcheck`` —
including wrong backwards that the checker catches, with its reports.

    python examples/custom_layer_gradcheck.py [--out DIR]      (--quick is accepted: it is quick already)

An op in minigan is a function that computes its output on the backend arrays (``x.data``, NumPy or
CuPy through ``x.xp``), defines ``backward(g)`` right beside it — g = ∂L/∂out in, one gradient per
input out (None for an input that needs none) — and records itself on the tape with
``Tensor._from_op(out, inputs, backward, name)``, exactly as the ops in ``minigan/ops/`` and
``minigan/nn/`` do. A layer is a ``Module`` whose ``Parameter``s are inputs of such an op.

1. ``softplus(x) = log(1 + eˣ)``, computed as max(x, 0) + log(1 + e^(−|x|)) so that no exp overflows;
   its derivative is σ(x).
2. The same op with a classic slip in its backward: σ(x)(1 − σ(x)), the derivative of σ, instead of σ.
3. ``Swish``, a layer with a learnable β per feature: y = x · σ(βx) (Ramachandran et al., 2017), one op
   with the closed-form backward, s = σ(βx):  ∂L/∂x = g · (s + βx · s(1 − s)),  ∂L/∂β = Σₙ g · x² · s(1 − s).
4. The layer with a β-gradient that forgets to multiply by g. With L = Σ y, g is all ones and the mistake
   is invisible; ``gradcheck`` reduces the output with a random cotangent v, L = Σ v ⊙ y, and catches it.
5. A float32 input: ``gradcheck`` refuses it and says why (finite differences need float64).
"""

import numpy as np

import _study
import minigan
from minigan.errors import DTypeError, GradcheckError
from minigan.nn import Module, Parameter
from minigan.ops.elementwise import stable_sigmoid
from minigan.tensor import Tensor


# ----------------------------------------------------------------------------------- the new op
def softplus(x):
    """out = log(1 + eˣ) = max(x, 0) + log(1 + e^(−|x|));  dx = g · σ(x)."""
    xp = x.xp
    out = xp.maximum(x.data, 0) + xp.log1p(xp.exp(-xp.abs(x.data)))

    def backward(g):
        return (g * stable_sigmoid(xp, x.data),)

    return Tensor._from_op(out, (x,), backward, "softplus")


def softplus_wrong(x):
    """The same forward; the backward uses σ'(x) = σ(x)(1 − σ(x)) — wrong on purpose."""
    xp = x.xp
    out = xp.maximum(x.data, 0) + xp.log1p(xp.exp(-xp.abs(x.data)))

    def backward(g):
        s = stable_sigmoid(xp, x.data)
        return (g * s * (1 - s),)

    return Tensor._from_op(out, (x,), backward, "softplus_wrong")


# -------------------------------------------------------------------------------- the new layer
def swish(x, beta):
    """y = x · σ(βx) for x (N, C) and β (C,);  with s = σ(βx):
    dx = g · (s + βx · s(1 − s)),  dβ = Σₙ g · x² · s(1 − s)."""
    s = stable_sigmoid(x.xp, beta.data * x.data)
    out = x.data * s

    def backward(g):
        slope = s * (1 - s)
        dx = g * (s + beta.data * x.data * slope) if x.requires_grad else None
        dbeta = (g * x.data ** 2 * slope).sum(axis=0) if beta.requires_grad else None
        return dx, dbeta

    return Tensor._from_op(out, (x, beta), backward, "swish")


def swish_forgets_g(x, beta):
    """The same forward; dβ = Σₙ x² · s(1 − s) leaves out g — wrong on purpose."""
    s = stable_sigmoid(x.xp, beta.data * x.data)
    out = x.data * s

    def backward(g):
        slope = s * (1 - s)
        return g * (s + beta.data * x.data * slope), (x.data ** 2 * slope).sum(axis=0)

    return Tensor._from_op(out, (x, beta), backward, "swish_forgets_g")


class Swish(Module):
    """y = x · σ(βx) with a learnable β per feature, starting at 1 (then y = x σ(x), SiLU)."""

    def __init__(self, num_features, op=swish, dtype=None):
        super().__init__()
        self.op = op
        self.beta = Parameter([1.0] * num_features, dtype=dtype)

    def forward(self, x):
        return self.op(x, self.beta)


# ------------------------------------------------------------------------------------- checking
def check(name, fn, inputs, right):
    """gradcheck's report, and its text: the report, or the message of the error gradcheck raises."""
    try:
        report = minigan.gradcheck(fn, inputs, return_report=True)
        text = str(report)
    except GradcheckError as error:
        report, text = error.report, str(error)
    return {"name": name, "report": report, "text": text, "right": right}


def run_checks():
    rng = np.random.default_rng(0)
    x = minigan.tensor(rng.uniform(-3, 3, (5, 4)), requires_grad=True, dtype="float64")
    layer_x = minigan.tensor(rng.uniform(-2, 2, (6, 4)), requires_grad=True, dtype="float64")
    right, wrong = Swish(4, swish, dtype="float64"), Swish(4, swish_forgets_g, dtype="float64")
    right.beta.data[:] = wrong.beta.data[:] = rng.uniform(0.5, 1.5, 4)
    checks = [
        check("softplus (right backward)", softplus, (x,), True),
        check("softplus (wrong backward: σ' for σ)", softplus_wrong, (x,), False),
        check("Swish layer (right backward)", lambda x_, b: right(x_), (layer_x, right.beta), True),
        check("Swish layer (β-gradient forgets g)", lambda x_, b: wrong(x_), (layer_x, wrong.beta), False),
    ]
    try:
        minigan.gradcheck(softplus, (x.astype("float32").detach().requires_grad_(),))
        refusal = "(no error)"
    except DTypeError as error:
        refusal = str(error)
    return checks, refusal, right, wrong, layer_x


def report(checks, refusal):
    rows = []
    for c in checks:
        passed = c["report"].passed
        verdict = ("passed" if passed else "failed") + (": as it should" if passed == c["right"] else ": WRONG VERDICT")
        for i in c["report"].inputs:
            rows.append([c["name"], "right" if c["right"] else "wrong on purpose", f"{i.position} {i.shape}", i.mode,
                         i.checked, f"{i.max_abs_error:.1e}", f"{i.max_rel_error:.1e}", i.describe_worst(),
                         "yes" if i.passed else "NO", verdict])
    verdicts = _study.markdown_table(["check", "backward", "input", "mode", "elements", "max abs error",
                                      "max rel error", "worst at", "input passed", "gradcheck"], rows)
    sections = ["## Writing an op and a layer, and checking their gradients",
                "One row per checked input (the layer's input x is input 0, its β input 1).", verdicts]
    for c in checks:
        sections += [f"**{c['name']}** — `minigan.gradcheck` " + ("passed:" if c["report"].passed else "raised:"),
                     "```\n" + c["text"] + "\n```"]
    sections += ["**float32 input** — `minigan.gradcheck` raised:", "```\n" + refusal + "\n```"]
    return sections


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
    fig, (left, bars) = plt.subplots(1, 2, figsize=(12, 3.8))
    grid = np.linspace(-6, 6, 241)
    for op, label, color in ((softplus, "backward of softplus (σ)", "C0"),
                             (softplus_wrong, "wrong backward (σ')", "C3")):
        t = minigan.tensor(grid, requires_grad=True, dtype="float64")
        op(t).sum().backward()
        left.plot(grid, t.grad, color=color, label=label)
    points = grid[::12]
    numeric = (np.logaddexp(0, points + 1e-6) - np.logaddexp(0, points - 1e-6)) / 2e-6
    left.plot(points, numeric, "k.", label="finite differences")
    left.set_xlabel("x")
    left.set_title("d softplus / dx", fontsize=9)
    left.legend(fontsize=8)

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
    bars.set_title("Swish layer: ∂L/∂β for L = Σ v ⊙ y, v random (as gradcheck does)", fontsize=9)
    bars.legend(fontsize=8)
    fig.tight_layout()
    return _study.save_figure(fig, args, "custom_layer_gradcheck")


def main(argv=None):
    args = _study.parser("custom_layer_gradcheck", __doc__, seeds=0).parse_args(argv)
    checks, refusal, right, wrong, layer_x = run_checks()
    _study.write_report(args, "custom_layer_gradcheck", report(checks, refusal))
    figure(right, wrong, layer_x, args)


if __name__ == "__main__":
    main()
