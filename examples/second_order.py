"""Lesson: second derivatives by differentiating the backward pass. A network's Hessian built row by row
from Hessian-vector products, its eigenvalues, Newton's method against gradient descent, and the
gradient of WGAN-GP's gradient penalty; every number checked by finite differences.

    python examples/second_order.py [--quick] [--out DIR]

Everything runs in float64. The script stops with an error, and writes nothing, if any check fails.

1. **The Hessian, row by row.** A network f(x; θ) = tanh(x W1 + b1) W2 + b2, 2 → 8 → 1, has all its 33
   parameters in one vector θ. The loss on 48 fixed points (x, y) is
   L(θ) = mean((f(x; θ) − y)²) + 0.01 ‖θ‖². ``minigan.grad(L, θ, create_graph=True)`` returns ∇L as a
   tensor with a graph of its own: the backward pass, recorded as ops. Differentiating eᵢ · ∇L with
   respect to θ gives ∂(∇L)ᵢ/∂θ, row i of H. That is one Hessian-vector product, H eᵢ, per row.
   The script compares H with central finite differences of the gradient, column by column,
   (∇L(θ + ε eⱼ) − ∇L(θ − ε eⱼ)) / 2ε, and with ``minigan.functional.hessian``. It also shows that H is symmetric, and prints ``minigan.format_graph(∇L)``.
2. **The curvature spectrum.** ``numpy.linalg.eigvalsh(H)`` at the random start and along 3,000
   steps of gradient descent: how many eigenvalues are negative (directions of a saddle), and how
   spread the positive ones are (the condition number κ = λ_max / λ_min).
3. **Newton against gradient descent** from the point where gradient descent stopped. Newton's step
   solves H d = −∇L. Where H has an eigenvalue ≤ 0 it solves (H + λI) d = −∇L instead, with
   λ = −λ_min + 10⁻³ λ_max; each step says which. Gradient descent takes θ − η ∇L with η = 1/λ_max,
   from H at the same point: the largest step that does not overshoot along the steepest direction
   (steps above 2/λ_max diverge along it). The table gives the loss after each step of each method.
   L* is the loss where Newton ends, a point whose gradient is at rounding level.
4. **The gradient of a gradient penalty.** A critic D (2 → 16 → 1, LeakyReLU 0.2, or softplus) and
   fixed points x̂ between "real" and "fake" samples. P(θ) = mean over x̂ of (‖∇ₓD(x̂)‖₂ − 1)² is
   WGAN-GP's penalty. Its gradient ∂P/∂θ needs the derivative of a derivative: ∇ₓD is computed with
   ``create_graph=True``, then P is differentiated with respect to D's parameters. That is compared
   with central finite differences of P, whose ∇ₓD comes from ordinary first-order backward passes.
"""

import inspect
import re
import time

import numpy as np

import _study
import minigan
from minigan.nn import Dense, LeakyReLU, Module, Sequential

EPS = 1e-6                  # finite-difference step
HIDDEN = 8                  # the network's hidden units: 4·HIDDEN + 1 parameters
N_POINTS = 48
WEIGHT_DECAY = 1e-2         # 0.01 ‖θ‖² adds 0.02 to every eigenvalue of H
TRAIN_LR = 0.2              # gradient descent before Newton and GD are compared
DAMPING = 1e-3              # Newton's damping, times λ_max, when H is not positive definite
CRITIC_HIDDEN = 16
GP_BATCH = 16
FULL = {"train_steps": 3000, "checkpoints": (0, 30, 100, 300, 1000, 3000), "newton_steps": 6, "gd_steps": 1000}
# --quick keeps the 3,000 training steps (under a second): Newton needs a start near a minimum
QUICK = {"train_steps": 3000, "checkpoints": (0, 300, 3000), "newton_steps": 5, "gd_steps": 100}
TABLE_STEPS = (0, 1, 2, 3, 4, 5, 6, 10, 100, 1000)


