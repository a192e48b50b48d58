"""Study: how long GAN training takes — time to a quality threshold at each batch size, with and
without BatchNorm — and where a training step's time goes (batch size, minigan against a hand-fused
NumPy floor, fused kernels, graph replay, CPU against GPU).

    python examples/efficiency.py [--quick] [--seeds N] [--threads N] [--out DIR]

The claims under test (quoted in full, Chinese and English, in the report this script writes):

- 004_50a8fbf6b0940d69.txt (GAN training efficiency): GAN training "is relatively slow, which limits its
  use at large scale". The text names no concrete way to speed training up (its code trains with batch
  128 and says nothing about hardware or batch size), so the study measures the claim itself, against
  a stated reference: training the evaluation classifier on the same data, with the same framework, on
  the same core.
- 000_24081a0f7aa74c5f.txt (BatchNorm in GANs): BN "needs a lot of computing resources" — measured as
  BN's share of a training step.
- 003_022cd45cf3221e13.txt (GAN chapter): with BN "overall training is faster, but each iteration is
  slower because of the extra computation" — the per-step cost ratio with/without BN in G, and the
  ratio of the times to a threshold.

Design (``STUDIES.md``; the shared rules are in ``_study.py``):

1. **Time to a threshold by batch size** (the core). The digits seed GAN (G 100→500→BN→500→BN→64
   sigmoid, D 64→500→500→1, non-saturating loss, Adam β = (0.5, 0.999): the trainer's defaults) at batch
   sizes ``BATCHES``, each with its own learning rate: the grid ½×, 1×, 2× the square-root-scaled default
   2e-4·√(batch/64) (larger batches, less gradient noise, larger steps), on the two pilot seeds, scored
   by the samples seen until FD first falls below the progress threshold (a run that never does ranks
   after every one that did, by its lowest FD). Then 5 fresh seeds per batch size, the seeds in the
   outer loop (so a change in the machine's load is spread over every batch size). Every
   ``eval_every`` samples (4,096: the same number of samples seen at every batch size) the run is
   evaluated on 2,000 samples (more than the data's 1,797); it stops at the first evaluation below the
   chance threshold or after ``cap_cpu`` (20) seconds of training CPU time — the same cost for every
   batch size, checked at each evaluation. Two thresholds, both on the Fréchet distance (FD) of the
   digit classifier's features: **quality** — below the chance row (a Gaussian fitted to the pixels,
   FD 7.94); **progress** — FD below ``PROGRESS_FD`` (labelled progress, not quality: the chance row
   beats it). For each: steps, samples seen (and epochs of the data), training wall seconds and
   training process-CPU seconds (``time.process_time``: it counts only this process, so it is robust
   to the other processes on this shared machine), with "not reached" as a result and 95 % intervals
   over the seeds that reached it. Batch sizes are compared with batch 64 (the default) on CPU
   seconds by ``_study.compare``.
2. **BN against no BN** at batch 64: the same runs without BN in G (learning rate from its own pilot
   on the grid ``NO_BN_GRID``), in the same seed loop; 003's claim is read from the per-step cost
   ratio (part 3) and the CPU seconds to the progress threshold.
3. **Per-step timings**, each a median over ≥ ``MIN_ROUNDS`` interleaved rounds (round-robin as
   ``benchmarks/_common.time_interleaved``) with the distribution-free 95 % interval of the median
   (order statistics), in process-CPU time on one BLAS thread (the wall clock is kept too), with the
   load average before and after: (a) the seed GAN
   of the book (100→500→500→784) on the benchmark suite's 784-pixel data against the suite's
   hand-fused NumPy floor (the same step without autograd), by batch size — where CuPy and a GPU are
   present also on the GPU with minigan's CUDA kernels on and off (else the reason is printed and the
   GPU columns are left out); (b) BN's share of a step: the step with and without BN in G, paired per
   round; (c) BatchNorm as minigan's one fused op against the same normalisation composed from core
   ops, and Adam over all tensors at once against one Adam per tensor; (d) a cProfile of the step by
   source file; (e) graph replay: minigan has none, so the tape's overhead against the floor bounds
   what it could save.
4. **Reference for "slow"**: the digit classifier that scores the samples (64→256→128→10, 20 epochs of
   Adam on the same 1,797 images; ``minigan.metrics.classifier.train_classifier``) trained
   ``MIN_ROUNDS`` times, its process-CPU seconds and epochs set beside the GAN's to the thresholds.

Helpers of this study's own (not in ``_study``; its two-clock timing is
``benchmarks/_common.time_interleaved_clocks``): :func:`run_to_threshold`, a training loop like
``_study.train`` that evaluates every fixed number of samples seen, stops at the threshold, and keeps
process-CPU seconds beside wall seconds; :func:`median_ci`, the order-statistic interval of a median
(for timings, which are skewed).

Budget estimate (one core, ~9/10/15/25/50 ms a step at batch 32/64/128/256/512, 0.2 s an evaluation):
pilots 6 configurations × 3 lrs × 2 seeds stopping at FD < 20 or 64k samples (~4-12 s each, ~280 s);
final runs 6 configurations × 5 seeds stopping at the chance FD or 20 CPU s (at most ~26 s each with
the evaluations, ~160 s a seed if none stopped early; expected ~120 s a seed, 600 s); the timings and
the classifier ~110 s: about 17 CPU-minutes expected, 20 at most. Measured (2026-11-30, load average 4–5
on the 2 cores): 12.7 CPU-minutes, 31.8 minutes wall.
"""

