"""Per-op forward+backward timings: minigan vs PyTorch eager and JAX jit (if installed) vs hand-written NumPy.

    python -m benchmarks.ops [--batch-sizes 64,1024] [--width 500] [--repeats N] [--threads N]
                             [--no-torch] [--no-jax] [--out DIR] [--json PATH]

What one "call" is, for each op (float32, CPU):

- ``linear``: y = x @ W + b for x (N, width), W (width, width), then backward with a fixed upstream
  gradient (dx, dW, db), then the gradients are dropped;
- ``batch_norm``: training-mode BatchNorm1d over x (N, width) with γ, β and running statistics,
  forward + backward (dx, dγ, dβ);
- ``leaky_relu``: slope 0.2 over x (N, width), forward + backward;
- ``bce_with_logits``: mean BCE of logits (N, 1) against a target tensor of ones, forward + backward
  from the scalar loss;
- ``adam``: one Adam step (lr 2e-4, betas (0.5, 0.999)) over a parameter set whose gradients are
  already there: one Dense(width, width) layer (2 tensors), and the whole seed GAN (G and D, 16
  tensors, 1.33 M numbers). The NumPy column is :class:`benchmarks.numpy_floor.FlatAdam` (all
  parameters in one buffer), minigan's and PyTorch's are their optimizers' per-parameter loops.

Then the tape's own per-op overhead — 20 chained muls of 8 numbers, forward and backward — with
nothing watching (each op pays one flag test), in anomaly mode, inside ``minigan.profile()`` and with
the op trace on.

minigan calls go through the tape (``Tensor`` inputs with ``requires_grad``, ``backward(g)``); PyTorch
is ``torch.nn.functional`` with ``.backward(g)``; NumPy is the hand-written primitives of
:mod:`benchmarks.numpy_floor`. Each sample times a loop of calls sized to take ~5 ms (so that clock
resolution does not matter for the tiny ops), systems interleaved round-robin as in
:mod:`benchmarks.step`; the report is the median µs per call over ``--repeats`` samples, and the
ratios of medians. No timing is asserted.
"""

import argparse
import os
import sys
import time

import numpy as np

from benchmarks import _common
from benchmarks import numpy_floor as floor

ADAM = {"lr": 2e-4, "betas": (0.5, 0.999)}


def _calibrated(run, target_s=0.005):
    """``run`` repeated k times, k chosen so that one batch of calls takes about ``target_s``."""
    run()
    start = time.perf_counter()
    run()
    once = max(time.perf_counter() - start, 1e-7)
    k = max(1, int(target_s / once))

    def loop():
        for _ in range(k):
            run()

    return loop, k


# ------------------------------------------------------------------------------------------ minigan
def minigan_cases(n, width, rng):
    import minigan
    from minigan.nn import functional as F

    def t(array, grad=True):
        return minigan.tensor(array, requires_grad=grad)

    x, w, b = t(rng.standard_normal((n, width), dtype=np.float32)), t(_w(rng, width, width)), t(_b(rng, width))
    g = rng.standard_normal((n, width), dtype=np.float32)
    gamma, beta = t(np.ones(width, np.float32)), t(np.zeros(width, np.float32))
    r_mean, r_var = t(np.zeros(width, np.float32), False), t(np.ones(width, np.float32), False)
    z, target = t(rng.standard_normal((n, 1), dtype=np.float32)), t(np.ones((n, 1), np.float32), False)

    def clear(*tensors):
        for tensor in tensors:
            tensor.grad = None

    def linear():
        F.linear(x, w, b).backward(g)
        clear(x, w, b)

    def batch_norm():
        F.batch_norm(x, gamma, beta, r_mean, r_var, training=True).backward(g)
        clear(x, gamma, beta)

    def leaky_relu():
        F.leaky_relu(x, 0.2).backward(g)
        clear(x)

    def bce():
        F.binary_cross_entropy_with_logits(z, target).backward()
        clear(z)

    return {"linear": linear, "batch_norm": batch_norm, "leaky_relu": leaky_relu, "bce_with_logits": bce}


