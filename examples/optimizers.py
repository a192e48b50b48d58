"""Study: full-batch gradient descent against minibatch SGD (with and without momentum), Adagrad and
Adam on ring8, at equal gradient evaluations, at equal wall time and at equal per-sample gradients.

    python examples/optimizers.py [--quick] [--seeds N] [--out DIR]

**Claims under test** (shared/reference/001_b0e18d4515047b82.txt, "batch gradient descent in GANs",
quoted in Chinese in the report): full-batch gradient descent (BGD) "may cause mode collapse" and
"converges slowly"; stochastic gradient descent and Adagrad "can improve GANs' training speed and
performance".

**Data.** ring8 only, cut to N = 512 training points (64 per mode), which every optimizer trains on, so
that a full-batch step (all N points) fits the budget; grid25 is dropped: with Adam at lr 1e-3 it stays
at chance (high-quality fraction 0.8–3 % against uniform noise's 2.7 %) after 5,000 steps, the longest
run this budget allows. The GAN is the trainer's 2-D default (G 2→128→128→2 with BatchNorm, D
2→128→128→1 without, LeakyReLU 0.2, non-saturating loss); the stochastic methods use minibatches of 64.

**Metrics.** Every evaluation scores 10,000 samples (``_study.EVAL_SAMPLES``). The ranking metric is the
high-quality (HQ) fraction, the share of samples within 3σ of a mode (uniform noise over the data's
square: 0.006; the data: 0.990). Modes captured and reverse KL are shown beside it, but they do not
separate a generator from noise here: uniform noise captures 8/8 modes with reverse KL 0.07. A GAN's
HQ fraction swings by ±0.1 between evaluations 1,000 steps apart (pilot), so the HQ of a run at step n
is the mean of its evaluations in the last 20 % of those n steps, (0.8 n, n]. Mode collapse is measured
with a stricter rule than "captured": the number of modes that hold at least 10 % of their uniform share
(1/8) of the high-quality samples, from the per-mode ``counts`` that ``Trainer.evaluate`` returns
(averaged over the same window). A configuration is ranked only when its HQ interval lies above chance
(``_study.learned``); otherwise it is "not learned yet".

**Cost.** One step is one D update and one G update. A minibatch step differentiates 64 real + 64 fake
samples for D and 64 for G; a full-batch GD step N = 512 of each (``optimizer="gd"``: each point once per
step, fresh noise for the N fakes). Three budgets, read from the same runs:

- equal gradient evaluations (equal optimizer steps): every optimizer after S = 5,000 steps — this
  equalises the number of updates, not the arithmetic (a GD step evaluates 8 times as many per-sample
  gradients);
- equal wall time T: T is the time Adam takes for S steps, and each optimizer is read at the step
  n_T = S · ms(Adam) / ms(optimizer) that fits in T. The ms per step come from interleaved timing on
  one thread (``benchmarks/_common.time_interleaved``: the five optimizers' trainers step round-robin,
  100 rounds after 3 warm-up rounds), so a change in the machine's load cannot favour one of them; each
  step's CPU time (``time.process_time``) is the cost, because on a machine shared by more processes than
  cores a step's wall time also counts other processes' turns on the core (:func:`step_ms`). T is thus
  tied to Adam's speed, not to this machine's load;
- equal per-sample gradient evaluations (S · 64 per network): GD after S · 64 / N = 625 steps, the
  others after S.

The "seconds" of the progress table and the figure are steps × the interleaved CPU ms per step (a run's
own clock on a shared machine measures the other processes too).

**Learning rates.** Each optimizer's learning rate is picked from a 3-value grid (``OPTIMIZERS``) by the
HQ fraction at S steps on the pilot seeds ``_study.PILOT_SEEDS`` (``_study.pick_lr``), then 5 fresh
seeds (0–4) are run at the pick. The grids come from a one-seed design pilot over 4 values each at
5,000 steps: SGD lost every mode at 0.03–0.1 and diverged at 0.3; SGD with momentum 0.9 died at 0.01 and
diverged at 0.03; GD died at 0.1 and diverged at 0.3.

**Statistics.** Means with 95 % Student-t intervals over the 5 seeds (``_study.mean_ci``). Each
optimizer is compared with full-batch GD (the claims are about GD) by ``_study.compare``'s rules, paired
over seeds, with one Holm correction over every comparison of a table (HQ and modes ≥ 10 % share
together: :func:`compare_table`). Progress: steps and seconds to HQ ≥ 0.25
(``_study.THRESHOLDS["ring8"]``, single evaluations), "not reached" within S steps being a result.

**Verdicts** (:func:`verdicts`): SGD / Adagrad "improve speed and performance" over GD — supported when
HQ is better than GD's at equal wall time or at equal steps and worse in neither, contradicted when
worse in one and better in neither, else not decided; GD "converges slowly" — the same test at equal
wall time with every other optimizer; GD "may cause mode collapse" — supported when GD is learned and
another optimizer holds more modes (≥ 10 % share) at S steps and none fewer, contradicted when GD is learned, none holds
more, and GD's interval of such modes lies above 7 of 8, else not decided.

**Budget** (one core, ms per step measured interleaved here: minibatch 1.5–1.7, GD at N = 512 6.2;
an evaluation of 10,000 samples 31 ms): pilots 24 minibatch runs × 5,000 × 1.7 ms ≈ 205 s and 6 GD
runs × 5,000 × 6.2 ms ≈ 185 s; final runs 20 × ~5,000 × 1.7 ms ≈ 170 s and 5 × 5,000 × 6.2 ms ≈ 155 s;
~80 evaluations per final run and 10 per pilot ≈ 70 s; ≈ 13 CPU-minutes in all. Measured: 11.5 CPU-minutes,
16 minutes of wall time on the 2-core machine shared with other jobs (GD 4.8 ms per step in that run).
"""