# ------------------------------------------------------------------------ the network and its loss
def make_data(seed=0):
    """48 points x in [−2, 2]², y = sin(x₁) cos(x₂/2) + noise (std 0.05), and a random start θ₀."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, (N_POINTS, 2))
    y = (np.sin(x[:, 0]) * np.cos(0.5 * x[:, 1]) + 0.05 * rng.standard_normal(N_POINTS))[:, None]
    theta0 = np.concatenate([rng.standard_normal(2 * HIDDEN) * 0.8, np.zeros(HIDDEN),
                             rng.standard_normal(HIDDEN) * 0.5, [0.0]])
    return x, y, theta0


def unpack(theta):
    """W1 (2, 8), b1 (8,), W2 (8, 1), b2 (1,): views of the one parameter vector θ (getitem ops)."""
    h = HIDDEN
    return (theta[0:2 * h].reshape((2, h)), theta[2 * h:3 * h], theta[3 * h:4 * h].reshape((h, 1)),
            theta[4 * h:4 * h + 1])


def make_loss(x, y):
    """L(θ) = mean((tanh(x W1 + b1) W2 + b2 − y)²) + 0.01 ‖θ‖², for a tensor θ."""
    def loss(theta):
        w1, b1, w2, b2 = unpack(theta)
        prediction = minigan.tanh(x @ w1 + b1) @ w2 + b2
        return ((prediction - y) ** 2).mean() + WEIGHT_DECAY * (theta * theta).sum()
    return loss


def loss_value(loss_fn, theta):
    """L(θ) for an array θ, by a forward pass that records nothing."""
    with minigan.no_grad():
        return float(loss_fn(minigan.tensor(theta, dtype="float64")).item())


def loss_and_gradient(loss_fn, theta):
    """(L(θ), ∇L(θ)) for an array θ, by one ordinary (first-order) backward pass."""
    t = minigan.tensor(theta, requires_grad=True, dtype="float64")
    value = loss_fn(t)
    (g,) = minigan.grad(value, t)
    return float(value.item()), g.numpy()


# ----------------------------------------------------------------- the lesson's core: H from HVPs
def hessian_by_rows(loss_fn, theta):
    """H = ∇²L(θ), one row per Hessian-vector product; also the gradient tensor ∇L, for its graph."""
    theta = minigan.tensor(theta, requires_grad=True, dtype="float64", name="θ")
    (g,) = minigan.grad(loss_fn(theta), theta, create_graph=True)  # ∇L(θ): a tensor with a graph over θ
    n = theta.shape[0]
    rows = []
    for i in range(n):
        e_i = np.zeros(n)
        e_i[i] = 1.0
        (row,) = minigan.grad((g * e_i).sum(), theta, retain_graph=True)  # ∂(eᵢ · ∇L)/∂θ: row i of H
        rows.append(row.numpy())
    return np.stack(rows), g


def hessian_vector_product(loss_fn, theta, v):
    """H v = ∂(v · ∇L)/∂θ, in two backward passes and without forming H."""
    theta = minigan.tensor(theta, requires_grad=True, dtype="float64")
    (g,) = minigan.grad(loss_fn(theta), theta, create_graph=True)
    (hv,) = minigan.grad((g * v).sum(), theta)
    return hv.numpy()


def hessian_by_finite_differences(loss_fn, theta):
    """Column j: (∇L(θ + ε eⱼ) − ∇L(θ − ε eⱼ)) / 2ε, from first-order backward passes only."""
    columns = []
    for j in range(len(theta)):
        step = np.zeros(len(theta))
        step[j] = EPS
        columns.append((loss_and_gradient(loss_fn, theta + step)[1]
                        - loss_and_gradient(loss_fn, theta - step)[1]) / (2 * EPS))
    return np.stack(columns, axis=1)


# --------------------------------------------------------------------------------------- checks
class Checks:
    """Rows of the checks table; a failed row stops the script (see ``raise_if_failed``)."""

    def __init__(self):
        self.rows = []

    def compare(self, what, against, ours, reference, tolerance):
        """Passes when max |ours − reference| ≤ tolerance · max(1, max |reference|)."""
        ours, reference = np.asarray(ours, dtype=float), np.asarray(reference, dtype=float)
        scale = float(np.max(np.abs(reference)))
        error = float(np.max(np.abs(ours - reference)))
        passed = error <= tolerance * max(1.0, scale)
        self.rows.append({"what": what, "against": against, "elements": ours.size, "abs": error,
                          "rel": error / scale if scale else float("nan"), "tolerance": tolerance, "passed": passed})

    def raise_if_failed(self):
        failed = [r for r in self.rows if not r["passed"]]
        if failed:
            text = "; ".join(f"{r['what']} against {r['against']}: max abs error {r['abs']:.2e}" for r in failed)
            raise SystemExit(f"second_order.py: CHECK FAILED: {text}")


def check_hessian(checks, label, loss_fn, theta, hessian):
    """∇L against finite differences of L (the finite-difference H is made of these gradients); H against
    finite differences of ∇L (entries and eigenvalues); one HVP against finite differences; H's symmetry."""
    checks.compare(f"∇L {label}", "finite differences of L", loss_and_gradient(loss_fn, theta)[1],
                   _study.central_difference(lambda at: loss_value(loss_fn, at), theta), 1e-6)
    numeric = hessian_by_finite_differences(loss_fn, theta)
    checks.compare(f"H {label}", "finite differences of ∇L", hessian, numeric, 1e-6)
    checks.compare(f"eigenvalues of H {label}", "eigenvalues of the finite-difference H",
                   np.linalg.eigvalsh(hessian), np.linalg.eigvalsh((numeric + numeric.T) / 2), 1e-6)
    v = np.random.default_rng(1).standard_normal(len(theta))
    along_v = (loss_and_gradient(loss_fn, theta + EPS * v)[1]
               - loss_and_gradient(loss_fn, theta - EPS * v)[1]) / (2 * EPS)
    checks.compare(f"H v {label}, v random", "(∇L(θ + εv) − ∇L(θ − εv)) / 2ε",
                   hessian_vector_product(loss_fn, theta, v), along_v, 1e-6)
    checks.compare(f"H {label}", "Hᵀ (symmetry)", hessian, hessian.T, 1e-12)
    return float(np.max(np.abs(numeric - numeric.T)))