import math
import os
import pickle
import pstats
import tempfile
import time

import numpy as np
from scipy import stats

import _study
from benchmarks import _common
from benchmarks._systems import FloorStep, MiniganStep, benchmark_data
from minigan import backend as use_backend
from minigan import cuda, optim
from minigan.data import Dataset, load_dataset
from minigan.gan.trainer import TrainConfig, Trainer, TrainingDiverged
from minigan.metrics.classifier import EPOCHS as CLASSIFIER_EPOCHS
from minigan.metrics.classifier import train_classifier
from minigan.nn.batchnorm import batch_norm
from minigan.tensor import Tensor

FULL = {"batches": (32, 64, 128, 256, 512), "cap_cpu": 20.0, "pilot_cap": 65_536, "eval_every": 4096,
        "rounds": 25, "budget_s": 5.0, "floor_batches": (64, 128, 256, 512, 1024, 2048),
        "bn_sizes": (64, 256, 1024), "op_rounds": 30, "profile_steps": 30, "classifier_epochs": CLASSIFIER_EPOCHS}
QUICK = {"batches": (64, 256), "cap_cpu": 0.5, "pilot_cap": 2048, "eval_every": 1024,
         "rounds": 5, "budget_s": 0.1, "floor_batches": (16, 64),
         "bn_sizes": (64,), "op_rounds": 5, "profile_steps": 3, "classifier_epochs": 1}
MIN_ROUNDS = 5
DEFAULT_BATCH, DEFAULT_LR = 64, 2e-4
LR_FACTORS = (0.5, 1.0, 2.0)
NO_BN_GRID = (5e-4, 1e-3, 2e-3)  # a pilot (seed 1000): lr 1e-3 FD 23 at 64k samples, 2e-4 far slower
PROGRESS_FD = 20.0
WIDTH = 500
NO_BN = "no BN in G, batch 64"


def lr_grid(batch):
    """½×, 1×, 2× the square-root-scaled default learning rate, 2e-4·√(batch/64), to two digits."""
    centre = DEFAULT_LR * math.sqrt(batch / DEFAULT_BATCH)
    return tuple(float(f"{centre * f:.2g}") for f in LR_FACTORS)


# ------------------------------------------------------------------------------------ statistics
def median_ci(values, confidence=_study.CONFIDENCE):
    """(median, low, high, n): the median of ``values`` and its distribution-free confidence interval
    (order statistics x₍ₖ₎ … x₍ₙ₋ₖ₊₁₎ with the largest k whose binomial(n, ½) coverage is at least
    ``confidence``; the range itself when n is too small for that)."""
    x = np.sort(np.asarray([v for v in values if math.isfinite(v)], dtype=float))
    n = len(x)
    if n == 0:
        return math.nan, math.nan, math.nan, 0
    k = 0
    while k + 1 <= n // 2 and stats.binom.cdf(k, n, 0.5) <= (1 - confidence) / 2:
        k += 1  # P(fewer than k+1 of n below the median) ≤ α/2: x₍ₖ₊₁₎ is a valid lower bound
    low, high = (x[k - 1], x[n - k]) if k >= 1 else (x[0], x[-1])
    return float(np.median(x)), float(low), float(high), n


def fmt_median(values, scale=1e3, fmt=".1f"):
    """"m [lo, hi]" of ``values`` × ``scale`` (seconds → ms by default)."""
    m, lo, hi, _ = median_ci([v * scale for v in values])
    return f"{m:{fmt}} [{lo:{fmt}}, {hi:{fmt}}]"


def round_ratios(a, b):
    """a[i] / b[i] of two systems' times in the same interleaved round i."""
    return [x / y for x, y in zip(a, b)]


def clock(times, key):
    """{name: [seconds]} of one clock ("cpu" or "wall") of :func:`timed`'s result."""
    return {name: v[key] for name, v in times.items()}


def load():
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def timed(items, rounds, budget_s=None, warmup=1):
    """{name: {"cpu": [s], "wall": [s]}}: ``items`` (name, run[, sync]) timed round-robin by
    ``benchmarks/_common.time_interleaved_clocks``, with at least MIN_ROUNDS rounds, each run on two
    clocks: wall (``perf_counter``) and this process's CPU time (``process_time``), which other
    processes on a shared machine do not inflate."""
    return _common.time_interleaved_clocks([_common.Timed(*item) for item in items], max(rounds, MIN_ROUNDS),
                                           warmup, budget_s, min_repeats=MIN_ROUNDS)


# -------------------------------------------------------------------------------------- training
def make_trainer(dataset, batch, lr, seed, g_norm="batch"):
    config = TrainConfig(data=dataset.name, batch_size=batch, lr=lr, seed=seed, g_norm=g_norm, steps=10**9)
    return Trainer(config, dataset, run_dir=None, progress=False)


