"""Walkthrough: backpropagation through a tiny network, node by node, every gradient beside its finite
difference; then one BatchNorm backward traced term by term against Ioffe & Szegedy (2015).

    python examples/backprop_walkthrough.py [--out DIR]      (--quick is accepted: it is quick already)

The network, in float64, on a batch of m = 4 samples with 3 features (fixed random values):

    h = x W1 + b1        linear 3 → 4
    y = BN(h; γ, β)      batch_norm in training mode: the batch's mean and (biased) variance
    a = LeakyReLU(y)     slope 0.2
    z = a W2 + b2        linear 4 → 1
    ℓ = BCE(z, t)        binary cross-entropy on the logits, per sample, targets t = (1, 0, 1, 0)
    L = mean(ℓ)

1. The tape: ``minigan.format_graph(L)``, one line per node, leaves first; and the same graph drawn by
   ``minigan.draw_graph(L, path)`` before backward, into ``OUT/backprop_walkthrough_graph.png`` (with
   Graphviz when its ``dot`` is installed, else with matplotlib).
2. ``L.backward()``, after ``retain_grad()`` on every intermediate node, and beside each node's gradient
   ∂L/∂v the central difference (L(v + ε eᵢ) − L(v − ε eᵢ)) / 2ε, ε = 1e-6, for every element i. For
   a leaf, v's value is perturbed; for an intermediate node the forward is re-run with ε eᵢ added to
   that node's output, everything upstream unchanged — exactly the quantity that backpropagation
   delivers to the node.
3. BatchNorm's backward term by term. With g = ∂L/∂y from the tape, the paper's equations (§3) are
   evaluated in NumPy one line each, and every term is compared with its own finite difference — L as a
   function of x̂, of σ² (μ held), of μ (σ² recomputed from μ), of x, γ and β — and, where the fused op
   exposes it, with minigan's closed-form backward (∂L/∂x, ∂L/∂γ, ∂L/∂β).
"""

import os

import numpy as np

import _study
import minigan
from minigan.graph import nodes as tape_nodes
from minigan.nn import functional as F

BN_EPS = 1e-5    # BatchNorm's ε
SLOPE = 0.2
TARGETS = np.array([[1.0], [0.0], [1.0], [0.0]])
OPS = ("h", "y", "a", "z", "ℓ", "L")  # the intermediate nodes, in forward order
GRAPH_PICTURE = "backprop_walkthrough_graph.png"


def make_leaves(seed=0):
    rng = np.random.default_rng(seed)
    values = {"x": rng.standard_normal((4, 3)), "W1": rng.standard_normal((3, 4)) * 0.7,
              "b1": rng.standard_normal(4) * 0.1, "γ": rng.uniform(0.5, 1.5, 4), "β": rng.standard_normal(4) * 0.1,
              "W2": rng.standard_normal((4, 1)), "b2": np.array([0.1])}
    return {name: minigan.tensor(v, requires_grad=True, dtype="float64", name=name) for name, v in values.items()}


def forward(p, nudge=None):
    """(L, {name: tensor}) for the leaves ``p``; ``nudge=(name, array)`` adds the array to that node's output."""
    out = {}

    def node(name, t):
        if nudge is not None and nudge[0] == name:
            t = t + nudge[1]
        out[name] = t
        return t

    h = node("h", F.linear(p["x"], p["W1"], p["b1"]))
    y = node("y", F.batch_norm(h, p["γ"], p["β"], None, None, training=True, eps=BN_EPS))
    a = node("a", F.leaky_relu(y, SLOPE))
    z = node("z", F.linear(a, p["W2"], p["b2"]))
    ell = node("ℓ", F.binary_cross_entropy_with_logits(z, TARGETS, reduction="none"))
    return node("L", ell.mean()), out


def loss(p, leaf=None, value=None, nudge=None):
    """L as a float, with leaf ``leaf``'s data replaced by ``value`` and/or a node nudged; no tape."""
    saved = p[leaf].data if leaf else None
    if leaf:
        p[leaf].data = value
    try:
        with minigan.no_grad():
            return float(forward(p, nudge)[0].item())
    finally:
        if leaf:
            p[leaf].data = saved