import math

import numpy as np

import _study
from benchmarks import _common
from minigan.data import load_dataset
from minigan.gan.trainer import TrainConfig, Trainer

SPEC = "ring8"
REFERENCE = "full-batch GD"
BASELINE = "Adam"
OPTIMIZERS = (  # (label, TrainConfig fields, learning-rate grid)
    ("full-batch GD", {"optimizer": "gd"}, (0.003, 0.01, 0.03)),
    ("SGD", {"optimizer": "sgd", "momentum": 0.0}, (0.003, 0.01, 0.03)),
    ("SGD + momentum 0.9", {"optimizer": "sgd", "momentum": 0.9}, (0.001, 0.003, 0.01)),
    ("Adagrad", {"optimizer": "adagrad"}, (0.003, 0.01, 0.03)),
    ("Adam", {"optimizer": "adam", "betas": (0.5, 0.999)}, (3e-4, 1e-3, 3e-3)),
)
FULL = {"n_data": 512, "steps": 5000, "timing_rounds": 100}
QUICK = {"n_data": 128, "steps": 40, "timing_rounds": 10}
BATCH = 64
WINDOW = 0.2           # the HQ of a run at step n: mean of its evaluations in (0.8 n, n]
SHARE = 0.10           # a mode is held when it has ≥ 10 % of its uniform share of the HQ samples
HQ, MODES, KL, HELD = "high_quality_fraction", "modes_captured", "reverse_kl", "modes_held"
COLUMNS = ((HQ, "HQ fraction", ".3f"), (MODES, "modes captured", ".1f"),
           (HELD, "modes ≥ 10 % share", ".1f"), (KL, "reverse KL (nats)", ".2f"))
SOURCE = "001_b0e18d4515047b82.txt"
TITLE = "batch gradient descent in GANs"
CLAIMS = (
    ("尽管批量梯度下降在GANs中的表现良好，但它仍然面临一些挑战。首先，BGD在训练过程中可能导致模式崩溃，这导致生成器生成的实例缺乏多样性。"
     "其次，BGD的收敛速度较慢，这使得它在大规模应用中的潜力受到限制。",
     "Although batch gradient descent performs well in GANs, it still faces some challenges. First, BGD may "
     "cause mode collapse during training, so that the generator's instances lack diversity. Second, BGD "
     "converges slowly, which limits its potential in large-scale applications."),
    ("1. 使用随机梯度下降：随机梯度下降可以提高GANs的训练速度和性能。\n"
     "> 2. 使用动态梯度下降：动态梯度下降可以适应不同梯度的大小，从而提高GANs的训练速度和性能。",
     "1. Use stochastic gradient descent: SGD can improve GANs' training speed and performance. "
     "2. Use Adagrad [动态梯度下降, “dynamic gradient descent”]: it adapts to gradients of different sizes, and so "
     "improves GANs' training speed and performance."),
    ("批量梯度下降在GANs中的应用受到模式崩溃和收敛速度慢的限制。然而，随机梯度下降和动态梯度下降等其他优化方法可以提高GANs的训练速度和性能。",
     "The use of batch gradient descent in GANs is limited by mode collapse and slow convergence. Other "
     "optimizers, such as stochastic gradient descent and Adagrad, can improve GANs' training speed and "
     "performance."),
)


