"""Study: where a training step's time goes, and what changes it — CPU vs GPU, batch size, fused
kernels on/off, graph replay on/off.

    python examples/efficiency.py [--quick] [--threads N] [--out DIR]

The claims under test: shared/reference/004_50a8fbf6b0940d69.txt (GAN training efficiency) says GAN
training "is relatively slow, which limits large-scale use"; 000_24081a0f7aa74c5f.txt says BatchNorm
"needs a lot of computation"; 003_022cd45cf3221e13.txt says with BN "each iteration is slower" because
of the extra computation.

All timings are of the seed GAN (G 100→500→BN→500→BN→784, D 784→500→500→1, Adam, float32) on the
benchmark suite's data (``benchmarks/_systems.py``: 10,000 uniform 784-pixel rows), medians of
interleaved rounds (``benchmarks/_common.py``), one BLAS thread by default (``--threads``):

1. batch-size scaling: ms per ``Trainer.step()`` and samples/s, minigan beside the suite's hand-fused
   NumPy floor (the same step without autograd), on the CPU and, where CuPy and a GPU are present, on
   the GPU (otherwise the reason is printed and the GPU columns say "skipped");
2. fused kernels on/off: on the CPU, BatchNorm as minigan's one fused op with its closed-form backward
   vs the same normalisation composed from core ops (autograd derives the backward), and Adam as one
   update over all 16 tensors at once (one flat buffer) vs one Adam per tensor; on the GPU, the whole
   step with minigan's CUDA kernels (``minigan.cuda``: BatchNorm, bias + LeakyReLU, BCE, Adam) on and
   off (``minigan.cuda.kernels_disabled()``);
3. graph replay on/off: minigan records a fresh tape every step and has no replay to turn on, so the
   study says so and shows the floor-vs-minigan gap: the most that replaying a recorded graph (or any
   removal of the tape's Python overhead) could save on this machine;
4. where the time goes: a cProfile of minigan's step at batch 256 on the CPU, own time summed by
   source file.
"""

import os
import pstats

import numpy as np

import _study
from benchmarks import _common
from benchmarks._systems import FloorStep, MiniganStep, benchmark_data
from minigan import backend as use_backend
from minigan import cuda, optim
from minigan.nn.batchnorm import batch_norm
from minigan.tensor import Tensor

FULL = {"batches": (64, 128, 256, 512, 1024, 2048), "repeats": 25, "warmup": 2, "budget_s": 10.0,
        "bn_sizes": (64, 256, 1024), "op_repeats": 30, "profile_steps": 30}
QUICK = {"batches": (16, 64), "repeats": 2, "warmup": 1, "budget_s": 0.2,
         "bn_sizes": (64,), "op_repeats": 3, "profile_steps": 3}
WIDTH = 500


def median_ms(items, budget):
    times = _common.time_interleaved([_common.Timed(*item) for item in items], budget["repeats"],
                                     budget["warmup"], budget["budget_s"])
    return {name: _common.summarize(t)["median"] for name, t in times.items()}


def systems(data, batch, backend):
    """(label, step, sync) of each system timed on ``backend``: minigan and the floor, and on CuPy also
    minigan with its fused CUDA kernels switched off."""
    minigan, floor = MiniganStep(data, batch, backend), FloorStep(data, batch, backend)
    items = [("minigan", minigan.step, minigan.sync), ("floor", floor.step, floor.sync)]
    if backend == "cupy":
        plain = MiniganStep(data, batch, backend)

        def step_without_kernels():
            with cuda.kernels_disabled():
                plain.step()
        items.append(("minigan, kernels off", step_without_kernels, plain.sync))
    return items


def batch_scaling(data, budget, backends):
    """{backend: {batch: {system: median ms}}} for the backends that can run."""
    out = {}
    for name in backends:
        out[name] = {}
        for batch in budget["batches"]:
            out[name][batch] = median_ms(systems(data, batch, name), budget)
            print(f"{name} batch {batch}: " + ", ".join(f"{k} {v:.1f} ms" for k, v in out[name][batch].items()),
                  flush=True)
    return out


def composed_batch_norm(x, weight, bias, eps=1e-5):
    """Training-mode BatchNorm from core ops: mean, subtract, square, mean, add, sqrt, divide, scale,
    shift — nine nodes on the tape, each with its own backward, instead of one."""
    mean = x.mean(axis=0, keepdims=True)
    centered = x - mean
    var = (centered * centered).mean(axis=0, keepdims=True)
    return centered / (var + eps).sqrt() * weight + bias


def fused_batch_norm(x, weight, bias, eps=1e-5):
    return batch_norm(x, weight, bias, None, None, training=True, eps=eps)