def walk(p, picture_path):
    """Build the graph, list it and draw it into ``picture_path``, backpropagate; per node (tape
    order): name, op, shape, autograd's ∂L/∂v and the finite difference. Also the edges, the tape text
    and ∂L/∂y."""
    L, inner = forward(p)
    for name, t in inner.items():  # named, the picture says "h = linear" rather than just "linear"
        t.name = name
    order = tape_nodes(L)  # the graph's vertices: each op's node, and the leaves themselves
    tensors = {**p, **inner}
    names = {(t.grad_fn or t): name for name, t in tensors.items()}
    edges = [(names[parent], names[v]) for v in order if not v.is_leaf for parent in v.parents if parent in names]
    ops = {names[v]: v.op or "leaf" for v in order}
    tape = minigan.format_graph(L)
    minigan.draw_graph(L, picture_path, title="the tape of L, before L.backward()")
    for t in inner.values():
        t.retain_grad()
    values = {name: t.numpy().copy() for name, t in inner.items()}
    L.backward()
    rows = []
    for v in order:
        name = names[v]
        t = tensors[name]
        if name in p:
            numeric = _study.central_difference(lambda value: loss(p, leaf=name, value=value), t.data)
        else:
            numeric = _study.central_difference(lambda value: loss(p, nudge=(name, value - values[name])), values[name])
        rows.append({"name": name, "op": ops[name], "shape": t.shape, "grad": np.array(t.grad), "numeric": numeric})
    return rows, edges, tape, values


def batch_norm_trace(p, values, grads):
    """The paper's backward equations evaluated one by one, each with its finite difference and, where
    the fused op gives it, minigan's value."""
    x, g = values["h"], grads["y"]
    gamma, beta = p["γ"].numpy(), p["β"].numpy()
    m = x.shape[0]
    mu = x.mean(axis=0)
    var = ((x - mu) ** 2).mean(axis=0)
    inv_std = 1 / np.sqrt(var + BN_EPS)
    x_hat = (x - mu) * inv_std

    d_x_hat = g * gamma
    d_var = (d_x_hat * (x - mu)).sum(axis=0) * -0.5 * (var + BN_EPS) ** -1.5
    d_mu = (d_x_hat * -inv_std).sum(axis=0) + d_var * (-2 * (x - mu)).sum(axis=0) / m
    d_x = d_x_hat * inv_std + d_var * 2 * (x - mu) / m + d_mu / m
    d_gamma = (g * x_hat).sum(axis=0)
    d_beta = g.sum(axis=0)

    def loss_of_y(y):  # L as a function of BN's output, everything after it unchanged
        return loss(p, nudge=("y", y - values["y"]))

    def normalise(x_, mu_, var_):
        return gamma * (x_ - mu_) / np.sqrt(var_ + BN_EPS) + beta

    terms = [
        ("∂L/∂x̂ᵢ", "gᵢ · γ", d_x_hat, lambda v: loss_of_y(gamma * v + beta), x_hat, None),
        ("∂L/∂σ²", "Σᵢ ∂L/∂x̂ᵢ · (xᵢ − μ) · (−½)(σ² + ε)^(−3/2)", d_var,
         lambda v: loss_of_y(normalise(x, mu, v)), var, None),
        ("∂L/∂μ", "Σᵢ ∂L/∂x̂ᵢ · (−1/√(σ² + ε)) + ∂L/∂σ² · Σᵢ −2(xᵢ − μ)/m", d_mu,
         lambda v: loss_of_y(normalise(x, v, ((x - v) ** 2).mean(axis=0))), mu, None),
        ("∂L/∂xᵢ", "∂L/∂x̂ᵢ/√(σ² + ε) + ∂L/∂σ² · 2(xᵢ − μ)/m + ∂L/∂μ/m", d_x,
         lambda v: loss_of_y(normalise(v, v.mean(axis=0), v.var(axis=0))), x, grads["h"]),
        ("∂L/∂γ", "Σᵢ gᵢ · x̂ᵢ", d_gamma, lambda v: loss_of_y(v * x_hat + beta), gamma, p["γ"].grad),
        ("∂L/∂β", "Σᵢ gᵢ", d_beta, lambda v: loss_of_y(gamma * x_hat + v), beta, p["β"].grad),
    ]
    return [{"term": term, "equation": eq, "value": value, "numeric": _study.central_difference(f, at),
             "minigan": None if ours is None else np.array(ours)} for term, eq, value, f, at, ours in terms]


def largest(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))))