# --------------------------------------------------------------------- spectrum, Newton and GD
def spectrum(hessian):
    """H's eigenvalues (ascending), how many are negative and positive, the smallest and the largest."""
    eigenvalues = np.linalg.eigvalsh(hessian)
    return {"eigenvalues": eigenvalues, "negative": int((eigenvalues < 0).sum()),
            "positive": int((eigenvalues > 0).sum()), "min": float(eigenvalues[0]), "max": float(eigenvalues[-1])}


def train(loss_fn, theta0, budget):
    """Gradient descent with lr 0.2 from θ₀: the end point, and at each checkpoint step (the last one is
    the end) θ, the loss, ‖∇L‖ and H's spectrum."""
    theta, rows = theta0.copy(), []
    for step in range(budget["train_steps"] + 1):
        value, g = loss_and_gradient(loss_fn, theta)
        if step in budget["checkpoints"]:
            rows.append({"step": step, "theta": theta, "loss": value, "grad_norm": float(np.linalg.norm(g)),
                         **spectrum(hessian_by_rows(loss_fn, theta)[0])})
        if step < budget["train_steps"]:
            theta = theta - TRAIN_LR * g
    return theta, rows


def newton_step(hessian, g):
    """d solving H d = −∇L, or (H + λI) d = −∇L with λ = −λ_min + 10⁻³ λ_max where λ_min ≤ 0."""
    eigenvalues = np.linalg.eigvalsh(hessian)
    damping = 0.0 if eigenvalues[0] > 0 else -eigenvalues[0] + DAMPING * eigenvalues[-1]
    return np.linalg.solve(hessian + damping * np.eye(len(g)), -g), damping


