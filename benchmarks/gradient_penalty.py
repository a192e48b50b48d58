"""Time ONE WGAN-GP discriminator step (double backward): minigan vs PyTorch eager vs JAX jit, on the CPU.

    python -m benchmarks.gradient_penalty [--batch-sizes 64,256,1024] [--repeats N] [--warmup N]
                                          [--budget-s S] [--threads N] [--gap-ms MS] [--out DIR]
                                          [--json PATH] [--check] [--no-torch] [--no-jax] [--profile N]

The workload, the critic update of WGAN-GP (Gulrajani et al., 2017, Algorithm 1) without the
generator: D = Dense(784→500)–LeakyReLU(0.2)–Dense(500→500)–LeakyReLU(0.2)–Dense(500→1), no
BatchNorm, float32, the same initial weights in both systems (minigan's, copied into PyTorch). Per
step, on a real batch x (rows of :func:`benchmarks._systems.benchmark_data` drawn with replacement),
a fake batch x̃ (one fixed U[0, 1) array of the same shape: no G forward) and ε ~ U(0, 1) per sample:

    x̂ = ε x + (1 − ε) x̃                                  (a leaf that requires grad)
    ∇ = ∂(Σᵢ D(x̂)ᵢ)/∂x̂                                   (minigan.grad / torch.autograd.grad, create_graph)
    L = mean D(x̃) − mean D(x) + λ · meanᵢ (‖∇ᵢ‖₂ − 1)²,  λ = 10
    zero_grad; L.backward(); Adam(lr 1e-4, betas (0.5, 0.9)).step(); read L back as a float

so L.backward() differentiates through the gradient ∇: a second-order pass through every layer.
The per-sample norm is ``minigan.norm(∇, axis=1)``; PyTorch's is ``torch.linalg.vector_norm(∇, dim=1)``.
The row indices
and ε of the k-th step are drawn once, before timing, and both systems' k-th steps use them; each
system gathers its real rows and builds x̂ inside its timed step, in its own arrays.

Measured as :mod:`benchmarks.step` measures (:mod:`benchmarks._common`): ``--threads`` for NumPy's
BLAS and PyTorch alike (default: all cores; ``--threads 1`` on a busy machine), ``--warmup`` untimed
steps, then ``--repeats`` interleaved rounds in rotating order (``--budget-s`` lowers them at large
batches, never below 5), an untimed ``--gap-ms`` pause before each timed step with several threads;
reported: median ms/step, 25th–75th percentiles, minimum, minigan/PyTorch (ratio of medians), and the
peak memory newly allocated during one further step of each (tracemalloc for minigan, torch.profiler
memory events for PyTorch).

``--check`` first verifies, in float64 with identical weights and inputs, that minigan's and
PyTorch's L and every parameter's gradient agree to a normwise relative error of 1e-9, over two steps
(the second after an Adam update of both, whose parameters are compared too); a disagreement raises
:class:`PyTorchMismatch`. ``--profile N`` runs cProfile over N minigan steps and torch.profiler over
N PyTorch steps at the first batch size and prints the top entries by own time. Output: tables, a
JSON file (``--json``, else ``DIR/gradient_penalty.json`` with ``--out``, else in the temporary
directory) and with ``--out`` a Markdown table ``DIR/gradient_penalty.md``. No timing is asserted.

Smoke test (seconds, no PyTorch needed):
``python -m benchmarks.gradient_penalty --batch-sizes 8 --repeats 2 --warmup 1 --no-torch``.
"""

import argparse
import io
import pstats
import sys

import numpy as np

from benchmarks import _common
from benchmarks._systems import benchmark_data

CRITIC = {"hidden": (500, 500), "negative_slope": 0.2}
PENALTY_WEIGHT = 10.0
ADAM = {"lr": 1e-4, "betas": (0.5, 0.9)}


class PyTorchMismatch(AssertionError):
    """minigan's and PyTorch's WGAN-GP critic steps disagree: the timing would compare different work."""