def report(rows, tape, trace):
    listing = []
    for i, r in enumerate(rows):
        listing.append(f"%{i} {r['name']} = {r['op']} {r['shape']}   max |autograd − finite difference| = "
                       f"{largest(r['grad'], r['numeric']):.1e}")
        listing.append("   ∂L/∂" + r["name"] + " = " + np.array2string(r["grad"], precision=5, suppress_small=True,
                                                                         prefix="   ∂L/∂" + r["name"] + " = "))
    node_table = _study.markdown_table(
        ["node", "op", "shape", "‖∂L/∂v‖ autograd", "‖∂L/∂v‖ finite difference", "largest gap"],
        [[r["name"], r["op"], str(r["shape"]), f"{np.linalg.norm(r['grad']):.6f}",
          f"{np.linalg.norm(r['numeric']):.6f}", f"{largest(r['grad'], r['numeric']):.1e}"] for r in rows])
    bn_table = _study.markdown_table(
        ["term", "the paper's equation", "first element", "largest gap to FD", "largest gap to minigan"],
        [[t["term"], t["equation"], f"{np.ravel(t['value'])[0]:+.6f}",
          f"{largest(t['value'], t['numeric']):.1e}",
          "inside the fused op" if t["minigan"] is None else f"{largest(t['value'], t['minigan']):.1e}"]
         for t in trace])
    return [
        "## Backpropagation, node by node",
        "### 1. The tape (`minigan.format_graph(L)`)",
        "```\n" + tape + "\n```",
        f"The same graph as a picture, drawn before `L.backward()` by `minigan.draw_graph(L, path)`: "
        f"[{GRAPH_PICTURE}]({GRAPH_PICTURE}) (leaves in ovals, ops in boxes, the root outlined twice).",
        "### 2. Every node's gradient beside its finite difference (ε = 1e-6, central, element by element)",
        "'Largest gap' is the largest absolute difference between the two over the node's elements. "
        "∂L/∂b1 is 0: BatchNorm subtracts the batch mean, so a bias just before it cannot change L.",
        node_table,
        "```\n" + "\n".join(listing) + "\n```",
        "### 3. BatchNorm's backward, term by term (Ioffe & Szegedy, 2015, §3)",
        "x is BN's input h (m = 4 rows), g = ∂L/∂y from the tape; the equations run in NumPy. The "
        "fused op computes x̂, σ² and μ's gradients only inside its closed-form backward, so those three "
        "are checked against finite differences alone.",
        bn_table,
    ]


def figure(rows, edges, trace, args):
    plt = _study.plt
    fig, (graph, errors) = plt.subplots(1, 2, figsize=(19, 5), gridspec_kw={"width_ratios": [2.8, 1]})
    where = {name: (3.4 * i, 0.0) for i, name in enumerate(OPS)}
    for op, leaves in (("h", ("x", "W1", "b1")), ("y", ("γ", "β")), ("z", ("W2", "b2"))):
        for j, leaf in enumerate(leaves):
            where[leaf] = (where[op][0] + 1.3 * (j - (len(leaves) - 1) / 2), 1.4)
    for parent, child in edges:
        graph.annotate("", xy=where[child], xytext=where[parent],
                       arrowprops={"arrowstyle": "->", "color": "0.5", "shrinkA": 20, "shrinkB": 24})
    for r in rows:
        text = (f"{r['name']}  {r['op']}\n{r['shape']}\n‖∂L/∂·‖ {np.linalg.norm(r['grad']):.3f}\n"
                f"|Δ FD| {largest(r['grad'], r['numeric']):.0e}")
        graph.text(*where[r["name"]], text, ha="center", va="center", fontsize=7,
                   bbox={"boxstyle": "round", "fc": "#e8f0fe" if r["op"] != "leaf" else "#fef7e0", "ec": "0.6"})
    graph.set_xlim(-2.0, 3.4 * (len(OPS) - 1) + 1.2)
    graph.set_ylim(-0.7, 2.0)
    graph.axis("off")
    graph.set_title("the tape: leaves (top) feed ops; gradient norm and largest gap to finite differences", fontsize=9)
    labels = [r["name"] for r in rows] + [t["term"] for t in trace]
    gaps = [largest(r["grad"], r["numeric"]) for r in rows] + [largest(t["value"], t["numeric"]) for t in trace]
    errors.barh(range(len(labels)), np.maximum(gaps, 1e-16), color=["C0"] * len(rows) + ["C1"] * len(trace))
    errors.set_yticks(range(len(labels)), labels, fontsize=8)
    errors.invert_yaxis()
    errors.set_xscale("log")
    errors.set_xlabel("max |analytic − finite difference|")
    errors.set_title("blue: tape nodes; orange: BatchNorm terms (paper's equations)", fontsize=9)
    fig.tight_layout()
    return _study.save_figure(fig, args, "backprop_walkthrough")


def main(argv=None):
    args = _study.parser("backprop_walkthrough", __doc__, seeds=0).parse_args(argv)
    p = make_leaves()
    rows, edges, tape, values = walk(p, os.path.join(args.out, GRAPH_PICTURE))
    grads = {r["name"]: r["grad"] for r in rows}
    trace = batch_norm_trace(p, values, grads)
    _study.write_report(args, "backprop_walkthrough", report(rows, tape, trace))
    figure(rows, edges, trace, args)


if __name__ == "__main__":
    main()
