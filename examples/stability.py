"""Study: the GAN stabilisation techniques of the GAN chapter, each alone and all combined, on ring8.

    python examples/stability.py [--quick] [--seeds N] [--out DIR]

Claims under test (shared/reference/003_022cd45cf3221e13.txt, the GAN chapter; quoted in Chinese with a
translation in the report): feature matching gives "better results, but convergence is still not
guaranteed"; minibatch discrimination "helps prevent mode collapse and improves the chance of stable
training"; historical averaging "can also improve the stability of GAN training"; label smoothing
"reduces the risk of adversarial examples" — the chapter's smoothing is two-sided (real targets
0.9/0.8/0.7, fake 0.1/0.2/0.3), the trainer's one-sided (real 0.9, fake 0; Salimans et al., 2016), so
both are run; batch normalisation "stabilises learning"; instance normalisation, its per-sample
alternative; packing, PacGAN's remedy for mode collapse (Lin et al., 2018).

Design.

- Data: ring8 only (8 Gaussians of σ = 0.01 on the unit circle). grid25 is dropped: the default 2-D GAN
  stays at its chance level (high-quality fraction 1–3 %) after 5,000 steps. digits is dropped: in a
  pilot the narrow unnormalised baseline (G 100→128→128→64, D 64→128→128→1, linear lr decay, seed 1000)
  scored Fréchet distance 149/89/119 (lr 1e-3), 31/21/29 (lr 2e-3) and 11.9/7.6/7.4 (lr 4e-3) at
  1k/2k/3k steps (2,000 samples): at best level with the Gaussian chance level 7.94, not clearly below
  it, at 4–5 ms per step. Longer digits runs for 10 configurations × 13 runs do not fit the budget.
- Baseline: G 2→128→128→2, D 2→128→128→1, leaky ReLU, no normalisation in either network,
  non-saturating loss, Adam β = (0.5, 0.999), batch 64, 3,000 steps with the learning rate decayed
  linearly to 0 (a pilot: at 3,000 steps the baseline's high-quality fraction was 0.41–0.55 with the
  decay, 0.12–0.41 without). Then one technique (fields of ``TrainConfig`` unless said):
  one-sided label smoothing 0.1 (real target 0.9); two-sided label smoothing (real 0.9, fake 0.1:
  ``TwoSidedTrainer`` below, whose step overrides ``TrainingStep.d_loss``, the trainer having only one-sided
  smoothing); feature matching on D's last hidden layer; minibatch discrimination with 5 kernels of
  dimension 5; historical averaging λ = 1e-3 on both networks; batch norm in G; instance norm in G;
  packing 2 (PacGAN2); all combined (one-sided smoothing, feature matching, minibatch discrimination,
  historical averaging, batch norm in G, packing 2; instance norm is left out, batch norm replaces it).
- Learning rates: for each configuration its own, from the grid 1e-3, 2e-3, 4e-3, 8e-3 on the pilot seeds
  1000 and 1001 (``_study.pick_lr``, final high-quality fraction), then the final seeds 0–4 at the pick.
  (In a pilot of the baseline, 5e-4 / 1e-3 / 2e-3 / 4e-3 gave 0.41 / 0.49 / 0.55 / 0.58 on seed 1000 and
  – / 0.56 / 0.63 / 0.61 on seed 1001: 5e-4 is too low to be worth a place in the grid. A first full run
  with the grid 1e-3, 2e-3, 4e-3 picked its top for 7 of the 10 configurations, hence 8e-3.)
- Equal cost: the table at equal steps (3,000 each) and one at equal time. The steps of every
  configuration are timed interleaved on one thread (``benchmarks/_common.time_interleaved``, 200
  rounds), reading both the wall clock and the thread's CPU time of each step; each configuration then
  gets the steps whose median CPU time equals the baseline's 3,000 steps' (its own linear decay over
  them, its own picked learning rate). CPU time, not wall time, because the machine is shared: a first
  full run set the steps from wall-clock medians, which put minibatch discrimination at 8.4× the
  baseline's cost while its runs took 3.3× the baseline's seconds — a long step is descheduled more
  often, so wall medians are not in proportion to the work. A configuration within 5 % of the
  baseline's cost reuses its equal-step runs.
- Metrics (10,000 samples, every 250 steps): the high-quality fraction (share within 3σ of a mode) ranks
  (chance, uniform noise over the square: 0.006; data 0.990); modes captured and reverse KL are shown
  beside it, but uniform noise scores 8/8 and 0.07 on them. Mode collapse (the claims of minibatch
  discrimination and packing): the reverse KL of the high-quality samples' histogram over the modes,
  read only for configurations above chance (a first full run: every learned configuration captured
  8/8 modes in nearly every run, so balance is where collapse can show). Stability: the largest fall of
  a run's high-quality fraction from its best earlier value (drawdown; 0 for a run that never falls
  back).
  Progress: steps and training seconds to a high-quality fraction of 0.25 (``_study.THRESHOLDS``).
- Statistics: 95 % intervals (``_study.mean_ci``); each technique against the baseline over the same
  seeds (``_study.compare``, Holm across each table's nine comparisons); two-sided against one-sided
  smoothing as a comparison of its own. A configuration whose interval is not wholly above chance is
  "not learned" and not ranked.

Budget (one core): about 17 ms per step for one seed of all ten configurations together (baseline
1.2 ms, minibatch discrimination 4.4 ms, all combined 2.2 ms; measured with training alone), about 22 ms
with the evaluations and the machine's load (the baseline's pilots ran at 1.6 ms per step all told);
pilots 8 × 3,000 × 22 ms ≈ 530 s, final runs 5 × 3,000 × 22 ms ≈ 330 s, equal-time runs ≈ 6
configurations × 5 seeds × 4.8 s ≈ 145 s, timing ≈ 10 s: ≈ 17 CPU-minutes. Measured: 13.3 CPU-minutes
in 13.6 minutes of wall time (a first full run with a 3-value grid: 14.1 CPU-minutes in 34 minutes, on
the shared machine under load). ``--quick``: 40 steps, two learning
rates, 1,000 evaluation samples, a few seconds.
"""