def minigan_adam(shapes, rng):
    import minigan
    from minigan import optim

    params = [minigan.tensor(rng.standard_normal(s, dtype=np.float32) * 0.05, requires_grad=True) for s in shapes]
    for p in params:
        p.grad = rng.standard_normal(p.shape, dtype=np.float32) * 1e-3
    opt = optim.Adam(params, **ADAM)
    return opt.step


# ------------------------------------------------------------------------------------------ PyTorch
def torch_cases(torch, n, width, rng):
    F = torch.nn.functional

    def t(array, grad=True):
        return torch.tensor(array, requires_grad=grad)

    x = t(rng.standard_normal((n, width), dtype=np.float32))
    w, b = t(_w(rng, width, width).T.copy()), t(_b(rng, width))   # PyTorch stores W as (out, in)
    g = torch.tensor(rng.standard_normal((n, width), dtype=np.float32))
    gamma, beta = t(np.ones(width, np.float32)), t(np.zeros(width, np.float32))
    r_mean, r_var = torch.zeros(width), torch.ones(width)
    z, target = t(rng.standard_normal((n, 1), dtype=np.float32)), torch.ones(n, 1)

    def clear(*tensors):
        for tensor in tensors:
            tensor.grad = None

    def linear():
        F.linear(x, w, b).backward(g)
        clear(x, w, b)

    def batch_norm():
        F.batch_norm(x, r_mean, r_var, gamma, beta, training=True, momentum=0.1, eps=1e-5).backward(g)
        clear(x, gamma, beta)

    def leaky_relu():
        F.leaky_relu(x, 0.2).backward(g)
        clear(x)

    def bce():
        F.binary_cross_entropy_with_logits(z, target).backward()
        clear(z)

    return {"linear": linear, "batch_norm": batch_norm, "leaky_relu": leaky_relu, "bce_with_logits": bce}


def torch_adam(torch, shapes, rng):
    params = [torch.tensor(rng.standard_normal(s, dtype=np.float32) * 0.05, requires_grad=True) for s in shapes]
    for p in params:
        p.grad = torch.tensor(rng.standard_normal(tuple(p.shape), dtype=np.float32) * 1e-3)
    opt = torch.optim.Adam(params, **ADAM)
    return opt.step


# ------------------------------------------------------------------------------------------ JAX
def jax_cases(jax, n, width, rng):
    """Each op's forward and backward as one ``jax.jit`` function (``jax.vjp`` with the same upstream
    gradient), its results waited for: what XLA makes of each op alone."""
    jnp = jax.numpy
    x = jnp.asarray(rng.standard_normal((n, width), dtype=np.float32))
    w, b = jnp.asarray(_w(rng, width, width)), jnp.asarray(_b(rng, width))
    g = jnp.asarray(rng.standard_normal((n, width), dtype=np.float32))
    gamma, beta = jnp.ones(width, jnp.float32), jnp.zeros(width, jnp.float32)
    running = (jnp.zeros(width, jnp.float32), jnp.ones(width, jnp.float32))
    z, target = jnp.asarray(rng.standard_normal((n, 1), dtype=np.float32)), jnp.ones((n, 1), jnp.float32)

    def batch_norm(x, gamma, beta, running):
        mean, var = x.mean(axis=0), x.var(axis=0)
        new_running = (0.9 * running[0] + 0.1 * mean, 0.9 * running[1] + (0.1 * n / (n - 1)) * var)
        return (x - mean) * jax.lax.rsqrt(var + 1e-5) * gamma + beta, new_running

    def backward_of(f, cotangent, *args):
        out, pullback = jax.vjp(f, *args)
        return out, pullback(cotangent)

    def bce(z):
        return jnp.mean(jnp.maximum(z, 0) - z * target + jnp.log1p(jnp.exp(-jnp.abs(z))))

    steps = {
        "linear": (jax.jit(lambda x, w, b: backward_of(lambda x, w, b: x @ w + b, g, x, w, b)), (x, w, b)),
        "batch_norm": (jax.jit(lambda x, gamma, beta: backward_of(
            lambda x, gamma, beta: batch_norm(x, gamma, beta, running)[0], g, x, gamma, beta)
            + (batch_norm(x, gamma, beta, running)[1],)), (x, gamma, beta)),
        "leaky_relu": (jax.jit(lambda x: backward_of(lambda x: jnp.maximum(x, 0.2 * x), g, x)), (x,)),
        "bce_with_logits": (jax.jit(lambda z: backward_of(bce, jnp.float32(1.0), z)), (z,)),
    }
    return {op: (lambda f=f, args=args: jax.block_until_ready(f(*args))) for op, (f, args) in steps.items()}