class Draws:
    """The inputs of every step, the same for each system: step k (counted by each system) uses the
    row indices ``index[k % rounds]`` and ε ``eps[k % rounds]``, drawn here, before any timing; the
    fake batch is one fixed array. Each system gathers the rows from ``data`` in its timed step."""

    def __init__(self, data, batch_size, rounds, dtype="float32", seed=0):
        rng = np.random.default_rng(seed)
        self.data = np.ascontiguousarray(data, dtype=dtype)
        self.index = rng.integers(0, len(data), size=(rounds, batch_size))
        self.eps = rng.uniform(0.0, 1.0, (rounds, batch_size, 1)).astype(dtype)
        self.fake = rng.uniform(0.0, 1.0, (batch_size, data.shape[1])).astype(dtype)

    def step(self, k):
        """(row indices, ε) of step k."""
        i = k % len(self.index)
        return self.index[i], self.eps[i]


MINIGAN_NORM = "minigan.norm(g, axis=1)"
TORCH_NORM = "torch.linalg.vector_norm(g, dim=1)"


class MiniganCritic:
    """The critic and its step in minigan (NumPy backend): ``nn.Sequential`` of ``Dense``/``LeakyReLU``,
    ``minigan.grad(create_graph=True)``, ``optim.Adam``."""

    label = "minigan"

    def __init__(self, draws, dtype="float32", seed=0):
        import minigan
        from minigan import nn, optim

        self.minigan = minigan
        self.draws = draws
        self.k = 0
        self.fake = minigan.tensor(draws.fake)
        state = minigan.random.get_state()
        minigan.random.seed(seed)
        try:
            layers, width = [], draws.data.shape[1]
            for w in CRITIC["hidden"]:
                layers += [nn.Dense(width, w, dtype=dtype), nn.LeakyReLU(CRITIC["negative_slope"])]
                width = w
            self.D = nn.Sequential(*layers, nn.Dense(width, 1, dtype=dtype))
        finally:
            minigan.random.set_state(state)
        self.dense_layers = [m for m in self.D if isinstance(m, nn.Dense)]
        self.opt = optim.Adam(self.D.parameters(), **ADAM)
        self.name = "minigan (numpy)"

    def loss_and_gradients(self, index, eps):
        """L of the step with these row indices and ε; every parameter's gradient is left in ``.grad``."""
        minigan = self.minigan
        real = self.draws.data[index]
        x_hat = minigan.tensor(eps * real + (1 - eps) * self.draws.fake, requires_grad=True)
        (g,) = minigan.grad(self.D(x_hat).sum(), x_hat, create_graph=True)
        penalty = ((minigan.norm(g, axis=1) - 1) ** 2).mean()
        loss = self.D(self.fake).mean() - self.D(minigan.tensor(real)).mean() + PENALTY_WEIGHT * penalty
        self.opt.zero_grad()
        loss.backward()
        return loss

    def step(self):
        loss = self.loss_and_gradients(*self.draws.step(self.k))
        self.k += 1
        self.opt.step()
        return float(loss.data)

    def sync(self):
        pass

    def peak_memory(self):
        return _common.tracemalloc_peak(self.step)