import math
import time

import numpy as np

import _study
from benchmarks._common import Timed, summarize, time_interleaved_clocks
from minigan.data import load_dataset
from minigan.gan.step import TrainingStep
from minigan.gan.trainer import TrainConfig, Trainer
from minigan.nn import functional as F

SPEC = "ring8"
BASELINE = {"g_norm": "none", "d_norm": "none", "lr_decay": "linear"}
FULL = {"steps": 3000, "grid": (1e-3, 2e-3, 4e-3, 8e-3), "eval_every": 250, "timing_rounds": 200, "timing_warmup": 20}
QUICK = {"steps": 40, "grid": (1e-3, 2e-3), "eval_every": 20, "timing_rounds": 5, "timing_warmup": 2}
SAME_COST = 0.05          # within 5 % of the baseline's seconds per step: the equal-step runs serve
PLOT_SAMPLES = 2000       # points per panel of the samples figure
HQ = "high_quality_fraction"
SOURCE = "003_022cd45cf3221e13.txt"
TITLE = "生成对抗网络简介 (Introduction to generative adversarial networks, the GAN chapter)"


class TwoSidedStep(TrainingStep):
    """Two-sided label smoothing, the chapter's form: real targets 1 − ``label_smoothing`` and fake targets
    ``FAKE_TARGET`` in D's loss. The trainer smooths only the real side (Salimans et al.'s one-sided
    form), so this study overrides the one method that sets the targets; G's loss is unchanged."""

    FAKE_TARGET = 0.1

    def d_loss(self, real_logits, fake_logits):
        return (F.binary_cross_entropy_with_logits(real_logits, 1.0 - self.config.label_smoothing)
                + F.binary_cross_entropy_with_logits(fake_logits, self.FAKE_TARGET))


class TwoSidedTrainer(Trainer):
    step_class = TwoSidedStep