def jax_adam(jax, shapes, rng):
    """Adam over the parameters as one jitted update (PyTorch's rule), buffers donated: XLA's one pass."""
    jnp = jax.numpy
    params = [jnp.asarray(rng.standard_normal(s, dtype=np.float32) * 0.05) for s in shapes]
    grads = [jnp.asarray(rng.standard_normal(s, dtype=np.float32) * 1e-3) for s in shapes]
    state = {"params": params, "m": [jnp.zeros_like(p) for p in params], "v": [jnp.zeros_like(p) for p in params],
             "t": jnp.zeros((), jnp.float32)}
    def update(state, grads):
        t = state["t"] + 1
        params, m, v = _common.jax_adam_update(jax, state["params"], grads, state["m"], state["v"], t, ADAM["lr"],
                                               ADAM["betas"])
        return {"params": params, "m": m, "v": v, "t": t}

    jitted = jax.jit(update, donate_argnums=0)
    holder = [state]

    def run():
        holder[0] = jax.block_until_ready(jitted(holder[0], grads))

    return run


# ------------------------------------------------------------------------------------------ NumPy
def numpy_cases(n, width, rng):
    x = rng.standard_normal((n, width), dtype=np.float32)
    w, b = _w(rng, width, width), _b(rng, width)
    g = rng.standard_normal((n, width), dtype=np.float32)
    gamma, beta = np.ones(width, np.float32), np.zeros(width, np.float32)
    r_mean, r_var = np.zeros(width, np.float32), np.ones(width, np.float32)
    z, target = rng.standard_normal((n, 1), dtype=np.float32), np.ones((n, 1), np.float32)

    def linear():
        floor.linear_forward(x, w, b)
        floor.linear_backward(g, x, w)

    def batch_norm():
        y, x_hat, inv_std, mean, var = floor.batch_norm_forward(x, gamma, beta)
        r_mean[...] = 0.9 * r_mean + 0.1 * mean                  # the running statistics, as the others do
        r_var[...] = 0.9 * r_var + (0.1 * n / (n - 1)) * var
        floor.batch_norm_backward(g, x_hat, inv_std, gamma)

    def leaky_relu():
        floor.leaky_relu_forward(x)
        floor.leaky_relu_backward(g, x)

    def bce():
        _, s = floor.bce_with_logits_forward(z, target)
        floor.bce_with_logits_backward(s, target, n)

    return {"linear": linear, "batch_norm": batch_norm, "leaky_relu": leaky_relu, "bce_with_logits": bce}


def numpy_adam(shapes, rng):
    adam = floor.FlatAdam(np, np.float32, shapes, lr=ADAM["lr"], betas=ADAM["betas"])
    adam.flat[...] = rng.standard_normal(adam.flat.shape, dtype=np.float32) * 0.05
    adam.grad_flat[...] = rng.standard_normal(adam.flat.shape, dtype=np.float32) * 1e-3
    return adam.step


def _w(rng, fan_in, fan_out):
    bound = 1 / np.sqrt(fan_in)
    return rng.uniform(-bound, bound, (fan_in, fan_out)).astype(np.float32)


def _b(rng, fan_in):
    bound = 1 / np.sqrt(fan_in)
    return rng.uniform(-bound, bound, fan_in).astype(np.float32)