def run_to_threshold(trainer, cap, every, n_eval, stop_fd, cap_cpu=math.inf):
    """Train until ``cap`` samples seen or ``cap_cpu`` seconds of training CPU time (checked at each
    evaluation), evaluating on ``n_eval`` samples after every ``every`` samples seen, and stop at the
    first evaluation with FD < ``stop_fd``. Returns ``_study.train``'s dict
    (``evals`` with ``step`` and ``seconds``, for ``_study.reached``), each evaluation also with
    ``samples`` seen and ``cpu`` (process-CPU seconds of training up to it); evaluation time is in
    neither clock."""
    batch = trainer.config.batch_size
    per_eval, cap_steps = max(1, round(every / batch)), (math.ceil(cap / batch) if math.isfinite(cap) else math.inf)
    evals, wall, cpu, diverged = [], 0.0, 0.0, False
    while trainer.step_count < cap_steps and cpu < cap_cpu and not diverged:
        w, c = time.perf_counter(), time.process_time()
        try:
            for _ in range(min(per_eval, cap_steps - trainer.step_count)):
                trainer.step(grad_norms=False)
        except TrainingDiverged:
            diverged = True
        wall += time.perf_counter() - w
        cpu += time.process_time() - c
        if diverged:
            break
        e = trainer.evaluate(n_eval, w2_samples=0)
        evals.append({"step": trainer.step_count, "samples": trainer.step_count * batch, "seconds": wall,
                      "cpu": cpu, **e})
        if e.get("frechet_distance") is not None and e["frechet_distance"] < stop_fd:
            break
    return {"evals": evals, "logs": [], "steps": trainer.step_count, "seconds": wall, "cpu": cpu,
            "diverged": diverged, "batch": batch}


def hit(run, fd):
    """The first evaluation of ``run`` with FD below ``fd`` (``_study.reached``), or None."""
    step, _ = _study.reached(run, "frechet_distance", fd, True)
    return None if step is None else next(e for e in run["evals"] if e["step"] == step)


def lowest_fd(run):
    return min((e["frechet_distance"] for e in run["evals"] if e.get("frechet_distance") is not None),
               default=math.nan)


def pilot_score(run, cap):
    """Samples seen to the progress threshold; a run that never reaches it scores the cap plus its
    lowest FD, so that it ranks after every run that did, and among those by how low it got."""
    e = hit(run, PROGRESS_FD)
    return float(e["samples"]) if e else cap + lowest_fd(run)


def fmt_hits(runs, fd, key, fmt):
    """"m ± h (k/n)" of ``key`` at the first evaluation below ``fd`` over the runs that got there;
    "not reached (0/n)" when none did."""
    values = [e[key] for e in (hit(r, fd) for r in runs) if e]
    if not values:
        return f"not reached (0/{len(runs)})"
    return _study.mean_ci(values, fmt)


def hit_values(runs, fd, key="cpu"):
    """``key`` at the threshold per run (NaN: not reached), for paired comparisons over seeds."""
    return [e[key] if e else math.nan for e in (hit(r, fd) for r in runs)]


def threshold_rows(labels, runs, lrs, fd, n_data):
    rows = []
    for label in labels:
        rs = runs[label]
        reached = sum(hit(r, fd) is not None for r in rs)
        epochs = [e["samples"] / n_data for e in (hit(r, fd) for r in rs) if e]
        rows.append([label, f"{lrs[label]:g}", f"{reached}/{len(rs)}", fmt_hits(rs, fd, "step", ".0f"),
                     fmt_hits(rs, fd, "samples", ",.0f"), _study.mean_ci(epochs, ".1f") if epochs else "—",
                     fmt_hits(rs, fd, "seconds", ".1f"), fmt_hits(rs, fd, "cpu", ".1f")])
    return rows


THRESHOLD_HEADER = ["configuration", "lr", "reached", "steps", "samples seen", "epochs of the data",
                    "training wall s", "training CPU s"]


def censored(runs, fd):
    """CPU seconds to the threshold per run; a run that did not reach it counts with its whole training
    CPU time (a lower bound on its time to the threshold)."""
    return [v if math.isfinite(v) else r["cpu"] for v, r in zip(hit_values(runs, fd), runs)]


def comparison_rows(runs, labels, reference, fd):
    ref = censored(runs[reference], fd)
    variants = {label: censored(runs[label], fd) for label in labels if label != reference}
    result = _study.compare(ref, variants, lower_is_better=True)
    rows = []
    for label, c in result.items():
        rows.append([label, "—" if math.isnan(c["difference"]) else f"{c['difference']:+.1f}",
                     f"{sum(hit(r, fd) is not None for r in runs[label])}/{len(runs[label])}",
                     _study.fmt_p(c["p"]), _study.fmt_p(c["p_holm"]), "yes" if c["separated"] else "no",
                     c["verdict"]])
    return rows, result


# ------------------------------------------------------------------------------------- timings
def step_of(trainer):
    return lambda: trainer.step(grad_norms=False)


def floor_systems(data, batch, backend):
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