ONE_SIDED = "one-sided label smoothing (real 0.9)"
TWO_SIDED = "two-sided label smoothing (real 0.9, fake 0.1)"
ALONE = (
    (ONE_SIDED, {"label_smoothing": 0.1}, Trainer),
    (TWO_SIDED, {"label_smoothing": 0.1}, TwoSidedTrainer),
    ("feature matching", {"feature_matching": True}, Trainer),
    ("minibatch discrimination (5 kernels)", {"minibatch_kernels": 5}, Trainer),
    ("historical averaging 1e-3", {"historical_averaging": 1e-3}, Trainer),
    ("batch norm in G", {"g_norm": "batch"}, Trainer),
    ("instance norm in G", {"g_norm": "instance"}, Trainer),
    ("packing 2", {"pack": 2}, Trainer),
)
COMBINED = {k: v for label, fields, cls in ALONE if cls is Trainer and "instance" not in label for k, v in fields.items()}
CONFIGS = (("baseline", {}, Trainer),) + ALONE + (("all combined (no instance norm)", COMBINED, Trainer),)
FIELDS = {label: (fields, cls) for label, fields, cls in CONFIGS}
LABELS = [label for label, _, _ in CONFIGS]

# The claims, in the chapter's words, with what decides each here: (technique, metric key of the verdict).
CLAIMS = (
    ("特征匹配", "使用此目标函数可以获得更好的结果，但是仍然不能保证收敛。",
     "Using this objective function gives better results, but convergence is still not guaranteed.",
     "feature matching", HQ),
    ("小批量判别", "小批量判别有助于防止模式崩溃，并提高训练稳定性的机会。",
     "Minibatch discrimination helps prevent mode collapse and improves the chance of stable training.",
     "minibatch discrimination (5 kernels)", HQ),
    ("历史平均", "这种方法也可以提高 GAN 的训练稳定性。",
     "This method can also improve the stability of GAN training.", "historical averaging 1e-3", "drawdown"),
    ("单面标签平滑", "标签平滑可以降低 GAN 中对抗性示例的风险。 要应用标签平滑，请为图像分配标签 0.9、0.8 和 0.7、0.1、0.2 和 0.3。",
     "Label smoothing can reduce the risk of adversarial examples in GANs. To apply label smoothing, assign "
     "the images the labels 0.9, 0.8 and 0.7, 0.1, 0.2 and 0.3.", TWO_SIDED, None),
    ("批量标准化", "它用于稳定学习并处理较差的权重初始化问题。",
     "It is used to stabilise learning and to deal with poor weight initialisation.", "batch norm in G", "drawdown"),
    ("实例规范化", "在实例归一化中，我们仅通过利用来自该特征图的信息来归一化每个特征图。",
     "In instance normalisation, we normalise each feature map using only information from that feature map.",
     "instance norm in G", None),
)


# ------------------------------------------------------------------------------------------ runs
def make_trainer(label, lr, seed, steps, dataset):
    fields, cls = FIELDS[label]
    return cls(TrainConfig(data=SPEC, steps=steps, seed=seed, lr=lr, **{**BASELINE, **fields}), dataset,
               progress=False)


def drawdown(run):
    """The largest fall of the high-quality fraction from its best earlier value over a run's evaluations."""
    best, worst_fall = -math.inf, 0.0
    for e in run["evals"]:
        best = max(best, e[HQ])
        worst_fall = max(worst_fall, best - e[HQ])
    return worst_fall if run["evals"] else math.nan


def run(label, lr, seed, steps, dataset, budget, n_eval, keep_samples=False):
    trainer = make_trainer(label, lr, seed, steps, dataset)
    every = budget["eval_every"]
    result = _study.train(trainer, steps, evaluate_at=lambda s: s % every == 0 or s == steps, eval_samples=n_eval)
    result["final"] = result["evals"][-1] if result["evals"] and not result["diverged"] else {}
    result["drawdown"] = drawdown(result)
    result["lr"] = lr
    if keep_samples and not result["diverged"]:
        result["samples"] = trainer.sample(PLOT_SAMPLES, seed=[seed, 99])
    return result


def finals(results, key="final", metric=HQ):
    """{label: [metric of each seed's run]} (None for a diverged run)."""
    if metric == "drawdown":
        return {label: [r["drawdown"] for r in runs] for label, runs in results.items()}
    return {label: [r[key].get(metric) for r in runs] for label, runs in results.items()}