def newton(loss_fn, theta, steps):
    """Losses before and after each Newton step, the damping used at each step, seconds per step."""
    losses, dampings, started = [], [], time.perf_counter()
    for _ in range(steps):
        value, g = loss_and_gradient(loss_fn, theta)
        d, damping = newton_step(hessian_by_rows(loss_fn, theta)[0], g)
        losses.append(value)
        dampings.append(damping)
        theta = theta + d
    seconds = (time.perf_counter() - started) / steps
    value, g = loss_and_gradient(loss_fn, theta)
    return {"losses": losses + [value], "dampings": dampings, "seconds": seconds, "end": theta,
            "end_grad_norm": float(np.linalg.norm(g))}


def gradient_descent(loss_fn, theta, lr, steps):
    """Losses before and after each step θ ← θ − η ∇L, seconds per step."""
    losses, started = [], time.perf_counter()
    for _ in range(steps):
        value, g = loss_and_gradient(loss_fn, theta)
        losses.append(value)
        theta = theta - lr * g
    seconds = (time.perf_counter() - started) / steps
    return {"losses": losses + [loss_and_gradient(loss_fn, theta)[0]], "seconds": seconds}


# ------------------------------------------------------------------------ the gradient penalty
class Softplus(Module):
    """softplus(z) = log(1 + eᶻ) as a layer: ``minigan.softplus``, which differentiates to any order."""

    def forward(self, z):
        return minigan.softplus(z)


def make_critic(activation, seed):
    """D: 2 → 16 → 1 with ``activation`` between the layers; weights N(0, 1/fan_in), biases N(0, 0.1²)."""
    critic = Sequential(Dense(2, CRITIC_HIDDEN, dtype="float64"), activation, Dense(CRITIC_HIDDEN, 1, dtype="float64"))
    rng = np.random.default_rng(seed)
    for layer in (critic[0], critic[2]):
        layer.weight.data[...] = rng.standard_normal(layer.weight.shape) / np.sqrt(layer.in_features)
        layer.bias.data[...] = rng.standard_normal(layer.bias.shape) * 0.1
    return critic


def penalty_points(seed=2):
    """x̂ = t x_real + (1 − t) x_fake: reals on a circle of radius 2, fakes N(0, 0.5²), t ~ U(0, 1)."""
    rng = np.random.default_rng(seed)
    angle = rng.uniform(0, 2 * np.pi, GP_BATCH)
    real = 2 * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    fake = 0.5 * rng.standard_normal((GP_BATCH, 2))
    t = rng.uniform(0, 1, (GP_BATCH, 1))
    return t * real + (1 - t) * fake


def gradient_penalty(critic, x_hat):
    """P = mean over x̂ of (‖∇ₓD(x̂)‖₂ − 1)², a tensor on the tape over D's parameters."""
    x = minigan.tensor(x_hat, requires_grad=True, dtype="float64")
    # D(x̂ₙ) depends on row n of x only, so ∂(Σₙ D(x̂ₙ))/∂x holds each ∇ₓD(x̂ₙ) in its row n
    (gx,) = minigan.grad(critic(x).sum(), x, create_graph=True)
    return ((minigan.norm(gx, ord=2, axis=1) - 1) ** 2).mean()


def penalty_value(critic, x_hat):
    """P as a float, from a first-order backward pass and NumPy's norm (no second derivative)."""
    x = minigan.tensor(x_hat, requires_grad=True, dtype="float64")
    (gx,) = minigan.grad(critic(x).sum(), x)
    return float(np.mean((np.linalg.norm(gx.numpy(), axis=1) - 1) ** 2))