def floor_scaling(data, budget, backends):
    """{backend: {batch: {system: [seconds per round]}}} for the backends that can run."""
    out = {}
    for name in backends:
        out[name] = {}
        for batch in budget["floor_batches"]:
            out[name][batch] = timed(floor_systems(data, batch, name), budget["rounds"], budget["budget_s"])
            print(f"{name} batch {batch}: " + ", ".join(f"{k} {np.median(v['cpu']) * 1e3:.1f} ms CPU"
                                                        for k, v in out[name][batch].items()), flush=True)
    return out


def bn_share(digits, image_data, budget):
    """{(data, batch): {"BN": [s], "no BN": [s]}}: the step with and without BN in G, interleaved."""
    image = Dataset(x=image_data, name="uniform", value_range=(0.0, 1.0), image_shape=(28, 28))
    cases = [("digits", b) for b in budget["batches"]] + [("784-pixel", b) for b in (64, 256)]
    out = {}
    for name, batch in cases:
        data = digits if name == "digits" else image
        out[(name, batch)] = timed([("BN", step_of(make_trainer(data, batch, DEFAULT_LR, 0, "batch"))),
                                    ("no BN", step_of(make_trainer(data, batch, DEFAULT_LR, 0, "none")))],
                                   budget["rounds"], budget["budget_s"])
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
        rows[n] = timed([("fused", forward_backward(fused_batch_norm, inputs, g)),
                         ("composed", forward_backward(composed_batch_norm, inputs, g))], budget["op_rounds"])
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
    times = timed([("one Adam, all tensors", together.step),
                   ("one Adam per tensor", lambda: [o.step() for o in separate])], budget["op_rounds"])
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


def classifier_times(dataset, budget):
    """Process-CPU and wall seconds of training the digit classifier, ``MIN_ROUNDS`` times."""
    cpu, wall = [], []
    for _ in range(MIN_ROUNDS):
        c, w = time.process_time(), time.perf_counter()
        train_classifier(dataset.x, dataset.labels, epochs=budget["classifier_epochs"])
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - w)
    return cpu, wall


def gpu_reason():
    cupy, reason = _common.load_cupy()
    return None if cupy is not None else reason


# ------------------------------------------------------------------------------------- report
CLAIMS = [
    _study.claim("004_50a8fbf6b0940d69.txt", "GAN training efficiency",
                 "此外，GANs 的训练速度相对较慢，这限制了其在大规模应用中的实际效果。",
                 "Moreover, the training of GANs is relatively slow, which limits their practical effect "
                 "in large-scale applications."),
    _study.claim("000_24081a0f7aa74c5f.txt", "BatchNorm in GANs",
                 "BN 层需要大量的计算资源：BN 层需要计算批量平均值和批量标准差，这需要大量的计算资源。",
                 "The BN layer needs a lot of computing resources: it has to compute the batch mean and the "
                 "batch standard deviation, which needs a lot of computing resources."),
    _study.claim("003_022cd45cf3221e13.txt", "GAN chapter (book)",
                 "总体训练速度更快，但是由于涉及额外的计算，因此每次迭代都会变慢。",
                 "Overall training is faster, but because extra computation is involved, each iteration "
                 "becomes slower."),
]


BN_A_LOT = 0.10  # 000's "a lot of computing resources", read as: at least a tenth of a training step