def time_steps(dataset, picks, budget):
    """{label: {"wall": summary, "cpu": summary}} of milliseconds per step, every configuration timed
    interleaved on this thread (``time_interleaved_clocks``), on the wall clock and on this thread's CPU
    clock (``time.thread_time``).

    The CPU time is what sets the steps at equal cost: on a shared machine (here 2 cores, several
    processes) a step is often descheduled part-way, the longer a step the likelier, so the wall-clock
    medians of long and short steps are not in proportion to their work; a thread's CPU time is the wall
    time the step takes on a core of its own."""
    trainers = {label: make_trainer(label, picks[label], 0, 10 ** 9, dataset) for label in LABELS}
    items = [Timed(label, lambda t=t: t.step(grad_norms=False)) for label, t in trainers.items()]
    times = time_interleaved_clocks(items, repeats=budget["timing_rounds"], warmup=budget["timing_warmup"],
                                    cpu_clock=time.thread_time)
    return {label: {"wall": summarize(t["wall"]), "cpu": summarize(t["cpu"])} for label, t in times.items()}


# ---------------------------------------------------------------------------------------- tables
def fmt_cmp(c, learned):
    if not learned:
        return "not learned yet"
    return c["verdict"]


def quality_table(results, references, steps_of):
    metrics = _study.METRICS["points"]
    header = ["technique", "lr", "steps"] + [name for _, name, _, _ in metrics] + ["train s", "diverged"]
    rows = []
    for label in LABELS:
        runs = results[label]
        rows.append([label, f"{runs[0]['lr']:g}", steps_of[label]]
                    + [_study.mean_ci([r["final"].get(k) for r in runs], fmt) for k, _, fmt, _ in metrics]
                    + [_study.mean_ci([r["seconds"] for r in runs], ".1f"),
                       f"{sum(r['diverged'] for r in runs)}/{len(runs)}"])
    return _study.markdown_table(header, rows)


def comparison_rows(results, references, metric, lower_is_better, fmt=".3f"):
    """Rows (technique, mean ± CI, Δ vs baseline, p, p Holm, verdict) of every technique against the
    baseline on ``metric``; the verdict is "not learned yet" for a configuration not above chance."""
    values = finals(results, metric=metric)
    hq = finals(results)
    cmp = _study.compare(values["baseline"], {label: values[label] for label in LABELS[1:]}, lower_is_better)
    rows = [["baseline", _study.mean_ci(values["baseline"], fmt), "—", "—", "—",
             "reference" if _study.learned(hq["baseline"], references, HQ, False) else "not learned yet"]]
    for label in LABELS[1:]:
        c = cmp[label]
        rows.append([label, _study.mean_ci(values[label], fmt), f"{c['difference']:+{fmt}}", _study.fmt_p(c["p"]),
                     _study.fmt_p(c["p_holm"]), fmt_cmp(c, _study.learned(hq[label], references, HQ, False))])
    return rows, cmp


def progress_table(results):
    key, value, lower = _study.threshold(SPEC, {})
    rows = [[label, _study.fmt_reached(results[label], key, value, lower, "step"),
             _study.fmt_reached(results[label], key, value, lower, "seconds")] for label in LABELS]
    return _study.markdown_table(["technique", f"steps to high-quality fraction ≥ {value}",
                                  f"training s to ≥ {value}"], rows)


def cost_table(timing, steps_equal_time):
    base = timing["baseline"]["cpu"]["median"]

    def ms(t):
        return f"{t['median']:.2f} ({t['p25']:.2f}–{t['p75']:.2f})"

    rows = [[label, ms(t["cpu"]), f"{t['cpu']['median'] / base:.2f}×", ms(t["wall"]), steps_equal_time[label]]
            for label, t in timing.items()]
    return _study.markdown_table(["technique", "CPU ms per step, median (25th–75th pct.)", "cost vs baseline (CPU)",
                                  "wall ms per step, median (25th–75th pct.)", "steps at equal time"], rows)


METRIC_NAMES = {HQ: "high-quality fraction", "drawdown": "drawdown (lower is more stable)",
                "reverse_kl": "reverse KL (lower: more even over the modes)"}