def bn_inputs(n, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return (Tensor(rng.standard_normal((n, WIDTH)) * 3 + 1, requires_grad=True, dtype=dtype),
            Tensor(rng.uniform(0.5, 1.5, WIDTH), requires_grad=True, dtype=dtype),
            Tensor(rng.standard_normal(WIDTH), requires_grad=True, dtype=dtype))


def forward_backward(fn, inputs, g):
    def run():
        for t in inputs:
            t.grad = None
        fn(*inputs).backward(g)
    return run


def batch_norm_agreement():
    """Largest |fused − composed| over the output and the three gradients, in float64."""
    inputs = bn_inputs(64, "float64")
    g = np.random.default_rng(1).standard_normal((64, WIDTH))
    results = []
    for fn in (fused_batch_norm, composed_batch_norm):
        for t in inputs:
            t.grad = None
        out = fn(*inputs)
        out.backward(g)
        results.append([out.numpy()] + [t.grad.copy() for t in inputs])
    return max(float(np.max(np.abs(a - b))) for a, b in zip(*results))


def batch_norm_timings(budget):
    rows = {}
    for n in budget["bn_sizes"]:
        inputs = bn_inputs(n, "float32")
        g = np.random.default_rng(1).standard_normal((n, WIDTH)).astype(np.float32)
        rows[n] = median_ms([("fused", forward_backward(fused_batch_norm, inputs, g)),
                             ("composed", forward_backward(composed_batch_norm, inputs, g))],
                            {**budget, "repeats": budget["op_repeats"]})
    return rows


def adam_timings(budget, data):
    """One Adam over every parameter of the seed GAN vs one Adam per parameter tensor."""
    trainer = MiniganStep(data, 64).trainer
    shapes = [p.shape for p in trainer.G.parameters()] + [p.shape for p in trainer.D.parameters()]
    rng = np.random.default_rng(0)

    def parameters():
        params = [Tensor(rng.standard_normal(s) * 0.05, requires_grad=True, dtype="float32") for s in shapes]
        for p in params:
            p.grad = rng.standard_normal(p.shape).astype(np.float32) * 1e-3
        return params

    together = optim.Adam(parameters(), lr=2e-4, betas=(0.5, 0.999))
    separate = [optim.Adam([p], lr=2e-4, betas=(0.5, 0.999)) for p in parameters()]
    times = median_ms([("one Adam, all tensors", together.step),
                       ("one Adam per tensor", lambda: [o.step() for o in separate])],
                      {**budget, "repeats": budget["op_repeats"]})
    return times, len(shapes), sum(int(np.prod(s)) for s in shapes)


def profile(data, steps, batch=256):
    """[(source, ms per step, share)] of minigan's step: cProfile's own time summed by minigan source
    file (everything else, NumPy's Python code and the interpreter's built-ins, as "other"), and the
    total ms per profiled step."""
    profiler = _common.profile_steps(MiniganStep(data, batch), steps)
    by_source = {}
    for (filename, _, _), entry in pstats.Stats(profiler).stats.items():
        parts = os.path.normpath(filename).split(os.sep)
        package = [i for i, part in enumerate(parts[:-1]) if part == "minigan"]  # the innermost: the package
        source = "/".join(parts[package[-1]:]) if package else "other (NumPy, Python)"
        by_source[source] = by_source.get(source, 0.0) + entry[2]
    total = sum(by_source.values())
    rows = [(source, seconds / steps * 1e3, seconds / total)
            for source, seconds in sorted(by_source.items(), key=lambda item: -item[1]) if seconds / total >= 0.005]
    return rows, total / steps * 1e3


def gpu_reason():
    cupy, reason = _common.load_cupy()
    return None if cupy is not None else reason


def tables(scaling, gpu_skip, bn, agreement, adam, prof, budget):
    cpu, gpu = scaling["numpy"], scaling.get("cupy")
    rows = []
    for b in budget["batches"]:
        m, f = cpu[b]["minigan"], cpu[b]["floor"]
        row = [b, f"{m:.1f}", f"{f:.1f}", f"{m / f:.2f}×", f"{b / m * 1e3:,.0f}", f"{(m - f) / m:.0%}"]
        if gpu:
            g = gpu[b]
            row += [f"{g['minigan']:.2f}", f"{g['minigan, kernels off']:.2f}", f"{g['floor']:.2f}",
                    f"{m / g['minigan']:.1f}×"]
        rows.append(row)
    header = ["batch", "minigan CPU ms", "floor CPU ms", "minigan/floor", "samples/s (minigan CPU)",
              "tape overhead (what replay could save)"]
    if gpu:
        header += ["minigan GPU ms", "GPU, kernels off ms", "floor GPU ms", "GPU speed-up (minigan)"]
    bn_rows = [[f"{n} × {WIDTH}", f"{t['fused']:.3f}", f"{t['composed']:.3f}", f"{t['composed'] / t['fused']:.2f}×"]
               for n, t in bn.items()]
    adam_times, n_tensors, n_values = adam
    together, separate = adam_times["one Adam, all tensors"], adam_times["one Adam per tensor"]
    prof_rows, prof_total = prof
    return [
        "### 1. Batch-size scaling, and the tape's overhead",
        "GPU: measured (kernels on and off in the GPU columns)." if gpu else f"GPU: skipped — {gpu_skip}",
        _study.markdown_table(header, rows),
        "### 2. Fused kernels on/off (CPU, float32, forward + backward)",
        f"BatchNorm: one fused op vs composed from core ops (outputs and gradients agree to "
        f"{agreement:.1e} in float64).",
        _study.markdown_table(["input", "fused ms", "composed ms", "composed/fused"], bn_rows),
        f"Adam over the seed GAN's {n_tensors} tensors ({n_values:,} values): one update over all of them "
        f"{together:.2f} ms vs one optimizer per tensor {separate:.2f} ms ({separate / together:.2f}×).",
        "### 3. Graph replay on/off",
        "Not measurable: minigan rebuilds its tape on every step and has no graph replay (no capture, no "
        "CUDA graphs) to switch on. The 'tape overhead' column above, (minigan − floor) / minigan, bounds "
        "what replay could save here: the floor runs the same arithmetic with no tape at all.",
        f"### 4. Where the time goes: minigan's step at batch 256, own time by source file "
        f"({prof_total:.1f} ms per profiled step, profiler overhead included)",
        _study.markdown_table(["source", "ms per step", "share"],
                              [[name, f"{ms:.2f}", f"{share:.0%}"] for name, ms, share in prof_rows]),
    ]


def figure(scaling, bn, args, budget):
    plt = _study.plt
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
    for name, marker in (("numpy", "o"), ("cupy", "s")):
        if name not in scaling:
            continue
        where = "CPU" if name == "numpy" else "GPU"
        for system, color in (("minigan", "C0"), ("floor", "C2")):
            ms = [scaling[name][b][system] for b in budget["batches"]]
            axes[0].plot(budget["batches"], ms, marker=marker, color=color, label=f"{system} ({where})")
            axes[1].plot(budget["batches"], [b / t * 1e3 for b, t in zip(budget["batches"], ms)], marker=marker,
                         color=color, label=f"{system} ({where})")
    for ax, title in ((axes[0], "ms per training step"), (axes[1], "samples per second")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("batch size")
        ax.set_title(f"seed GAN: {title}", fontsize=9)
        ax.legend(fontsize=8)
    sizes = list(bn)
    x = np.arange(len(sizes))
    axes[2].bar(x - 0.2, [bn[n]["fused"] for n in sizes], 0.4, label="fused op")
    axes[2].bar(x + 0.2, [bn[n]["composed"] for n in sizes], 0.4, label="composed from core ops")
    axes[2].set_xticks(x, [f"N={n}" for n in sizes])
    axes[2].set_ylabel("ms, forward + backward")
    axes[2].set_title(f"BatchNorm over {WIDTH} features (CPU, float32)", fontsize=9)
    axes[2].legend(fontsize=8)
    fig.tight_layout()
    return _study.save_figure(fig, args, "efficiency")


def main(argv=None):
    p = _study.parser("efficiency", __doc__, seeds=0)
    p.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1: steady timings on a busy machine)")
    args = p.parse_args(argv)
    budget = QUICK if args.quick else FULL
    threads = _common.configure_threads(args.threads)
    machine = _common.describe_machine(_common.machine_info())
    print(f"machine: {machine}\nthreads: {threads['description']}")
    gpu_skip = gpu_reason()
    if gpu_skip:
        print(f"GPU parts skipped: {gpu_skip}")
    data = benchmark_data()
    scaling = batch_scaling(data, budget, ["numpy"] + ([] if gpu_skip else ["cupy"]))
    with use_backend("numpy"):
        bn, agreement = batch_norm_timings(budget), batch_norm_agreement()
        adam = adam_timings(budget, data)
        prof = profile(data, budget["profile_steps"])
    header = (f"## Efficiency of a seed-GAN training step{'  (--quick)' if args.quick else ''}\n\n"
              f"Machine: {machine}. Threads: {threads['description']}.")
    _study.write_report(args, "efficiency", [header] + tables(scaling, gpu_skip, bn, agreement, adam, prof, budget))
    figure(scaling, bn, args, budget)


if __name__ == "__main__":
    main()