class TorchCritic:
    """The same critic and step in PyTorch eager on the CPU: ``nn.Linear``/``nn.LeakyReLU``,
    ``torch.autograd.grad(create_graph=True)``, ``torch.optim.Adam`` with PyTorch's default
    implementation, ``zero_grad(set_to_none=True)``; weights copied from a :class:`MiniganCritic`."""

    label = "pytorch"

    def __init__(self, torch, draws, weights_from, threads=None):
        nn = torch.nn
        self.torch = torch
        torch.set_num_threads(threads or _common.cpu_cores())
        dtype = getattr(torch, str(draws.data.dtype))
        self.draws = draws
        self.k = 0
        self.data = torch.from_numpy(draws.data)
        self.fake = torch.from_numpy(draws.fake)
        layers, width = [], draws.data.shape[1]
        for w in CRITIC["hidden"]:
            layers += [nn.Linear(width, w, dtype=dtype), nn.LeakyReLU(CRITIC["negative_slope"])]
            width = w
        self.D = nn.Sequential(*layers, nn.Linear(width, 1, dtype=dtype))
        self.linear_layers = [m for m in self.D if isinstance(m, nn.Linear)]
        with torch.no_grad():  # minigan's W is (in, out), PyTorch's (out, in)
            for linear, dense in zip(self.linear_layers, weights_from.dense_layers):
                linear.weight.copy_(torch.from_numpy(dense.weight.data.T))
                linear.bias.copy_(torch.from_numpy(dense.bias.data))
        self.opt = torch.optim.Adam(self.D.parameters(), **ADAM)
        self.name = f"PyTorch {torch.__version__.split('+')[0]} (cpu)"

    def loss_and_gradients(self, index, eps):
        """L of the step with these row indices and ε; every parameter's gradient is left in ``.grad``."""
        torch = self.torch
        real = self.data[torch.from_numpy(index)]
        eps = torch.from_numpy(eps)
        x_hat = (eps * real + (1 - eps) * self.fake).requires_grad_(True)
        (g,) = torch.autograd.grad(self.D(x_hat).sum(), x_hat, create_graph=True)
        penalty = ((torch.linalg.vector_norm(g, dim=1) - 1) ** 2).mean()
        loss = self.D(self.fake).mean() - self.D(real).mean() + PENALTY_WEIGHT * penalty
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        return loss

    def step(self):
        loss = self.loss_and_gradients(*self.draws.step(self.k))
        self.k += 1
        self.opt.step()
        return loss.item()

    def sync(self):
        pass

    def peak_memory(self):
        return _common.torch_cpu_peak(self.torch, self.step)


class JaxCritic:
    """The same critic and step in JAX on the CPU, the whole step one ``jax.jit`` function (state donated):
    x̂, ∇ = ``jax.grad`` of ΣD(x̂) inside the loss, ``jax.value_and_grad`` of L (the double backward),
    Adam written out as PyTorch's; weights copied from a :class:`MiniganCritic`, the rows and ε of each
    step from the same :class:`Draws`."""

    label = "jax"

    def __init__(self, jax, draws, weights_from):
        jnp = jax.numpy
        self.jax, self.draws, self.k = jax, draws, 0
        data, fake = jnp.asarray(draws.data), jnp.asarray(draws.fake)
        slope = CRITIC["negative_slope"]
        tree_map = jax.tree_util.tree_map

        def critic(params, x):
            for W, b in params[:-1]:
                x = x @ W + b
                x = jnp.maximum(x, slope * x)
            W, b = params[-1]
            return x @ W + b

        def loss_fn(params, real, eps):
            x_hat = eps * real + (1 - eps) * fake
            g = jax.grad(lambda x: critic(params, x).sum())(x_hat)
            penalty = ((jnp.sqrt(jnp.sum(g * g, axis=1)) - 1) ** 2).mean()
            return critic(params, fake).mean() - critic(params, real).mean() + PENALTY_WEIGHT * penalty

        def step(state, index, eps):
            loss, grads = jax.value_and_grad(loss_fn)(state["params"], data[index], eps)
            t = state["t"] + 1
            params, m, v = _common.jax_adam_update(jax, state["params"], grads, state["m"], state["v"], t,
                                                   ADAM["lr"], ADAM["betas"])
            return {"params": params, "m": m, "v": v, "t": t}, loss

        params = [(jnp.asarray(d.weight.data), jnp.asarray(d.bias.data)) for d in weights_from.dense_layers]
        zeros = tree_map(jnp.zeros_like, params)
        self.state = {"params": params, "m": zeros, "v": tree_map(jnp.zeros_like, params),
                      "t": jnp.zeros((), jnp.float32)}
        self.loss_fn = loss_fn
        self._step = jax.jit(step, donate_argnums=0)
        self.name = f"JAX {jax.__version__} jit (cpu)"

    def step(self):
        index, eps = self.draws.step(self.k)
        self.k += 1
        self.state, loss = self._step(self.state, index, eps)
        return float(loss)

    def sync(self):
        """Nothing to wait for: ``step`` read L back."""

    def peak_memory(self):
        return None, "not measured (XLA's CPU allocator is not visible to tracemalloc)"