def penalty_finite_differences(critic, x_hat):
    """(P(θ + ε eᵢ) − P(θ − ε eᵢ)) / 2ε for every element of every parameter; parameters restored."""
    numeric = []
    for p in critic.parameters():
        grad = np.zeros(p.shape)
        for i in np.ndindex(*p.shape):
            saved = p.data[i]
            for sign in (1, -1):
                p.data[i] = saved + sign * EPS
                grad[i] += sign * penalty_value(critic, x_hat) / (2 * EPS)
            p.data[i] = saved
        numeric.append(grad)
    return numeric


def critic_sum(critic, points):
    """Σₙ D(xₙ) as a float, by a forward pass that records nothing."""
    with minigan.no_grad():
        return float(critic(minigan.tensor(points, dtype="float64")).sum().item())


def check_penalty(checks, label, critic, x_hat):
    """∇ₓD against finite differences of D (P's finite differences are made of it), then ∂P/∂θ by
    double backward against finite differences of P."""
    x = minigan.tensor(x_hat, requires_grad=True, dtype="float64")
    gx = minigan.grad(critic(x).sum(), x)[0].numpy()
    checks.compare(f"∇ₓD(x̂), {label} critic", "finite differences of D",
                   gx, _study.central_difference(lambda at: critic_sum(critic, at), x_hat), 1e-6)
    penalty = gradient_penalty(critic, x_hat)
    # materialize_grads: a parameter that P does not depend on (LeakyReLU's biases) gets zeros, not an error
    ours = [g.numpy() for g in minigan.grad(penalty, critic.parameters(), materialize_grads=True)]
    numeric = penalty_finite_differences(critic, x_hat)
    flat = lambda arrays: np.concatenate([a.ravel() for a in arrays])  # noqa: E731
    checks.compare(f"∂P/∂θ, {label} critic", "finite differences of P", flat(ours), flat(numeric), 1e-6)
    norms = np.linalg.norm(gx, axis=1)
    names = [name for name, _ in critic.named_parameters()]
    return {"label": label, "penalty": float(penalty.item()), "norms": norms,
            "per_parameter": [(name, float(np.linalg.norm(g)), float(np.max(np.abs(g - n))))
                              for name, g, n in zip(names, ours, numeric)]}


# ------------------------------------------------------------------------------------- the report
def excess(value, best):
    gap = value - best
    return "< 1e-15 (rounding)" if abs(gap) < 1e-15 else f"{gap:.1e}"


def graph_caption(graph_text):
    """What to look for in ``format_graph(∇L)``, with the node numbers of this graph."""
    number = {op: re.search(r"^%(\d+) = " + re.escape(op), graph_text, re.M).group(1) for op in ("tanh(",)}
    square = re.search(rf"^%(\d+) = mul\(%{number['tanh(']}, %{number['tanh(']}\)", graph_text, re.M).group(1)
    return (f"`minigan.format_graph(∇L)` at θ₀: first the forward pass (the `getitem`s cut W1, b1, W2, b2 out "
            f"of θ; %{number['tanh(']} is tanh), then the backward pass, as ops. `mul(%{number['tanh(']}, "
            f"%{number['tanh(']})` (%{square}) and the `sub(const, %{square})` after it are tanh's derivative "
            "1 − tanh², built from tanh's saved output. The `scatter_add`s are `getitem`'s backward: they put "
            "each piece's gradient back into a 33-vector. The two `mul(const, %0)` are the backward of the "
            "weight decay's θ · θ, one per factor. Each of these ops has a backward of its own, so this graph "
            "can be differentiated again.")