def verdicts(runs, labels, shares, clf_cpu, chance, batches):
    """[claim, verdict, the number that decides it] for each claim (``_study.VERDICTS``)."""
    supported, contradicted, undecided = _study.VERDICTS
    ref = f"batch {DEFAULT_BATCH}" if f"batch {DEFAULT_BATCH}" in labels else labels[0]
    rows = []

    # 004: slow, against training the digit classifier on the same data
    gan = censored(runs[ref], chance)
    reached = sum(hit(r, chance) is not None for r in runs[ref])
    mean, half, _ = _study.interval(gan)
    low, high = _study.bounds(gan)
    clf, clf_lo, clf_hi, _ = median_ci(clf_cpu)
    verdict = (supported if low > clf_hi else
               contradicted if reached == len(gan) and high < clf_lo else undecided)
    rows.append(["004: GAN training is relatively slow (measured against training the digit classifier on the "
                 "same data)", verdict,
                 f"{ref}: {mean:.1f} ± {half:.1f} CPU s to FD < {chance:.2f} ({reached}/{len(gan)} reached; a run "
                 f"that did not counts its whole training time) = {mean / clf:.0f}× the classifier's {clf:.2f} CPU s"])

    # 000: BN needs a lot of computation
    share = {}
    for case, t in shares.items():
        m, lo, hi, _ = median_ci(round_ratios(t["BN"], t["no BN"]))
        share[case] = (1 - 1 / m, 1 - 1 / lo, 1 - 1 / hi)
    top = max(share, key=lambda c: share[c][0])
    verdict = (contradicted if all(v[2] < BN_A_LOT for v in share.values()) else
               supported if any(v[1] >= BN_A_LOT for v in share.values()) else undecided)
    rows.append([f"000: BN needs a lot of computing resources (read as ≥ {BN_A_LOT:.0%} of a step)", verdict,
                 f"largest BN share of a step: {share[top][0]:.1%} [{share[top][1]:.1%}, {share[top][2]:.1%}] "
                 f"({top[0]}, batch {top[1]}); upper bounds of all {len(share)} settings "
                 f"≤ {max(v[2] for v in share.values()):.1%}"])

    # 003: each iteration slower with BN
    case = ("digits", DEFAULT_BATCH) if ("digits", DEFAULT_BATCH) in shares else ("digits", batches[0])
    m, lo, hi, n = median_ci(round_ratios(shares[case]["BN"], shares[case]["no BN"]))
    verdict = supported if lo > 1 else contradicted if hi < 1 else undecided
    rows.append(["003: with BN each iteration is slower", verdict,
                 f"step time with/without BN in G (digits, batch {case[1]}): {m:.3f}× [{lo:.3f}, {hi:.3f}] "
                 f"(median of {n} per-round ratios)"])

    # 003: overall training faster with BN
    with_bn, without = censored(runs[ref], chance), censored(runs[NO_BN], chance)
    c = _study.compare(with_bn, {NO_BN: without}, lower_is_better=True)[NO_BN]
    verdict = supported if c["verdict"] == "worse" else contradicted if c["verdict"] == "better" else undecided
    def counted(rs):
        k = sum(hit(r, PROGRESS_FD) is not None for r in rs)
        return fmt_hits(rs, PROGRESS_FD, "cpu", ".1f") + (f" ({k}/{len(rs)} reached)" if k else "")

    progress = f"; to FD < {PROGRESS_FD:g}: {counted(runs[ref])} against {counted(runs[NO_BN])}"
    rows.append(["003: with BN overall training is faster", verdict,
                 f"CPU s to FD < {chance:.2f}, batch 64, with BN {_study.mean_ci(with_bn, '.1f')} "
                 f"({sum(hit(r, chance) is not None for r in runs[ref])}/{len(with_bn)} reached) against without "
                 f"{_study.mean_ci(without, '.1f')} ({sum(hit(r, chance) is not None for r in runs[NO_BN])}/"
                 f"{len(without)}); paired p {_study.fmt_p(c['p'])}" + progress])
    return rows