def check_matches_jax(jax, batch_size=16, tolerance=1e-4, n_data=256):
    """L and every parameter's gradient (through the double backward) of minigan's and of the JAX critic,
    from the same weights on the same draws, in float32: the worst normwise relative differences (raises
    beyond ``tolerance``). (Not the updated weights: Adam's first step is lr · g/(|g| + ε), which turns a
    last-bit difference of a gradient near zero into a difference of lr.)"""
    draws = Draws(benchmark_data(n=n_data), batch_size, rounds=1)
    minigan_critic = MiniganCritic(draws)
    peer = JaxCritic(jax, draws, weights_from=minigan_critic)
    index, eps = draws.step(0)
    loss = minigan_critic.loss_and_gradients(index, eps)
    their_loss, their_grads = jax.value_and_grad(peer.loss_fn)(peer.state["params"], peer.jax.numpy.asarray(
        draws.data[index]), eps)
    worst = {"L": _relative_error(loss.data, np.asarray(their_loss)), "gradients": 0.0}
    for dense, (d_W, d_b) in zip(minigan_critic.dense_layers, their_grads):
        worst["gradients"] = max(worst["gradients"], _relative_error(dense.weight.grad, np.asarray(d_W)),
                                 _relative_error(dense.bias.grad, np.asarray(d_b)))
    bad = {k: v for k, v in worst.items() if not v <= tolerance}
    if bad:
        raise AssertionError(f"the JAX critic's step differs from minigan's beyond {tolerance}: {bad}")
    return worst


# ------------------------------------------------------------------------------------------ self-check
def _relative_error(mine, reference, scale=None):
    """max |mine − reference| / scale, scale = max |reference| unless given (normwise relative error)."""
    mine, reference = np.asarray(mine, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    scale = float(np.max(np.abs(reference))) if scale is None else scale
    diff = float(np.max(np.abs(mine - reference)))
    return diff / scale if scale > 0 else diff


def check_matches_pytorch(torch, batch_size=32, steps=2, tolerance=1e-9, n_data=256):
    """Run ``steps`` critic steps of minigan and of PyTorch from the same weights on the same inputs in
    float64; raise :class:`PyTorchMismatch` unless L, every parameter's gradient and (after each Adam
    update) every parameter agree to ``tolerance`` (normwise relative error). Returns {quantity: worst}.
    """
    draws = Draws(benchmark_data(n=n_data), batch_size, rounds=steps, dtype="float64")
    mine = MiniganCritic(draws, dtype="float64")
    theirs = TorchCritic(torch, draws, weights_from=mine, threads=torch.get_num_threads())
    pairs = []  # (name, minigan parameter, PyTorch parameter, transposed?)
    for i, (dense, linear) in enumerate(zip(mine.dense_layers, theirs.linear_layers)):
        pairs += [(f"layer{i}.weight", dense.weight, linear.weight, True),
                  (f"layer{i}.bias", dense.bias, linear.bias, False)]
    worst = {}

    def compare(what, a, b, scale=None):
        error = _relative_error(a, b, scale)
        key = what.split("[")[0]
        worst[key] = max(worst.get(key, 0.0), error)
        if not error <= tolerance:
            raise PyTorchMismatch(f"minigan vs PyTorch, WGAN-GP critic step: {what} differs by {error:.3e} "
                                  f"(relative), more than {tolerance:.0e}")

    for k in range(steps):
        loss = mine.loss_and_gradients(*draws.step(k))
        reference = theirs.loss_and_gradients(*draws.step(k))
        compare(f"L[step {k + 1}]", float(loss.data), reference.item())
        scale = max(float(p.grad.abs().max()) for p in theirs.D.parameters())
        for j, (name, param, torch_param, transposed) in enumerate(pairs):
            ref = torch_param.grad.numpy()
            # The output bias has a true gradient of exactly 0 (mean D(x̃) − mean D(x) cancels it and the
            # penalty does not depend on it): both sides hold rounding noise, compared to the largest gradient.
            own_scale = scale if j == len(pairs) - 1 else None
            compare(f"gradients[{name}, step {k + 1}]", param.grad, ref.T if transposed else ref, own_scale)
        mine.opt.step()
        theirs.opt.step()
        for name, param, torch_param, transposed in pairs:
            ref = torch_param.detach().numpy()
            compare(f"parameters[{name}, step {k + 1}]", param.data, ref.T if transposed else ref)
    return worst


# ------------------------------------------------------------------------------------------ the benchmark
def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gradient_penalty",
                                     description=__doc__.split("\n\n")[0])
    _common.add_timing_arguments(
        parser, "64,256,1024", "gradient_penalty.json",
        check_help="verify minigan against PyTorch (float64, rtol 1e-9) first; skipped without PyTorch",
        profile_help="profile N steps of each system at the first batch size and print the top entries")
    parser.add_argument("--no-jax", action="store_true", help="leave out the JAX peer")
    return _common.parse_timing_arguments(parser, argv)