# The verdict rows: (what is claimed, technique, metric that decides it).
VERDICT_ROWS = (
    ("特征匹配: better results", "feature matching", HQ),
    ("小批量判别: prevents mode collapse", "minibatch discrimination (5 kernels)", "reverse_kl"),
    ("小批量判别: stable training", "minibatch discrimination (5 kernels)", "drawdown"),
    ("历史平均: stability", "historical averaging 1e-3", "drawdown"),
    ("单面标签平滑: fewer adversarial examples", TWO_SIDED, None),
    ("批量标准化: stabilises learning", "batch norm in G", "drawdown"),
    ("PacGAN (Lin et al., 2018): packing reduces mode collapse", "packing 2", "reverse_kl"),
)


def verdict_rows(comparisons, two_vs_one, references, hq):
    """One row per claim: the number that decides it and the verdict (supported when the technique is
    better than the baseline on the claim's metric, contradicted when worse, else not decided)."""
    rows = []
    for claim_text, label, metric in VERDICT_ROWS:
        if label == TWO_SIDED:
            c = two_vs_one
            rows.append([claim_text, f"adversarial examples not measured; two-sided − one-sided high-quality "
                                     f"fraction {c['difference']:+.3f} (p {_study.fmt_p(c['p'])}: {c['verdict']})",
                         _study.VERDICTS[2]])
            continue
        c = comparisons[metric][label]
        if not (_study.learned(hq[label], references, HQ, False)
                and _study.learned(hq["baseline"], references, HQ, False)):
            verdict = _study.VERDICTS[2] + " (not learned yet)"
        else:
            verdict = {"better": _study.VERDICTS[0], "worse": _study.VERDICTS[1]}.get(c["verdict"], _study.VERDICTS[2])
        rows.append([claim_text, f"{label} − baseline, {METRIC_NAMES[metric]}: {c['difference']:+.3f} "
                                 f"(p {_study.fmt_p(c['p'])}, Holm {_study.fmt_p(c['p_holm'])})", verdict])
    return rows


# --------------------------------------------------------------------------------------- figures
def bar_panel(ax, values, references, title, show_labels, n_eval):
    chance = _study.chance_value(references, HQ, False)
    data = references["data"][HQ]
    for i, label in enumerate(LABELS):
        v = _study.finite(values[label])
        mean, half, n = _study.interval(v)
        ax.barh(i, mean, color=f"C{i % 10}", alpha=0.45)
        if n > 1:
            ax.errorbar(mean, i, xerr=half, color="k", capsize=3, lw=1)
        ax.plot(v, i + np.linspace(-0.2, 0.2, len(v)) if len(v) > 1 else [i] * len(v), "o", color="k", ms=3.5,
                mfc="white")
    ax.axvline(chance, color="C3", ls="--", lw=1)
    ax.axvline(data, color="C2", ls="-", lw=1)
    ax.text(chance + 0.01, -0.75, f"chance (uniform noise) {chance:.3f}", color="C3", fontsize=7, va="center")
    ax.text(data - 0.01, -0.75, f"data {data:.3f}", color="C2", fontsize=7, va="center", ha="right")
    ax.set_yticks(range(len(LABELS)), LABELS if show_labels else [""] * len(LABELS), fontsize=8)
    ax.set_ylim(len(LABELS) - 0.5, -1.1)  # top row first, room above it for the reference lines' labels
    ax.set_xlim(0, 1.02)
    ax.set_xlabel(f"high-quality fraction (share of {n_eval:,} samples within 3σ of a mode)", fontsize=8)
    ax.set_title(title, fontsize=9)