def seed_gan_shapes():
    g = [(100, 500), (500,), (500,), (500,), (500, 500), (500,), (500,), (500,), (500, 784), (784,)]
    d = [(784, 500), (500,), (500, 500), (500,), (500, 1), (1,)]
    return g + d


# ------------------------------------------------------------------------- the tape's per-op overhead
CHAIN = 20  # ops per call of the overhead case


def tape_chain(rng, size=8):
    """The per-op overhead case: ``CHAIN`` muls on a tiny float32 tensor, forward and backward — the
    arrays are so small that the time is the tape's own work (Tensor, Node, the walk)."""
    import minigan

    x = minigan.tensor(rng.standard_normal(size, dtype=np.float32), requires_grad=True)
    factor = minigan.tensor(np.full(size, 1.0001, np.float32))

    def chain():
        y = x
        for _ in range(CHAIN):
            y = y * factor
        y.backward(np.ones(size, np.float32))
        x.grad = None

    return chain


def watch_overhead(repeats, gap_s, rng):
    """µs per op of :func:`tape_chain` with nothing watching (each op tests one flag), in anomaly mode,
    inside ``minigan.profile()`` and inside the op trace (printing to a null file)."""
    import minigan

    chain = tape_chain(rng)

    def watched(context):
        def run():
            with context():
                chain()
        return run

    null = open(os.devnull, "w")
    cases = {"nothing watching": chain, "detect_anomaly()": watched(minigan.detect_anomaly),
             "profile()": watched(minigan.profile), "trace_ops()": watched(lambda: minigan.trace_ops(file=null))}
    result = measure(cases, repeats, gap_s)
    null.close()
    plain = result["nothing watching"]["median"]
    return [{"mode": mode, "us_per_op": r["median"] / (2 * CHAIN), "us_per_call": r["median"],
             "vs_nothing_watching": r["median"] / plain, "detail": r} for mode, r in result.items()]


# ------------------------------------------------------------------------------------------ driver
def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ops", description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-sizes", default="64,1024", help="comma-separated N (default %(default)s)")
    parser.add_argument("--width", type=int, default=500, help="feature width (default %(default)s)")
    parser.add_argument("--repeats", type=int, default=21, help="samples per op and system (default %(default)s)")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for NumPy's BLAS and PyTorch (default: all cores)")
    parser.add_argument("--gap-ms", type=float, default=None,
                        help="untimed pause before each sample (default: 120 with >1 thread and PyTorch, else 0)")
    parser.add_argument("--no-torch", action="store_true", help="do not compare with PyTorch even if installed")
    parser.add_argument("--no-jax", action="store_true", help="do not compare with JAX even if installed")
    parser.add_argument("--out", help="directory for ops.json and ops.md")
    parser.add_argument("--json", help="path of the JSON results")
    args = parser.parse_args(argv)
    args.batch_sizes = [int(b) for b in args.batch_sizes.split(",") if b.strip()]
    return args


def measure(cases, repeats, gap_s=0.0):
    """{system: µs per call summary} for one op: ``cases`` is {system: callable}."""
    items = []
    for name, run in cases.items():
        loop, k = _calibrated(run)
        items.append((_common.Timed(name, loop), k))
    times = _common.time_interleaved([item for item, _ in items], repeats, warmup=1, gap_s=gap_s)
    return {item.name: {**_common.summarize([s / k for s in times[item.name]], scale=1e6), "calls_per_sample": k}
            for item, k in items}