def build_systems(data, batch_size, torch, torch_reason, rounds, threads=None, jax=None, jax_reason=None):
    """The systems for one batch size, on shared :class:`Draws`, and {label: reason} for those skipped."""
    draws = Draws(data, batch_size, rounds)
    systems = [MiniganCritic(draws)]
    skipped = {}
    if torch is None:
        skipped["pytorch"] = torch_reason
    else:
        systems.append(TorchCritic(torch, draws, weights_from=systems[0], threads=threads))
    if jax is None:
        skipped["jax"] = jax_reason or "JAX not requested"
    else:
        systems.append(JaxCritic(jax, draws, weights_from=systems[0]))
    return systems, skipped


def measure_batch_size(data, batch_size, args, torch, torch_reason):
    """Time the systems interleaved and measure their memory at one batch size; return a dict."""
    rounds = max(args.warmup, 1) + args.repeats + 1  # warm-up, timed rounds, the memory step
    systems, skipped = build_systems(data, batch_size, torch, torch_reason, rounds, threads=args.threads,
                                     jax=args.jax, jax_reason=args.jax_reason)
    return _common.measure_systems(systems, skipped, batch_size, args, references=("pytorch", "jax"))


def summary_rows(results):
    header = ["batch", "minigan ms (p25–p75)", "PyTorch ms (p25–p75)", "JAX ms (p25–p75)", "minigan/PyTorch",
              "minigan/JAX", "minigan MB", "PyTorch MB"]
    rows = []
    for r in results:
        s = r["systems"]

        def timing(label):
            if label not in s:
                return "—"
            e = s[label]
            return f"{_common.fmt_ms(e['median_ms'])} ({_common.fmt_ms(e['p25_ms'])}–{_common.fmt_ms(e['p75_ms'])})"

        rows.append([r["batch_size"], timing("minigan"), timing("pytorch"), timing("jax"),
                     _common.fmt_ratio(r["ratios"].get("minigan/pytorch")),
                     _common.fmt_ratio(r["ratios"].get("minigan/jax")),
                     _common.fmt_mb(s["minigan"]["peak_bytes"]),
                     _common.fmt_mb(s["pytorch"]["peak_bytes"] if "pytorch" in s else None)])
    return header, rows