def figure(results, equal_time, references, steps, n_eval, args):
    plt = _study.plt
    fig, axes = plt.subplots(1, 2, figsize=(12, 5.2))
    bar_panel(axes[0], finals(results), references, f"ring8, equal steps ({steps:,} each)", True, n_eval)
    bar_panel(axes[1], finals(equal_time), references,
              f"ring8, equal time (the baseline's {steps:,} steps of CPU time)", False, n_eval)
    fig.suptitle("Stabilisation techniques: bar = mean, whisker = 95 % interval, dot = one seed", fontsize=9)
    fig.tight_layout()
    _study.save_figure(fig, args, "stability")

    dataset_modes = load_dataset(SPEC).modes
    n_seeds = len(results["baseline"])
    fig, axes = plt.subplots(n_seeds, len(LABELS), figsize=(1.35 * len(LABELS), 1.45 * n_seeds + 0.6),
                             squeeze=False)
    for col, label in enumerate(LABELS):
        for row in range(n_seeds):
            ax = axes[row][col]
            r = results[label][row]
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_aspect("equal")
            ax.set_xlim(-1.25, 1.25)
            ax.set_ylim(-1.25, 1.25)
            samples = r.get("samples")
            if samples is None:
                ax.text(0.5, 0.5, "diverged", ha="center", va="center", transform=ax.transAxes, fontsize=7)
            else:
                ax.plot(samples[:, 0], samples[:, 1], ".", ms=0.8, alpha=0.35, color="C0")
                ax.text(0.03, 0.03, f"{r['final'].get(HQ, math.nan):.2f}", transform=ax.transAxes, fontsize=6.5,
                        color="k")
            ax.plot(dataset_modes[:, 0], dataset_modes[:, 1], "+", color="C3", ms=5, mew=0.8)
            if row == 0:
                ax.set_title(label.replace(" (", "\n("), fontsize=6.5)
            if col == 0:
                ax.set_ylabel(f"seed {row}", fontsize=7)
    fig.suptitle(f"ring8 after {r['steps']:,} steps (equal steps): {PLOT_SAMPLES:,} samples per panel, "
                 "red + = the 8 mode centres (σ = 0.01), window [−1.25, 1.25]²; "
                 "number = the run's high-quality fraction", fontsize=8)
    fig.tight_layout()
    _study.save_figure(fig, args, "stability_samples")