def weight_decay_note(row):
    """How much of H's curvature at a checkpoint comes from the weight decay alone, and how many hidden
    units the weight decay has switched off there."""
    share = 2 * WEIGHT_DECAY  # the weight decay's Hessian is share · I: same eigenvectors, eigenvalues + share
    data = row["eigenvalues"] - share
    flat = int((np.abs(data) < 0.1 * share).sum())
    w1, b1, w2, _ = (np.abs(part) for part in unpack(row["theta"]))
    largest = np.maximum(np.maximum(w1.max(axis=0), b1), w2[:, 0])  # per hidden unit, its largest weight
    off = int((largest < 0.01).sum())
    return (f"The weight decay {WEIGHT_DECAY:g} ‖θ‖² adds {share:g} · I to H, so the data term's own Hessian "
            f"is H − {share:g} I, with the same eigenvectors. At GD step {row['step']} it has "
            f"{int((data < 0).sum())} negative eigenvalues: the fit to the data alone curves down along those "
            f"directions. {flat} of its {len(data)} eigenvalues are within ±{0.1 * share:g} of 0. The weight decay "
            f"has switched off {off} of the {HIDDEN} hidden units (each of their 4 weights is below 0.01 in size). "
            "For the data term, a unit whose weights are all 0 is a saddle: its output weight and its input "
            "weights multiply, so their block of the Hessian is [[0, cᵀ], [c, 0]], with eigenvalues ±‖c‖, 0 "
            "and 0. The weight decay's +0.02 is larger than ‖c‖, and that is what makes this point a strict "
            "minimum.")