# ------------------------------------------------------------------------------------- running
def config(budget, fields, lr, seed):
    return TrainConfig(data=SPEC, n_data=budget["n_data"], batch_size=BATCH, lr=lr, seed=seed, **fields)


def schedule(steps, extra=()):
    """Evaluate every S/200 steps up to S/5 (where GD's equal-time and equal-sample points lie), then
    every S/50 steps, and at the steps in ``extra`` (25 and 100 for S = 5,000)."""
    dense, sparse, extra = max(1, steps // 200), max(1, steps // 50), set(extra)
    return lambda step: step in extra or step % (dense if step <= steps // 5 else sparse) == 0


def held(counts):
    """Modes holding at least SHARE of their uniform share of the high-quality samples."""
    counts = np.asarray(counts, dtype=float)
    total = counts.sum()
    return int(np.count_nonzero(counts >= SHARE * total / len(counts))) if total else 0


def run(dataset, budget, fields, lr, seed, steps, evaluate_at, n_eval, ms=None):
    """One training run of ``steps`` steps; each evaluation gains ``modes_held`` and, with ``ms``,
    ``seconds`` = step × ms / 1000 (the run's own clock kept as ``clock_seconds``)."""
    trainer = Trainer(config(budget, fields, lr, seed), dataset, progress=False)
    result = _study.train(trainer, steps, evaluate_at, n_eval)
    for e in result["evals"]:
        e[HELD] = held(e["counts"])
        if ms is not None:
            e["clock_seconds"], e["seconds"] = e["seconds"], e["step"] * ms / 1e3
    return result


def window(result, step, key):
    """Mean of ``key`` over the evaluations in (step − WINDOW·step, step]; None when the run stopped
    (diverged) before ``step`` or none is finite."""
    if result["steps"] < step:
        return None
    values = _study.finite(e.get(key) for e in result["evals"] if step - WINDOW * step < e["step"] <= step)
    return float(np.mean(values)) if values else None


def step_ms(dataset, budget, picks):
    """({label: median CPU ms per step}, {label: median wall ms per step}) of each optimizer at its
    pick, its trainers stepped round-robin on one thread (``_common.time_interleaved_clocks``). Each
    step's process CPU time (``time.process_time``) is recorded beside its wall time: on a machine
    shared by more processes than cores, a step's wall time includes the time other processes hold the
    core, and more so for a longer step (the first full run of this study measured GD at 13.3 wall ms
    against 6.2 ms alone, and SGD + momentum 3 times SGD)."""
    trainers = {label: Trainer(config(budget, fields, picks[label], 0), dataset, progress=False)
                for label, fields, _ in OPTIMIZERS}
    items = [_common.Timed(label, lambda t=t: t.step(grad_norms=False)) for label, t in trainers.items()]
    times = _common.time_interleaved_clocks(items, budget["timing_rounds"], warmup=3)
    return ({label: _common.summarize(t["cpu"])["median"] for label, t in times.items()},
            {label: _common.summarize(t["wall"])["median"] for label, t in times.items()})


# ----------------------------------------------------------------------------------- statistics
def compare_table(reference, variants):
    """``_study.compare`` of every variant against ``reference`` for several metrics (all higher is
    better), with one Holm correction over every comparison of the table rather than one per metric
    (``_study.compare_pairs``).

    ``reference`` is {metric: values}, ``variants`` {label: {metric: values}}. Returns
    {(label, metric): compare's dict}."""
    values = {(None, metric): v for metric, v in reference.items()}
    values.update({(label, metric): v[metric] for label, v in variants.items() for metric in reference})
    pairs = [((label, metric), (None, metric)) for metric in reference for label in variants]
    return {variant: c for (variant, _), c in _study.compare_pairs(values, pairs, lower_is_better=False).items()}


def fmt_compare(r):
    return f"{r['difference']:+.3f} (p {_study.fmt_p(r['p_holm'])}): {r['verdict']}"


# ---------------------------------------------------------------------------------------- views
def views(budget, ms):
    """The budgets: (name, heading, {label: step at which each optimizer is read})."""
    s, labels = budget["steps"], [label for label, _, _ in OPTIMIZERS]
    t = s * ms[BASELINE] / 1e3
    n_t = {label: max(1, int(s * ms[BASELINE] / ms[label])) for label in labels}
    n_samples = max(1, s * BATCH // budget["n_data"])
    return [
        ("steps", f"Equal gradient evaluations: every optimizer after S = {s:,} steps", {label: s for label in labels}),
        ("time", f"Equal wall time on one core: T = {t:.2f} s of CPU time, the time Adam takes for S steps "
                   "(steps = n_T, the steps that fit in T)", n_t),
        ("samples", f"Equal per-sample gradient evaluations ({s * BATCH:,} per network): full-batch GD after "
                    f"S · {BATCH} / N = {n_samples:,} steps, the others after S",
         {label: (n_samples if label == REFERENCE else s) for label in labels}),
    ]


def view_values(results, at):
    """{label: {metric: [window value per seed]}} at the steps ``at``."""
    return {label: {key: [window(r, at[label], key) for r in runs] for key, _, _ in COLUMNS}
            for label, runs in results.items()}


def view_table(name, heading, at, values, references, picks, ms, n_seeds):
    """The markdown of one budget's table, and its comparisons and learned flags (for the verdicts)."""
    learned = {label: _study.learned(v[HQ], references, HQ, False) for label, v in values.items()}
    others = {label: {HQ: v[HQ], HELD: v[HELD]} for label, v in values.items() if label != REFERENCE and learned[label]}
    comparisons = compare_table({HQ: values[REFERENCE][HQ], HELD: values[REFERENCE][HELD]}, others)
    rows = []
    for label, r in references.items():
        rows.append([label, "—", "—"] + [f"{r[k]:{fmt}}" if r.get(k) is not None else "—" for k, _, fmt in COLUMNS]
                    + ["—", "—", "—", "—"])
    for label, _, _ in OPTIMIZERS:
        v = values[label]
        if label == REFERENCE:
            cells = ["(reference)", "(reference)"]
        elif not learned[label]:
            cells = ["not learned yet", "not learned yet"]
        else:
            cells = [fmt_compare(comparisons[(label, HQ)]), fmt_compare(comparisons[(label, HELD)])]
        diverged = sum(x is None for x in v[HQ])
        rows.append([label, f"{picks[label]:g}", f"{at[label]:,}"] + [_study.mean_ci(v[k], fmt) for k, _, fmt in COLUMNS]
                    + ["yes" if learned[label] else "not learned yet"] + cells + [f"{diverged}/{len(v[HQ])}"])
    header = (["optimizer", "lr", "steps"] + [name for _, name, _ in COLUMNS] + ["learned", "Δ HQ vs GD (Holm p)",
              "Δ modes ≥ 10 % vs GD (Holm p)", "stopped early"])
    text = (f"### {heading}\n\nMean ± 95 % interval over {n_seeds} seeds; HQ and modes are the means over the "
            f"evaluations in the last {WINDOW:.0%} of the steps. Δ = optimizer − full-batch GD, paired over seeds; "
            "Holm over all comparisons of this table.\n\n" + _study.markdown_table(header, rows))
    return text, comparisons, learned


def progress_table(results, ms, wall_ms, budget, key, value):
    rows = []
    for label, fields, _ in OPTIMIZERS:
        runs = [{"evals": [e for e in r["evals"] if e["step"] <= budget["steps"]]} for r in results[label]]
        rows.append([label, f"{ms[label]:.2f}", f"{wall_ms[label]:.2f}",
                     _study.fmt_reached(runs, key, value, False, "step"),
                     _study.fmt_reached(runs, key, value, False, "seconds")])
    header = ["optimizer", "CPU ms per step", "wall ms per step (not used)", f"steps to HQ ≥ {value:g}",
              f"seconds to HQ ≥ {value:g}"]
    return (f"### Progress: first evaluation with HQ ≥ {value:g}, within S = {budget['steps']:,} steps\n\n"
            "Mean ± 95 % interval over the runs that reached it (k/n when not all did); seconds = steps × CPU ms "
            f"per step. The ms per step are medians of {budget['timing_rounds']} interleaved rounds on one thread "
            "(CPU time of the process; the wall time, which includes other processes' turns on a shared "
            "machine, is shown for reference).\n\n" + _study.markdown_table(header, rows))


# -------------------------------------------------------------------------------------- verdicts
def _over(comparisons, label, metric):
    r = comparisons.get((label, metric))
    return r["verdict"] if r else "not learned yet"


def verdicts(tables, values):
    """[claim, verdict, deciding number] for the four claims (rules in the module docstring)."""
    steps_c, time_c = tables["steps"][1], tables["time"][1]
    rows = []

    def improve(label):
        found = {view: _over(c, label, HQ) for view, c in (("equal steps", steps_c), ("equal time", time_c))}
        better = [v for v, f in found.items() if f == "better"]
        worse = [v for v, f in found.items() if f == "worse"]
        verdict = ("supported" if better and not worse else "contradicted" if worse and not better
                   else _study.VERDICTS[2])
        numbers = "; ".join(f"{view}: Δ HQ {fmt_compare(c[(label, HQ)])}" if (label, HQ) in c else f"{view}: not learned yet"
                            for view, c in (("equal steps", steps_c), ("equal time", time_c)))
        return verdict, numbers

    gd_learned_s = tables["steps"][2][REFERENCE]
    held_gd = values["steps"][REFERENCE][HELD]
    more = [label for label, _, _ in OPTIMIZERS if _over(steps_c, label, HELD) == "better"]
    fewer = [label for label, _, _ in OPTIMIZERS if _over(steps_c, label, HELD) == "worse"]
    low, _ = _study.bounds(held_gd)
    if gd_learned_s and more and not fewer:
        v1 = "supported"
    elif gd_learned_s and not more and not math.isnan(low) and low > 7:
        v1 = "contradicted"
    else:
        v1 = _study.VERDICTS[2]
    best = max((steps_c[(label, HELD)] for label, _, _ in OPTIMIZERS if (label, HELD) in steps_c),
               key=lambda r: r["difference"], default=None)
    rows.append(["full-batch GD may cause mode collapse", v1,
                 f"GD at S: modes ≥ 10 % share {_study.mean_ci(held_gd, '.1f')} of 8"
                 + ("" if gd_learned_s else " (GD not learned yet)")
                 + (f"; largest Δ of another optimizer {fmt_compare(best)}" if best else "")])

    found = {label: _over(time_c, label, HQ) for label, _, _ in OPTIMIZERS if label != REFERENCE}
    better = [label for label, f in found.items() if f == "better"]
    worse = [label for label, f in found.items() if f == "worse"]
    v2 = "supported" if better and not worse else "contradicted" if worse and not better else _study.VERDICTS[2]
    rows.append(["full-batch GD converges slowly (at equal wall time)", v2,
                 "; ".join(f"{label} Δ HQ {fmt_compare(time_c[(label, HQ)])}" for label in found
                           if (label, HQ) in time_c) or "no optimizer learned"])
    for label in ("SGD", "Adagrad"):
        verdict, numbers = improve(label)
        rows.append([f"{label} improves training speed and performance over full-batch GD", verdict, numbers])
    return rows


# ---------------------------------------------------------------------------------------- figure
def figure(results, ms, budget, references, at_time, key, value, args):
    plt = _study.plt
    fig, axes = plt.subplots(1, 3, figsize=(17, 4.6))
    noise = references["chance: uniform over the data's square"]
    chance, data = noise[HQ], references["data"][HQ]
    for i, (label, _, _) in enumerate(OPTIMIZERS):
        color, runs = f"C{i}", results[label]
        steps = [e["step"] for e in max((r["evals"] for r in runs), key=len)]
        for col, metric, scale in ((0, HQ, 1.0), (1, HQ, ms[label] / 1e3), (2, HELD, 1.0)):
            ax = axes[col]
            for r in runs:
                ax.plot([e["step"] * scale for e in r["evals"]], [e[metric] for e in r["evals"]], color=color,
                        lw=0.5, alpha=0.35)
            mean, _ = _study.band([[e[metric] for e in r["evals"]] for r in runs])
            ax.plot(np.asarray(steps[:len(mean)]) * scale, mean, color=color, lw=2, label=f"{label} (mean)")
    for ax in axes[:2]:
        ax.axhline(chance, color="k", ls="--", lw=1, label=f"chance (uniform noise) {chance:.3f}")
        ax.axhline(data, color="k", ls="-", lw=1, label=f"data {data:.3f}")
        ax.axhline(value, color="gray", ls=":", lw=1, label=f"threshold {value:g}")
        ax.set_ylabel("high-quality fraction (within 3σ of a mode; log scale)")
        ax.set_yscale("log")  # chance (0.006), the runs (0.01–0.4) and the data (0.99) all readable
        ax.set_ylim(1e-3, 1.5)
    axes[0].axvline(budget["steps"], color="gray", lw=0.8, ls="-.")
    axes[1].axvline(at_time, color="gray", lw=0.8, ls="-.")
    axes[1].set_xscale("log")  # GD's S steps take several times T: a linear axis hides the others
    axes[2].axhline(noise[HELD], color="k", ls="--", lw=1, label=f"chance (uniform noise) {noise[HELD]}")
    axes[2].axhline(references["data"][HELD], color="k", ls="-", lw=1, label=f"data {references['data'][HELD]}")
    axes[2].set_ylabel("modes holding ≥ 10 % of their share (of 8)")
    axes[2].set_ylim(-0.2, 8.4)
    axes[0].set_xlabel("optimizer steps (gradient evaluations); dash-dot: S")
    axes[1].set_xlabel("training seconds, log scale (steps × interleaved CPU ms per step); dash-dot: T")
    axes[2].set_xlabel("optimizer steps (gradient evaluations)")
    axes[0].set_title(f"{SPEC}: HQ fraction against steps (thin: each seed; thick: mean)", fontsize=9)
    axes[1].set_title(f"{SPEC}: HQ fraction against training time", fontsize=9)
    axes[2].set_title(f"{SPEC}: modes ≥ 10 % share (mode-collapse measure)", fontsize=9)
    axes[0].legend(fontsize=7, loc="upper right")
    axes[2].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return _study.save_figure(fig, args, "optimizers")


# ------------------------------------------------------------------------------------------ main
def main(argv=None):
    args = _study.parser("optimizers", __doc__).parse_args(argv)
    budget = QUICK if args.quick else FULL
    seed_list = _study.seeds(args)
    dataset = load_dataset(SPEC, n_samples=budget["n_data"])
    n_eval = _study.eval_samples(dataset, args.quick)
    references = _study.reference_rows(dataset, n_eval)
    for r in references.values():
        r[HELD] = held(r["counts"])
    key, value, _ = _study.threshold(SPEC, references)
    s = budget["steps"]

    # learning rates: HQ (window mean) at S on the pilot seeds
    picks, pilot_rows = {}, []
    last = schedule(s)
    for label, fields, grid in OPTIMIZERS:
        def score(lr, seed, fields=fields):
            return window(run(dataset, budget, fields, lr, seed, s, lambda n: n > (1 - WINDOW) * s and last(n),
                              n_eval), s, HQ)
        picks[label], scores = _study.pick_lr(grid, score, False)
        pilot_rows.append([label, _study.fmt_pilot(grid, scores, picks[label]), f"{picks[label]:g}"])
        print(f"pilot {label}: {pilot_rows[-1][1]}", flush=True)

    ms, wall_ms = step_ms(dataset, budget, picks)
    budgets = views(budget, ms)
    marks = {label: {at[label] for _, _, at in budgets} for label, _, _ in OPTIMIZERS}
    fields = {label: f for label, f, _ in OPTIMIZERS}
    results = _study.across_seeds(
        [label for label, _, _ in OPTIMIZERS], seed_list,
        lambda label, seed: run(dataset, budget, fields[label], picks[label], seed, max(marks[label]),
                                schedule(s, marks[label]), n_eval, ms[label]))
    print("final runs: done", flush=True)

    tables, values, sections = {}, {}, []
    for name, heading, at in budgets:
        values[name] = view_values(results, at)
        tables[name] = view_table(name, heading, at, values[name], references, picks, ms, len(seed_list))
    header = (f"## Optimizers on {SPEC} (N = {budget['n_data']} points): full-batch GD vs SGD, SGD + momentum, "
              f"Adagrad, Adam — {len(seed_list)} seeds" + ("  (--quick)" if args.quick else ""))
    claims = "\n\n".join(_study.claim(SOURCE, TITLE, zh, en) for zh, en in CLAIMS)
    pilot = (f"### Learning rates: HQ fraction at S = {s:,} steps on pilot seeds {', '.join(map(str, _study.PILOT_SEEDS))} "
             "(pick in bold; — a run that stopped on a NaN)\n\n"
             + _study.markdown_table(["optimizer", "lr: HQ per pilot seed", "pick"], pilot_rows))
    verdict = ("### Verdicts\n\n" + _study.markdown_table(["claim", "verdict", "deciding numbers"],
                                                          verdicts(tables, values)))
    sections = [header, "### Claims\n\n" + claims, pilot] + [tables[name][0] for name, _, _ in budgets]
    sections += [progress_table(results, ms, wall_ms, budget, key, value), verdict]
    _study.write_report(args, "optimizers", sections)
    figure(results, ms, budget, references, budgets[1][2][BASELINE] * ms[BASELINE] / 1e3, key, value, args)


if __name__ == "__main__":
    main()