def figure(runs, labels, no_bn, references, chance, scaling, digits_steps, args):
    plt = _study.plt
    fig, axes = plt.subplots(2, 2, figsize=(13, 8.5))
    data_fd = references["data"]["frechet_distance"]

    def lines(ax):
        ax.axhline(chance, color="k", ls="--", lw=1, label=f"chance: Gaussian fitted to the pixels ({chance:.2f})")
        ax.axhline(PROGRESS_FD, color="gray", ls=":", lw=1, label=f"progress threshold (FD {PROGRESS_FD:g})")
        ax.axhline(data_fd, color="k", ls="-", lw=1, label=f"data ({data_fd:.2f})")
        ax.set_yscale("log")
        ax.set_ylabel("Fréchet distance (log)")

    for i, label in enumerate(labels):
        for j, r in enumerate(runs[label]):
            fd = [e["frechet_distance"] for e in r["evals"]]
            kw = {"color": f"C{i}", "lw": 0.8, "alpha": 0.8, "label": label if j == 0 else None}
            axes[0, 0].plot([e["samples"] / 1e3 for e in r["evals"]], fd, **kw)
            axes[0, 1].plot([e["cpu"] for e in r["evals"]], fd, **kw)
    for ax, x in ((axes[0, 0], "samples seen (thousands)"), (axes[0, 1], "training process-CPU seconds")):
        lines(ax)
        ax.set_xlabel(x)
        ax.set_title(f"digits seed GAN, BN in G: FD by {x.split(' (')[0]} (every seed; runs stop below chance)",
                     fontsize=9)
        ax.legend(fontsize=7)
    reference = "batch 64" if "batch 64" in labels else labels[0]
    for color, label in ((f"C{labels.index(reference)}", reference), ("C7", no_bn)):
        for j, r in enumerate(runs[label]):
            axes[1, 0].plot([e["cpu"] for e in r["evals"]], [e["frechet_distance"] for e in r["evals"]],
                            color=color, lw=0.8, label=label if j == 0 else None)
    lines(axes[1, 0])
    axes[1, 0].set_xlabel("training process-CPU seconds")
    axes[1, 0].set_title("BN in G against none, batch 64 (every seed)", fontsize=9)
    axes[1, 0].legend(fontsize=7)
    ax = axes[1, 1]
    for name, series, color, marker in (("digits, BN in G", digits_steps["BN"], "C0", "o"),
                                        ("digits, no BN", digits_steps["no BN"], "C7", "o")):
        batches = sorted(series)
        meds = [median_ci(series[b])[:3] for b in batches]
        ax.errorbar(batches, [m[0] * 1e3 for m in meds], yerr=[[(m[0] - m[1]) * 1e3 for m in meds],
                                                              [(m[2] - m[0]) * 1e3 for m in meds]],
                    color=color, marker=marker, label=name, capsize=2)
    cpu = scaling["numpy"]
    for system, color in (("minigan", "C3"), ("floor", "C2")):
        batches = sorted(cpu)
        meds = [median_ci(cpu[b][system])[:3] for b in batches]
        ax.errorbar(batches, [m[0] * 1e3 for m in meds], yerr=[[(m[0] - m[1]) * 1e3 for m in meds],
                                                              [(m[2] - m[0]) * 1e3 for m in meds]],
                    color=color, marker="s", label=f"784-pixel seed GAN, {system}", capsize=2)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("batch size")
    ax.set_ylabel("ms per training step (median, 95 % interval)")
    ax.set_title("cost of one step (CPU, one thread)", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return _study.save_figure(fig, args, "efficiency")


def measure(args, budget, digits, n_eval, chance, labels, batch_of, seed_list, gpu_skip):
    """Every measurement of the study (pilots, final runs, timings), as a dict of plain data."""
    # ---- learning-rate pilots (progress threshold, pilot seeds)
    pilots, lrs = {}, {}
    for label in labels + [NO_BN]:
        grid = NO_BN_GRID if label == NO_BN else lr_grid(batch_of[label])
        g_norm = "none" if label == NO_BN else "batch"
        lrs[label], scores = _study.pick_lr(
            grid, lambda lr, seed: pilot_score(run_to_threshold(
                make_trainer(digits, batch_of[label], lr, seed, g_norm), budget["pilot_cap"], budget["eval_every"],
                n_eval, PROGRESS_FD), budget["pilot_cap"]), lower_is_better=True)
        pilots[label] = (grid, scores)
        print(f"pilot {label}: {_study.fmt_pilot(grid, scores, lrs[label], '.0f')}", flush=True)

    # ---- final runs: seeds outer, every configuration inner
    load_before_runs = load()

    def run(label, seed):
        g_norm = "none" if label == NO_BN else "batch"
        r = run_to_threshold(make_trainer(digits, batch_of[label], lrs[label], seed, g_norm), math.inf,
                             budget["eval_every"], n_eval, chance, cap_cpu=budget["cap_cpu"])
        print(f"{label} seed {seed}: {r['steps']} steps, {r['cpu']:.1f} CPU s, lowest FD {lowest_fd(r):.2f}",
              flush=True)
        return r

    runs = _study.across_seeds(labels + [NO_BN], seed_list, run)
    load_after_runs = load()

    # ---- timings
    load_before_timing = load()
    backends = ["numpy"] + ([] if gpu_skip else ["cupy"])
    image_data = benchmark_data()
    scaling = floor_scaling(image_data, budget, backends)
    with use_backend("numpy"):
        shares = bn_share(digits, image_data, budget)
        bn_ops, agreement = batch_norm_timings(budget), batch_norm_agreement()
        adam = adam_timings(budget, image_data)
        prof = profile(image_data, budget["profile_steps"])
        clf_cpu, clf_wall = classifier_times(digits, budget)
    load_after_timing = load()
    walls = {b: t["minigan"]["wall"] for b, t in scaling["numpy"].items()}
    scaling = {backend: {b: clock(t, "cpu" if backend == "numpy" else "wall") for b, t in by_batch.items()}
               for backend, by_batch in scaling.items()}  # the GPU's work is not this process's CPU time
    shares = {case: clock(t, "cpu") for case, t in shares.items()}
    bn_ops = {n: clock(t, "cpu") for n, t in bn_ops.items()}
    adam = (clock(adam[0], "cpu"),) + adam[1:]
    return {"pilots": pilots, "lrs": lrs, "runs": runs, "load_before_runs": load_before_runs, "load_after_runs": load_after_runs, "load_before_timing": load_before_timing, "load_after_timing": load_after_timing, "scaling": scaling, "walls": walls, "shares": shares, "bn_ops": bn_ops, "agreement": agreement, "adam": adam, "prof": prof, "clf_cpu": clf_cpu, "clf_wall": clf_wall}


def main(argv=None):
    p = _study.parser("efficiency", __doc__, seeds=5)
    p.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1: steady timings on a busy machine)")
    p.add_argument("--from-raw", default=None, help="rebuild the report from the raw measurements a run saved")
    args = p.parse_args(argv)
    budget = QUICK if args.quick else FULL
    seed_list = _study.seeds(args)
    threads = _common.configure_threads(args.threads)
    machine = _common.describe_machine(_common.machine_info())
    started_wall, started_cpu = time.perf_counter(), time.process_time()
    print(f"machine: {machine}\nthreads: {threads['description']}")
    gpu_skip = gpu_reason()
    if gpu_skip:
        print(f"GPU parts skipped: {gpu_skip}")

    digits = load_dataset("digits")
    n_eval = _study.eval_samples(digits, args.quick)
    references = _study.reference_rows(digits, n_eval)
    _, chance, _ = _study.threshold("digits", references)
    batches = budget["batches"]
    labels = [f"batch {b}" for b in batches]
    batch_of = dict(zip(labels, batches))
    batch_of[NO_BN] = DEFAULT_BATCH

    if args.from_raw:
        with open(args.from_raw, "rb") as f:
            raw = pickle.load(f)
    else:
        raw = measure(args, budget, digits, n_eval, chance, labels, batch_of, seed_list, gpu_skip)
        raw["machine"], raw["measured_s"] = machine, (time.perf_counter() - started_wall, time.process_time() - started_cpu)
        path = os.path.join(tempfile.gettempdir(), f"efficiency-raw-{os.getpid()}.pkl")
        with open(path, "wb") as f:
            pickle.dump(raw, f)
        print(f"raw measurements: {path} (--from-raw rebuilds the report from them)")
    (pilots, lrs, runs, load_before_runs, load_after_runs, load_before_timing, load_after_timing, scaling, walls, shares, bn_ops, agreement, adam, prof, clf_cpu, clf_wall) = (raw[k] for k in ('pilots', 'lrs', 'runs', 'load_before_runs', 'load_after_runs', 'load_before_timing', 'load_after_timing', 'scaling', 'walls', 'shares', 'bn_ops', 'agreement', 'adam', 'prof', 'clf_cpu', 'clf_wall'))
    machine, (measured_wall, measured_cpu) = raw["machine"], raw["measured_s"]

    # ---- report
    n_data = len(digits.x)
    everything = labels + [NO_BN]
    sections = [f"## Efficiency: time to a threshold, and the cost of a step{'  (--quick)' if args.quick else ''}\n\n"
                f"Machine: {machine}. Threads: {threads['description']}. The machine was shared with other "
                f"jobs throughout: wall seconds include their interference, process-CPU seconds do not "
                f"(load average before/after the training runs {load_before_runs} / {load_after_runs}; "
                f"before/after the timings {load_before_timing} / {load_after_timing})."]
    sections.append("### Claims\n\n" + "\n\n".join(CLAIMS))
    sections.append("### Reference rows (digits, FD of the classifier's features, "
                    f"{n_eval:,} samples)\n\n" + _study.reference_table(references, digits))
    pilot_lines = [f"- {label}: {_study.fmt_pilot(*pilots[label], lrs[label], ',.0f')}" for label in everything]
    sections.append(
        "### Learning-rate pilots\n\nSeeds " + ", ".join(map(str, _study.PILOT_SEEDS)) + f"; score = samples seen "
        f"until FD < {PROGRESS_FD:g} (a run that never gets there: {budget['pilot_cap']:,} + its lowest FD); "
        "pick in bold.\n\n" + "\n".join(pilot_lines))
    for fd, title in ((PROGRESS_FD, f"Progress threshold: FD < {PROGRESS_FD:g} (progress, not quality: the "
                                    f"chance row scores {chance:.2f})"),
                      (chance, f"Quality threshold: FD < {chance:.2f}, the chance row (a Gaussian fitted to "
                               "the pixels)")):
        text = (f"### {title}\n\nSeeds {seed_list[0]}–{seed_list[-1]}; evaluated every {budget['eval_every']:,} "
                f"samples seen on {n_eval:,} samples; runs stop below the chance FD or after "
                f"{budget['cap_cpu']:g} s of training CPU time (the same cost for every configuration). "
                "Means ± 95 % intervals over the seeds that reached the threshold.\n\n"
                + _study.markdown_table(THRESHOLD_HEADER, threshold_rows(everything, runs, lrs, fd, n_data)))
        if f"batch {DEFAULT_BATCH}" in labels and len(labels) > 1:
            rows, _ = comparison_rows(runs, labels + [NO_BN], f"batch {DEFAULT_BATCH}", fd)
            text += ("\n\nTraining CPU seconds to the threshold against batch 64, paired over seeds, "
                     "Holm-corrected; a run that did not reach the threshold counts with its whole training CPU "
                     "time, a lower bound:\n\n" + _study.markdown_table(
                         ["configuration", "CPU s − batch 64's", "reached", "p", "p (Holm)", "intervals apart",
                          "verdict"], rows))
        sections.append(text)
    lowest = [[label, _study.mean_ci([lowest_fd(r) for r in runs[label]]),
               fmt_median([r["cpu"] / max(r["steps"], 1) for r in runs[label]], fmt=".1f"),
               _study.mean_ci([r["steps"] for r in runs[label]], ".0f")] for label in everything]
    sections.append("### Every run: lowest FD reached, and the cost of its steps\n\n" + _study.markdown_table(
        ["configuration", "lowest FD", "CPU ms per step (median over runs)", "steps run"], lowest))

    # timings
    cpu = scaling["numpy"]
    gpu = scaling.get("cupy")
    rows = []
    for b in budget["floor_batches"]:
        m, f = cpu[b]["minigan"], cpu[b]["floor"]
        ratio = median_ci(round_ratios(m, f))
        mm = float(np.median(m))
        row = [b, fmt_median(m), fmt_median(f), f"{ratio[0]:.2f}× [{ratio[1]:.2f}, {ratio[2]:.2f}]",
               f"{b / mm:,.0f}", f"{1 - 1 / ratio[0]:.0%}", f"{np.median(walls[b]) * 1e3:.1f}", len(m)]
        if gpu:
            g = gpu[b]
            row += [fmt_median(g["minigan"], fmt=".2f"), fmt_median(g["minigan, kernels off"], fmt=".2f"),
                    fmt_median(g["floor"], fmt=".2f"), f"{mm / float(np.median(g['minigan'])):.1f}×"]
        rows.append(row)
    header = ["batch", "minigan CPU ms", "floor CPU ms", "minigan/floor", "samples/s (minigan CPU)",
              "tape overhead (what replay could save)", "minigan wall ms (median)", "rounds"]
    if gpu:
        header += ["minigan GPU ms", "GPU, kernels off ms", "floor GPU ms", "GPU speed-up (minigan)"]
    sections.append("### Per-step timings\n\nMedians of interleaved rounds, [95 % interval of the median] "
                    "(order statistics), in process-CPU ms on one thread (the GPU columns: wall ms); the wall "
                    "clock, inflated by the machine's other jobs, is shown for minigan in table 1.\n\n"
                    "#### 1. The book's seed GAN (100→500→500→784) on 784-pixel data: minigan against the "
                    "hand-fused NumPy floor\n\n"
                    + ("GPU: measured (kernels on and off in the GPU columns)." if gpu else f"GPU: skipped — {gpu_skip}")
                    + "\n\n" + _study.markdown_table(header, rows))
    share_rows = []
    for (name, batch), t in shares.items():
        ratio = median_ci(round_ratios(t["BN"], t["no BN"]))
        share_rows.append([f"{name}, batch {batch}", fmt_median(t["BN"], fmt=".2f"), fmt_median(t["no BN"], fmt=".2f"),
                           f"{ratio[0]:.3f} [{ratio[1]:.3f}, {ratio[2]:.3f}]",
                           f"{1 - 1 / ratio[0]:.1%} [{1 - 1 / ratio[1]:.1%}, {1 - 1 / ratio[2]:.1%}]", len(t["BN"])])
    sections.append("#### 2. BatchNorm's share of a step: the step with and without BN in G, paired per round\n\n"
                    + _study.markdown_table(["step", "with BN ms", "without BN ms", "ratio (per-round, median)",
                                             "BN share of the step", "rounds"], share_rows))
    bn_rows = []
    for n, t in bn_ops.items():
        ratio = median_ci(round_ratios(t["composed"], t["fused"]))
        bn_rows.append([f"{n} × {WIDTH}", fmt_median(t["fused"], fmt=".3f"), fmt_median(t["composed"], fmt=".3f"),
                        f"{ratio[0]:.2f}× [{ratio[1]:.2f}, {ratio[2]:.2f}]", len(t["fused"])])
    adam_times, n_tensors, n_values = adam
    together, separate = adam_times["one Adam, all tensors"], adam_times["one Adam per tensor"]
    adam_ratio = median_ci(round_ratios(separate, together))
    sections.append(
        f"#### 3. Fused kernels on/off (CPU, float32, forward + backward)\n\nBatchNorm: one fused op vs composed "
        f"from core ops (outputs and gradients agree to {agreement:.1e} in float64).\n\n"
        + _study.markdown_table(["input", "fused ms", "composed ms", "composed/fused", "rounds"], bn_rows)
        + f"\n\nAdam over the 784-pixel seed GAN's {n_tensors} tensors ({n_values:,} values): one update over all "
        f"of them {fmt_median(together, fmt='.2f')} ms vs one optimizer per tensor {fmt_median(separate, fmt='.2f')} "
        f"ms (per-round ratio {adam_ratio[0]:.2f}× [{adam_ratio[1]:.2f}, {adam_ratio[2]:.2f}], {len(together)} rounds).")
    sections.append(
        "#### 4. Graph replay on/off\n\nNot measurable: minigan rebuilds its tape on every step and has no graph "
        "replay (no capture, no CUDA graphs) to switch on. The 'tape overhead' column of table 1, "
        "1 − floor/minigan, bounds what replay could save here: the floor runs the same arithmetic with no tape.")
    prof_rows, prof_total = prof
    sections.append(
        f"#### 5. Where the time goes: the 784-pixel step at batch 256, own time by source file "
        f"({prof_total:.1f} ms per profiled step, profiler overhead included; one profile of "
        f"{budget['profile_steps']} steps)\n\n"
        + _study.markdown_table(["source", "ms per step", "share"],
                                [[name, f"{ms:.2f}", f"{share:.0%}"] for name, ms, share in prof_rows]))
    sections.append(
        f"#### 6. Reference for \"slow\": training the digit classifier\n\n64→256→128→10, "
        f"{budget['classifier_epochs']} epochs of Adam (batch 64) on the {n_data:,} digits, {len(clf_cpu)} times: "
        f"process-CPU {fmt_median(clf_cpu, 1, '.2f')} s, wall {fmt_median(clf_wall, 1, '.2f')} s (median [95 % "
        f"interval]).")

    sections.append("### Verdicts\n\n" + _study.markdown_table(
        ["claim", "verdict", "the number that decides it"],
        verdicts(runs, labels, shares, clf_cpu, chance, batches)))
    sections.append(f"Study time: {measured_wall:.0f} s wall, {measured_cpu:.0f} s CPU (measurements).")
    _study.write_report(args, "efficiency", sections)
    digits_steps = {"BN": {b: shares[("digits", b)]["BN"] for b in batches},
                    "no BN": {b: shares[("digits", b)]["no BN"] for b in batches}}
    figure(runs, labels, NO_BN, references, chance, scaling, digits_steps, args)


if __name__ == "__main__":
    main()