def main(argv=None):
    args = parse_args(argv)
    torch, reason, threads, gap_s, machine = _common.start_comparison(args)
    jax, _ = _common.requested_jax(args)
    rng = np.random.default_rng(0)

    rows = []
    configs = [(op, f"N={n}, width {args.width}", n) for n in args.batch_sizes
               for op in ("linear", "batch_norm", "leaky_relu", "bce_with_logits")]
    configs += [("adam", f"Dense({args.width},{args.width}): 2 tensors", [(args.width, args.width), (args.width,)]),
                ("adam", "seed G + D: 16 tensors, 1.33 M", seed_gan_shapes())]
    per_n = {}
    for op, label, size in configs:
        if op == "adam":
            cases = {"minigan": minigan_adam(size, rng), "numpy": numpy_adam(size, rng)}
            if torch is not None:
                cases["pytorch"] = torch_adam(torch, size, rng)
            if jax is not None:
                cases["jax"] = jax_adam(jax, size, rng)
        else:
            if size not in per_n:
                per_n[size] = {"minigan": minigan_cases(size, args.width, rng),
                               "numpy": numpy_cases(size, args.width, rng)}
                if torch is not None:
                    per_n[size]["pytorch"] = torch_cases(torch, size, args.width, rng)
                if jax is not None:
                    per_n[size]["jax"] = jax_cases(jax, size, args.width, rng)
            cases = {system: ops[op] for system, ops in per_n[size].items()}
        result = measure(cases, args.repeats, gap_s)
        row = {"op": op, "size": label, **{f"{k}_us": v["median"] for k, v in result.items()}, "detail": result}
        for peer in ("pytorch", "jax"):
            if peer in result:
                row[f"minigan/{peer}"] = result["minigan"]["median"] / result[peer]["median"]
        row["minigan/numpy"] = result["minigan"]["median"] / result["numpy"]["median"]
        rows.append(row)
        print(f"  {op:<16} {label:<34} minigan {result['minigan']['median']:9.1f} µs"
              + (f"   PyTorch {result['pytorch']['median']:9.1f} µs" if "pytorch" in result else "")
              + (f"   JAX {result['jax']['median']:9.1f} µs" if "jax" in result else "")
              + f"   NumPy {result['numpy']['median']:9.1f} µs")
        sys.stdout.flush()

    watch_rows = watch_overhead(args.repeats, gap_s, rng)
    watch_header = ["mode", f"µs per op ({CHAIN} muls on 8 numbers, forward + backward)", "× nothing watching"]
    watch_table = [[r["mode"], f"{r['us_per_op']:.2f}", _common.fmt_ratio(r["vs_nothing_watching"])]
                   for r in watch_rows]

    header = ["op", "size", "minigan µs", "PyTorch µs", "JAX µs", "NumPy µs", "minigan/PyTorch", "minigan/JAX",
              "minigan/NumPy"]
    table = [[r["op"], r["size"], f"{r['minigan_us']:.1f}", f"{r['pytorch_us']:.1f}" if "pytorch_us" in r else "—",
              f"{r['jax_us']:.1f}" if "jax_us" in r else "—", f"{r['numpy_us']:.1f}",
              _common.fmt_ratio(r.get("minigan/pytorch")), _common.fmt_ratio(r.get("minigan/jax")),
              _common.fmt_ratio(r["minigan/numpy"])]
             for r in rows]
    print(f"\nforward+backward per call, median of {args.repeats} interleaved samples (Adam: one step):")
    print(_common.text_table(header, table))
    print("\nthe tape's per-op overhead, and what looking inside costs (median of the same samples):")
    print(_common.text_table(watch_header, watch_table))

    payload = {"benchmark": "benchmarks.ops", "command": _common.command_line(), "machine": machine,
               "threads": threads, "gap_s": gap_s, "repeats": args.repeats, "results": rows, "watch_overhead": watch_rows,
               "pytorch_skipped": reason if torch is None else None}
    path = args.json or (os.path.join(args.out, "ops.json") if args.out
                         else _common.default_output_path("minigan_ops.json"))
    _common.write_json(path, payload)
    print(f"\nJSON: {path}")
    if args.out:
        md = os.path.join(args.out, "ops.md")
        with open(md, "w") as f:
            f.write(f"# Per-op forward+backward (µs per call)\n\nCommand: `{payload['command']}`  \n"
                    f"Date: {machine['date']}  \nMachine: {_common.describe_machine(machine)}\n\n"
                    + _common.markdown_table(header, table) + "\n\n## The tape's per-op overhead and what looking "
                    "inside costs\n\n" + _common.markdown_table(watch_header, watch_table) + "\n")
        print(f"Markdown: {md}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