def report(setup, graph_text, checks, fd_asymmetry, training, comparison, penalties):
    check_table = _study.markdown_table(
        ["check", "against", "elements", "max abs error", "max abs error ÷ largest reference entry", "tolerance",
         "passed"],
        [[r["what"], r["against"], r["elements"], f"{r['abs']:.1e}", f"{r['rel']:.1e}", f"{r['tolerance']:.0e}",
          "yes" if r["passed"] else "NO"] for r in checks.rows])
    spectrum_table = _study.markdown_table(
        ["GD step", "loss", "‖∇L‖", "negative eigenvalues", "positive eigenvalues", "λ_min", "λ_max",
         "κ = λ_max / λ_min"],
        [[r["step"], f"{r['loss']:.6f}", f"{r['grad_norm']:.2e}", r["negative"], r["positive"], f"{r['min']:+.3e}",
          f"{r['max']:.3f}", f"{r['max'] / r['min']:.0f}" if r["min"] > 0 else "— (not convex here)"]
         for r in training])
    newton_run, gd_run, start = comparison["newton"], comparison["gd"], comparison["start"]
    best = newton_run["losses"][-1]
    rows = []
    for step in TABLE_STEPS:
        if step >= max(len(newton_run["losses"]), len(gd_run["losses"])):
            continue
        cells = [step]
        for run in (newton_run, gd_run):
            cells += ([f"{run['losses'][step]:.12f}", excess(run["losses"][step], best)]
                      if step < len(run["losses"]) else ["—", "—"])
        rows.append(cells)
    newton_table = _study.markdown_table(
        ["step", "Newton: loss", "Newton: L − L*", "gradient descent: loss", "gradient descent: L − L*"], rows)
    damped = [f"{d:.2e}" for d in newton_run["dampings"] if d > 0]
    damping_text = (f"Damping was needed at {len(damped)} of {len(newton_run['dampings'])} Newton steps (λ = "
                    f"{', '.join(damped)})." if damped else
                    "H was positive definite at every Newton step: every step was the undamped H d = −∇L.")
    penalty_table = _study.markdown_table(
        ["critic", "P", "‖∇ₓD(x̂)‖ min … max", "parameter", "‖∂P/∂θ‖", "largest gap, double backward to FD"],
        [[p["label"], f"{p['penalty']:.6f}", f"{p['norms'].min():.3f} … {p['norms'].max():.3f}", name,
          f"{norm:.6f}", f"{gap:.1e}"] for p in penalties for name, norm, gap in p["per_parameter"]])
    return [
        "## Second derivatives: the Hessian from Hessian-vector products, Newton's method, a gradient penalty",
        setup,
        "### 1. The Hessian, one row per Hessian-vector product",
        "The core of the lesson, as the script runs it: the gradient is computed with `create_graph=True`, "
        "so it is a tensor whose graph is the backward pass; each row of H is the gradient of one of its "
        "entries.",
        "```python\n" + inspect.getsource(hessian_by_rows).rstrip() + "\n\n\n"
        + inspect.getsource(hessian_vector_product).rstrip() + "\n```",
        graph_caption(graph_text),
        "```\n" + graph_text + "\n```",
        "#### Checks (ε = 1e-6, central differences)",
        "A check passes when its max abs error is at most the tolerance times max(1, largest reference "
        "entry). The first-order rows (∇L, ∇ₓD) come first for a reason: the finite differences of ∇L and "
        "of P are made from minigan's first-order backward passes, which run the same backward code as the "
        "second-order ones, so a wrong backward formula could agree with itself. Checked against finite "
        "differences of the function values, they cannot. H comes out symmetric to rounding without "
        f"being made so: its rows are computed one at a time, and ∂²L/∂θᵢ∂θⱼ = ∂²L/∂θⱼ∂θᵢ holds for the "
        f"recorded backward pass as it does for L. The finite-difference H is less symmetric "
        f"(max |H_FD − H_FDᵀ| = {fd_asymmetry:.1e}): that is the size of its own error. The eigenvalue "
        "rows compare the sorted spectra.",
        check_table,
        "### 2. The curvature spectrum along gradient descent (lr 0.2)",
        spectrum_table,
        weight_decay_note(start),
        f"### 3. Newton against gradient descent, from GD step {training[-1]['step']}",
        f"The start: loss {start['loss']:.6f}, ‖∇L‖ = {start['grad_norm']:.2e}, λ_min = {start['min']:+.3e}, "
        f"λ_max = {start['max']:.3f}. Gradient descent uses η = 1/λ_max = {comparison['lr']:.4f}. "
        f"{damping_text} L* = {best:.12f} is the loss where Newton ends, with ‖∇L‖ = "
        f"{newton_run['end_grad_norm']:.1e} and {comparison['end']['negative']} negative eigenvalues "
        f"(λ_min = {comparison['end']['min']:+.3e}). One Newton step (a gradient, 33 Hessian-vector "
        f"products, a 33 × 33 solve) took {newton_run['seconds'] * 1e3:.1f} ms here, and one "
        f"gradient-descent step took {gd_run['seconds'] * 1e3:.2f} ms.",
        newton_table,
        "### 4. The gradient of WGAN-GP's gradient penalty, by double backward",
        f"{GP_BATCH} points x̂, critic 2 → {CRITIC_HIDDEN} → 1 ({4 * CRITIC_HIDDEN + 1} parameters). "
        f"The norm: `minigan.norm(g, ord=2, axis=1)`. The output bias (`2.bias`) cannot change ∇ₓD, so ∂P/∂b₂ = 0 "
        "for both critics. With LeakyReLU, ∇ₓD(x̂) = W1 diag(s) W2 with slopes s ∈ {0.2, 1}: the first "
        "bias (`0.bias`) only decides which slope each unit takes, so ∂P/∂b₁ = 0 as well, and "
        "`minigan.grad(..., materialize_grads=True)` returns zeros for it. The softplus critic's slopes "
        "σ(x̂ W1 + b₁) move with b₁. The checks table above compares all parameters at once. The gap "
        "here is per parameter tensor.",
        penalty_table,
    ]