# ------------------------------------------------------------------------------------------ main
def main(argv=None):
    args = _study.parser("stability", __doc__).parse_args(argv)
    budget = QUICK if args.quick else FULL
    steps = budget["steps"]
    dataset = load_dataset(SPEC)
    n_eval = _study.eval_samples(dataset, args.quick)
    references = _study.reference_rows(dataset, n_eval)
    seed_list = _study.seeds(args)

    # 1. Learning rates: each configuration's pick from the grid on the pilot seeds.
    picks, pilots = {}, {}
    for label in LABELS:
        pick, scores = _study.pick_lr(
            budget["grid"], lambda lr, seed: run(label, lr, seed, steps, dataset, budget, n_eval)["final"].get(HQ),
            lower_is_better=False)
        picks[label], pilots[label] = pick, scores
        print(f"pilot {label}: {_study.fmt_pilot(budget['grid'], scores, pick)}", flush=True)

    # 2. Final runs at equal steps, seeds in the outer loop.
    results = _study.across_seeds(LABELS, seed_list, lambda label, seed: run(
        label, picks[label], seed, steps, dataset, budget, n_eval, keep_samples=True))
    print("equal steps: done", flush=True)

    # 3. Cost per step, timed interleaved; equal wall time = the baseline's steps of time.
    timing = time_steps(dataset, picks, budget)
    cost = {label: timing[label]["cpu"]["median"] / timing["baseline"]["cpu"]["median"] for label in LABELS}
    steps_equal_time = {label: max(1, round(steps / cost[label])) for label in LABELS}
    own = [label for label in LABELS if abs(cost[label] - 1) > SAME_COST]
    for label in LABELS:
        if label not in own:
            steps_equal_time[label] = steps
    extra = _study.across_seeds(own, seed_list, lambda label, seed: run(
        label, picks[label], seed, steps_equal_time[label], dataset, budget, n_eval))
    equal_time = {label: extra.get(label, results[label]) for label in LABELS}
    print("equal time: done", flush=True)

    # 4. Tables.
    hq = finals(results)
    hq_rows, cmp_hq = comparison_rows(results, references, HQ, False)
    dd_rows, cmp_dd = comparison_rows(results, references, "drawdown", True)
    kl_rows, cmp_kl = comparison_rows(results, references, "reverse_kl", True, fmt=".2f")
    et_rows, cmp_et = comparison_rows(equal_time, references, HQ, False)
    two_vs_one = _study.compare(hq[ONE_SIDED], {TWO_SIDED: hq[TWO_SIDED]}, lower_is_better=False)[TWO_SIDED]
    cmp_header = ["technique", "{}", "Δ vs baseline (mean over seeds)", "p (paired t)", "p (Holm, 9)", "vs baseline"]

    def header_with(name):
        return [h.format(name) for h in cmp_header]

    n = len(seed_list)
    title = (f"## Stabilisation techniques on ring8 — {n} seeds, mean ± 95 % interval; {steps:,} steps, "
             f"{n_eval:,} evaluation samples" + ("  (--quick)" if args.quick else ""))
    claims = "\n\n".join(f"**{topic}.**\n\n" + _study.claim(SOURCE, TITLE, original, translation)
                         for topic, original, translation, _, _ in CLAIMS)
    pilot_rows = [[label, _study.fmt_pilot(budget["grid"], pilots[label], picks[label])] for label in LABELS]
    one_vs_two = _study.markdown_table(
        ["comparison", "one-sided", "two-sided", "Δ (two − one)", "p (paired t)", "result"],
        [["high-quality fraction, equal steps", _study.mean_ci(hq[ONE_SIDED], ".3f"),
          _study.mean_ci(hq[TWO_SIDED], ".3f"), f"{two_vs_one['difference']:+.3f}", _study.fmt_p(two_vs_one["p"]),
          two_vs_one["verdict"]]])
    sections = [
        title,
        "**Claims (GAN chapter).**\n\n" + claims,
        "**Reference rows** (10,000 samples scored like a generator's)\n\n" + _study.reference_table(references, dataset),
        f"**Learning-rate pilots** (final high-quality fraction at {steps:,} steps, seeds "
        f"{', '.join(map(str, _study.PILOT_SEEDS))}; pick in bold)\n\n"
        + _study.markdown_table(["technique", "lr: pilot scores"], pilot_rows),
        f"**Equal steps: quality after {steps:,} steps**\n\n" + quality_table(results, references,
                                                                           {label: steps for label in LABELS}),
        "**Equal steps: high-quality fraction against the baseline** (Holm across the 9 rows)\n\n"
        + _study.markdown_table(header_with("high-quality fraction"), hq_rows),
        "**Equal steps: stability — the largest fall of the high-quality fraction from its best earlier value "
        f"(drawdown, evaluations every {budget['eval_every']} steps; lower is more stable)**\n\n"
        + _study.markdown_table(header_with("drawdown"), dd_rows),
        "**Equal steps: mode balance — reverse KL of the high-quality samples' histogram over the 8 modes to "
        "uniform (nats; lower is more even; uniform noise scores 0.07, so it reads only beside a high-quality "
        "fraction above chance)**\n\n" + _study.markdown_table(header_with("reverse KL"), kl_rows),
        "**Progress** (first evaluation at or above the threshold; \"(k/n)\": only k of n seeds reached it)\n\n"
        + progress_table(results),
        "**Two-sided against one-sided label smoothing** (paired over the seeds, a comparison of its own)\n\n"
        + one_vs_two,
        f"**Cost per step** (one thread, interleaved, {budget['timing_rounds']} rounds; CPU time of the thread "
        "sets the cost, the wall clock is shown beside it, inflated for long steps by the shared machine) "
        f"**and the steps that take the baseline's {steps:,} steps of time** (within {SAME_COST:.0%} of the "
        "baseline's cost: its equal-step runs are reused)\n\n" + cost_table(timing, steps_equal_time),
        "**Equal time: quality**\n\n" + quality_table(equal_time, references, steps_equal_time),
        "**Equal time: high-quality fraction against the baseline** (Holm across the 9 rows)\n\n"
        + _study.markdown_table(header_with("high-quality fraction"), et_rows),
        "### Verdicts\n\nAt equal steps, with the number that decides each; mode collapse is read from the "
        "reverse KL, since every learned configuration captures 8/8 modes in nearly every run, stability from "
        "the drawdown. (Instance norm is described, not claimed, by the chapter: see the tables.)\n\n"
        + _study.markdown_table(["claim", "deciding number", "verdict"],
                                verdict_rows({HQ: cmp_hq, "drawdown": cmp_dd, "reverse_kl": cmp_kl},
                                             two_vs_one, references, hq)),
    ]
    _study.write_report(args, "stability", sections)
    figure(results, equal_time, references, steps, n_eval, args)


if __name__ == "__main__":
    main()