def profile_systems(data, batch_size, steps, top, torch, threads=None, warmup=3):
    """cProfile of ``steps`` minigan steps and torch.profiler of as many PyTorch steps, as text."""
    systems, _ = build_systems(data, batch_size, torch, None, rounds=warmup + steps, threads=threads)
    profiler = _common.profile_steps(systems[0], steps, warmup)
    stream = io.StringIO()
    pstats.Stats(profiler, stream=stream).sort_stats("tottime").print_stats(top)
    report = (f"cProfile of {steps} minigan WGAN-GP critic steps, batch {batch_size} (sorted by own time, "
              f"'tottime'):\n" + stream.getvalue())
    if torch is not None:
        from torch.profiler import ProfilerActivity, profile  # noqa: PLC0415

        system = systems[1]
        for _ in range(warmup):
            system.step()
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(steps):
                system.step()
        report += (f"\ntorch.profiler of {steps} PyTorch steps, batch {batch_size} (sorted by self CPU time):\n"
                   + prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=top))
    return report


def main(argv=None):
    args = parse_args(argv)
    payload = {"benchmark": "benchmarks.gradient_penalty", "command": _common.command_line(), "backend": "numpy",
               "workload": {"critic": f"784→{'→'.join(map(str, CRITIC['hidden']))}→1, LeakyReLU(0.2), no BatchNorm",
                            "data": "10000 x 784 uniform [0, 1) float32; fake: a fixed uniform array",
                            "dtype": "float32",
                            "penalty_weight": PENALTY_WEIGHT, "optimizer": "Adam(lr=1e-4, betas=(0.5, 0.9))",
                            "minigan_norm": MINIGAN_NORM, "pytorch_norm": TORCH_NORM},
               "repeats": args.repeats, "warmup": args.warmup, "budget_s": args.budget_s}
    torch, torch_reason = (None, "--no-torch was given") if args.no_torch else _common.load_torch()
    if torch is None:
        print(f"PyTorch comparison skipped: {torch_reason}")
    args.jax, args.jax_reason = _common.requested_jax(args)
    threads = _common.configure_threads(args.threads, torch)
    args.gap_s = _common.default_gap_s(args.gap_ms, threads["threads"], mixed=torch is not None)
    payload["threads"] = threads
    payload["gap_s"] = args.gap_s
    payload["machine"] = _common.machine_info(torch)
    _common.print_setup(payload, threads)
    print(f"per-sample gradient norm: minigan {MINIGAN_NORM}; PyTorch {TORCH_NORM}")

    if args.check:
        if torch is None:
            payload["check"] = f"skipped: {torch_reason}"
            print(f"--check skipped: {torch_reason}")
        else:
            worst = check_matches_pytorch(torch)
            payload["check"] = {"tolerance": 1e-9, "worst_relative_errors": worst}
            print("check: minigan's L, gradients and Adam updates equal PyTorch's in float64 "
                  f"(worst normwise relative error {max(worst.values()):.1e} ≤ 1e-9)")
        if args.jax is not None:
            worst = check_matches_jax(args.jax)
            payload["check_jax"] = {"tolerance": 1e-4, "worst_relative_errors": worst}
            print(f"check: the JAX critic's L and gradients equal minigan's in float32 ({worst})")

    data = benchmark_data()
    results = _common.measure_batch_sizes(data, args, measure_batch_size, summary_rows, torch, torch_reason)
    if args.profile:
        report = profile_systems(data, args.batch_sizes[0], args.profile, args.profile_top, torch, args.threads)
        payload["profile"] = report
        print("\n" + report)
    _finish(args, payload, results)
    return 0


def _finish(args, payload, results):
    workload = payload["workload"]
    _common.write_results(
        args, payload, results, "gradient_penalty", "One WGAN-GP critic step (double backward), CPU", summary_rows,
        "Medians of interleaved rounds (25th–75th percentiles); ms per step. Peak MB: memory newly allocated "
        "during one step, at its peak, measured by:",
        header_lines=[f"Per-sample gradient norm: minigan `{workload['minigan_norm']}`, "
                      f"PyTorch `{workload['pytorch_norm']}`"])


if __name__ == "__main__":
    sys.exit(main())