def figure(training, comparison, args):
    plt = _study.plt
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2))
    first, last = training[0], training[-1]
    for row, color, label in ((first, "C3", f"start (GD step 0): {first['negative']} negative"),
                              (last, "C0", f"after {last['step']} GD steps: {last['negative']} negative")):
        left.plot(np.arange(1, len(row["eigenvalues"]) + 1), row["eigenvalues"], "o-", color=color, ms=4, label=label)
    left.axhline(0, color="0.4", lw=0.8)
    left.axhline(2 * WEIGHT_DECAY, color="0.4", lw=0.8, ls="--",
                 label=f"{2 * WEIGHT_DECAY:g}: the weight decay's share")
    left.set_yscale("symlog", linthresh=1e-2)
    left.set_xlabel("eigenvalue index (sorted)")
    left.set_ylabel("eigenvalue of H (symlog scale)")
    left.set_title("curvature spectrum of the 33-parameter network's loss", fontsize=10)
    left.legend(fontsize=8)

    best = comparison["newton"]["losses"][-1]
    for run, style, label in ((comparison["newton"], "o-", "Newton"),
                              (comparison["gd"], "-", f"gradient descent, η = 1/λ_max = {comparison['lr']:.3f}")):
        gaps = np.maximum(np.asarray(run["losses"]) - best, 1e-16)
        right.plot(np.arange(len(gaps)), gaps, style, label=label, ms=5)
    right.set_xscale("symlog", linthresh=1)
    right.set_yscale("log")
    right.set_xlabel("step (symlog scale)")
    right.set_ylabel("L − L*  (floored at 1e-16)")
    right.set_title(f"Newton vs gradient descent from GD step {training[-1]['step']}: loss above the minimum",
                    fontsize=10)
    right.legend(fontsize=8)
    fig.tight_layout()
    return _study.save_figure(fig, args, "second_order")


def main(argv=None):
    args = _study.parser("second_order", __doc__, seeds=0).parse_args(argv)
    budget = QUICK if args.quick else FULL
    x, y, theta0 = make_data()
    loss_fn = make_loss(x, y)
    checks = Checks()

    hessian, g = hessian_by_rows(loss_fn, theta0)
    graph_text = minigan.format_graph(g)
    fd_asymmetry = check_hessian(checks, "at θ₀", loss_fn, theta0, hessian)
    reference = minigan.functional.hessian(loss_fn, minigan.tensor(theta0, dtype="float64")).numpy()
    checks.compare("H at θ₀", "minigan.functional.hessian", hessian, reference, 1e-12)
    reference_text = "The checks compare the row-by-row H with `minigan.functional.hessian` too."

    trained, training = train(loss_fn, theta0, budget)
    check_hessian(checks, f"after {training[-1]['step']} GD steps", loss_fn, trained,
                  hessian_by_rows(loss_fn, trained)[0])
    start = training[-1]  # the last checkpoint is the point where gradient descent stopped
    lr = 1 / start["max"]
    newton_run = newton(loss_fn, trained, budget["newton_steps"])
    comparison = {"start": start, "lr": lr, "newton": newton_run,
                  "gd": gradient_descent(loss_fn, trained, lr, budget["gd_steps"]),
                  "end": spectrum(hessian_by_rows(loss_fn, newton_run["end"])[0])}

    x_hat = penalty_points()
    penalties = [check_penalty(checks, "LeakyReLU 0.2", make_critic(LeakyReLU(0.2), seed=3), x_hat),
                 check_penalty(checks, "softplus", make_critic(Softplus(), seed=4), x_hat)]
    checks.raise_if_failed()

    setup = (f"Network 2 → {HIDDEN} → 1 with tanh, θ ∈ ℝ^{4 * HIDDEN + 1}; {N_POINTS} points; "
             f"L(θ) = mean((f(x; θ) − y)²) + {WEIGHT_DECAY} ‖θ‖²; float64. {reference_text}"
             + (" (--quick: fewer steps.)" if args.quick else ""))
    _study.write_report(args, "second_order", report(setup, graph_text, checks, fd_asymmetry, training,
                                                      comparison, penalties))
    figure(training, comparison, args)


if __name__ == "__main__":
    main()
