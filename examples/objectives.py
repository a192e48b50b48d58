"""Study: which objective? The non-saturating GAN, least squares, WGAN with weight clipping, WGAN-GP,
hinge + spectral normalisation and the non-saturating GAN + R1, each on ring8, grid25 and digits, at
equal steps and at equal wall time.

    python examples/objectives.py [--quick] [--seeds N] [--out DIR]

**Claims under test.** From the reference texts (quoted in Chinese in the report): the GAN chapter
(``003``) says that GANs sometimes cannot model a multimodal distribution and suffer mode collapse, and
that on some data sets a GAN never converges. The texts say nothing about the losses compared here
(their only objective is the minimax one), so the papers' own claims are stated in English with their
citations: least squares "generate higher quality images than regular GANs" (Mao et al., 2017); WGAN
saw no mode collapse in any experiment (Arjovsky et al., 2017); the gradient penalty "performs better
than standard WGAN" with weight clipping (Gulrajani et al., 2017); spectral normalisation is
computationally light — cheaper than the gradient penalty — and gives samples of better or equal
quality (Miyato et al., 2018); R1 makes training converge where unregularised training oscillates
(Mescheder et al., 2018).

**Objectives** (``OBJECTIVES``; minigan.gan.objectives): non-saturating (Adam β = (0.5, 0.999), the
trainer's); least squares (same optimizer); WGAN with weight clipping as in its paper (RMSprop, clip
0.01, n_critic = 5 D updates per G update, lr grid around the paper's 5e-5); WGAN-GP (λ = 10, Adam β =
(0.5, 0.9) as the paper's code for its toy data sets — its Algorithm 1 has β₁ = 0 —, and n_critic = 1,
not the paper's 5, to fit the budget: at 5 a step costs 3.3–3.4× as much on both data sets); hinge loss +
spectral normalisation of D's dense layers (the trainer's Adam β); non-saturating + R1 (γ/2 E‖∇D(x)‖²
on real samples). A step is one G update (with n_critic D updates before it). The networks are the
trainer's defaults (2-D: G 2→128→128→2 with BN, D 2→128→128→1; digits: G 100→500→500→64 with BN, D
64→500→500→1, both LeakyReLU 0.2). Every objective is sampled from an exponential moving average of G's
weights (decay 0.999 on the 2-D sets, 0.995 on digits; no lr decay, so that a run read at step n equals
a run of n steps — the equal-time reading needs that), and the 2-D sets use batches of 256 (the
trainer's 64 on digits).

**Learning rates.** Each objective's lr is picked from its own 3-value grid by the headline metric (HQ
fraction on 2-D, Fréchet distance on digits, each the mean over the evaluations in the last 20 % of S)
on the pilot seeds ``_study.PILOT_SEEDS``; then 5 fresh seeds (0–4). A pick at either end of its grid
grows the grid by one value beyond that end, at the grid's ratio there, up to ``EXTEND`` = 2 times
(``_study.pick_lr(extend=...)``); a pick still at an end is marked so in the table. R1's γ is piloted
first at the non-saturating pick's lr over ``R1_GAMMAS`` (3 values × 2 seeds, extended the same way),
then R1's lr over the non-saturating grid at that γ. grid25 is not piloted — a pilot there would add
about 25 CPU-minutes — and runs at ring8's picks (same networks, batch and steps).

**Budgets.** S = 6,000 steps on ring8 and grid25, 1,000 on digits. Design pilots (seed 1000, this
configuration): the non-saturating GAN at lr 1e-3 reaches HQ 0.81 on ring8 and 0.30 on grid25 after
6,000 steps (0.85 and 0.39 after 8,000; without the weight average, HQ swings between 0.03 and 0.34 on
ring8 over 4,000 steps); on digits FD 4–5 within 800 steps. At lr 1e-3, WGAN-GP (n_critic 1) scored HQ
0.000–0.001 on ring8 for 6,000 steps with its averaged samples bunched near the centre, and hinge + SN
reached 0.011 only at the end. Equal gradient evaluations =
equal steps S (WGAN with clipping does 5 D updates in each). Equal wall time: T = S × the cheapest
objective's ms per step, each objective read at n_T = S · ms(cheapest) / ms(objective) steps. The ms per
step are medians of interleaved rounds on one thread (``benchmarks/_common.time_interleaved_clocks``,
CPU time of the process), including two timing-only variants that isolate what a penalty's double
backward costs: the Wasserstein loss without any constraint (n_critic 1; WGAN-GP minus it is the
gradient penalty) and the hinge loss without spectral normalisation.

**Metrics.** 10,000 samples per 2-D evaluation: high-quality (HQ) fraction (the ranking metric), modes
captured, modes holding ≥ 10 % of their uniform share of the HQ samples (the mode-collapse measure),
reverse KL, and W2 ratio (exact W2 to a fixed data draw on the first 1,000 samples, over data-vs-data
W2: 1 = indistinguishable) at the read step; digits: Fréchet distance (ranking), IS analogue, classes
covered, on 2,000 samples. HQ, modes and FD at step n are the means over the evaluations in (0.8 n, n]
(they swing between evaluations). Chance and data rows (``_study.reference_rows``); a configuration not
clearly on the data side of chance is "not learned yet" and not ranked.

**Statistics.** Mean ± 95 % Student-t interval over 5 seeds; paired comparisons over seeds
(``_study.compare_pairs``), Holm-corrected within each table's family: every objective against the
non-saturating GAN, WGAN-GP against WGAN with clipping, hinge + SN against WGAN-GP (pairs where neither
is learned are not compared). "Relative fluctuation" (for R1) is the standard deviation of the headline
metric over the evaluations in the last 20 % of S divided by their mean: scale-free, so that an objective
that scores better (a smaller Fréchet distance) is not credited with smaller swings for that alone.

**Verdicts.** A paper's quality claim is supported when its comparison is "better" in some view (equal
steps or equal time, ring8 or digits) and "worse" in none, contradicted in the mirror case, otherwise not
decided; grid25 runs at ring8's picks and is reported, not used for verdicts. WGAN's mode-collapse claim
is read on ring8's modes holding ≥ 10 % of their share (on grid25 a generator that spreads its samples
near-uniformly holds all 25, as the chance row shows). 003's "on some data sets a GAN never converges"
is existential: it is supported when on some data set no non-saturating run reaches the progress
threshold within S, and otherwise not decided — data sets on which the GAN learns cannot contradict it.

**Budget** (measured): 74.1 CPU-minutes, 40.7 minutes of wall time with ``--jobs 2`` on the 2-core
machine — more than the ~30 CPU-minutes of ``shared/STUDIES.md``: six objectives on all three data sets,
as the issue asks, at budgets where the 2-D sets learn. CPU ms per step, interleaved on one thread:
ring8 non-saturating 3.6, least squares 3.5, WGAN-clip 9.8, WGAN-GP 4.5, hinge + SN 4.4, R1 4.6; digits
10.1, 10.1, 27.4, 12.4, 12.7, 12.5. The ring8 pilots alone are 25 configurations × 2 seeds × 6,000
steps, against 30 final runs per data set.
"""

import numpy as np

import _study
from benchmarks import _common
from minigan.data import load_dataset
from minigan.gan.trainer import TrainConfig, Trainer

NAME = "objectives"
NS, LS, WCLIP, WGP, SN, R1 = ("non-saturating", "least squares", "WGAN, weight clipping", "WGAN-GP",
                              "hinge + spectral norm", "non-saturating + R1")
POINT_LR = (3e-4, 1e-3, 3e-3)
IMAGE_LR = (2e-4, 5e-4, 1e-3)
OBJECTIVES = (  # (label, TrainConfig fields, {kind: lr grid})
    (NS, {"loss": "nonsaturating"}, {"points": POINT_LR, "images": IMAGE_LR}),
    (LS, {"loss": "least_squares"}, {"points": POINT_LR, "images": IMAGE_LR}),
    (WCLIP, {"loss": "wasserstein", "optimizer": "rmsprop", "clip": 0.01, "d_steps": 5},
     {"points": (5e-5, 2e-4, 1e-3), "images": (5e-5, 2e-4, 1e-3)}),
    (WGP, {"loss": "wasserstein", "gp": 10.0, "betas": (0.5, 0.9), "d_steps": 1},
     {"points": (1e-4, 3e-4, 1e-3), "images": (1e-4, 3e-4, 1e-3)}),
    (SN, {"loss": "hinge", "spectral_norm": True}, {"points": POINT_LR, "images": IMAGE_LR}),
    (R1, {"loss": "nonsaturating"}, {"points": POINT_LR, "images": IMAGE_LR}),
)
LABELS = [label for label, _, _ in OBJECTIVES]
FIELDS = {label: fields for label, fields, _ in OBJECTIVES}
GRIDS = {label: grids for label, _, grids in OBJECTIVES}
R1_GAMMAS = {"points": (0.01, 0.1, 1.0), "images": (0.1, 1.0, 10.0)}
TIMING_ONLY = (  # variants timed, not trained: what the penalty and the normalisation cost
    ("(timing) Wasserstein loss, no constraint", {"loss": "wasserstein", "betas": (0.5, 0.9), "d_steps": 1}, WGP),
    ("(timing) hinge loss, no spectral norm", {"loss": "hinge"}, SN),
)
SPECS = ("ring8", "grid25", "digits")
PILOTED = {"ring8": "ring8", "grid25": "ring8", "digits": "digits"}  # whose picks each data set uses
POINT_EXTRA = {"batch_size": 256, "g_ema": 0.999}
IMAGE_EXTRA = {"g_ema": 0.995}
EXTEND = 2  # a pilot's pick at an end of its grid grows the grid by one value beyond it, up to twice
FULL = {"steps": {"ring8": 6000, "grid25": 6000, "digits": 1000}, "timing_rounds": {"points": 60, "images": 20},
        "w2_samples": 1000}
QUICK = {"steps": {"ring8": 6, "grid25": 6, "digits": 4}, "timing_rounds": {"points": 3, "images": 2},
         "w2_samples": 200}
WINDOW = _study.WINDOW
EVALS_PER_RUN = 20    # evaluations every S/20 steps, plus 4 in the window before each read step
SHARE = 0.10
HQ, MODES, HELD, KL, W2R = "high_quality_fraction", "modes_captured", "modes_held", "reverse_kl", "w2_ratio"
FD, IS, COV = "frechet_distance", "inception_score", "class_coverage"
FLUCT = "fluctuation"
COLUMNS = {  # (key, label, format, lower is better)
    "points": ((HQ, "HQ fraction", ".3f", False), (MODES, "modes captured", ".1f", False),
               (HELD, "modes ≥ 10 % share", ".1f", False), (KL, "reverse KL (nats)", ".2f", True),
               (W2R, "W2 ratio", ".2f", True)),
    "images": ((FD, "Fréchet distance", ".2f", True), (IS, "IS analogue", ".2f", False),
               (COV, "classes covered", ".1f", False)),
}
HEADLINE = {"points": (HQ, ".3f", False), "images": (FD, ".2f", True)}
NAMES = {HQ: "HQ fraction", FD: "Fréchet distance"}
PAIRS = [(label, NS) for label in LABELS if label != NS] + [(WGP, WCLIP), (SN, WGP)]

SOURCE = "003_022cd45cf3221e13.txt"
TITLE = "GAN chapter (book)"
CLAIMS = {
    "collapse": ("有时，GAN 不能为数据的多峰概率分布建模，并且会遭受模式崩溃。",
                 "Sometimes a GAN cannot model the multimodal probability distribution of the data, and suffers "
                 "mode collapse."),
    "never": ("训练稳定性是与 GAN 相关的最大问题之一。 对于某些数据集，由于此类问题，GAN 从未收敛。",
              "Training stability is one of the biggest problems of GANs. On some data sets, because of such "
              "problems, a GAN never converges."),
}
PAPER_CLAIMS = (
    ("lsgan", "Mao et al., *Least Squares Generative Adversarial Networks*, ICCV 2017",
     "least squares GANs generate higher-quality samples than the regular (sigmoid cross-entropy) GAN"),
    ("wgan", "Arjovsky, Chintala & Bottou, *Wasserstein GAN*, ICML 2017",
     "with WGAN the authors saw no mode collapse in any experiment (it reduces mode collapse against the "
     "standard GAN)"),
    ("wgangp", "Gulrajani et al., *Improved Training of Wasserstein GANs*, NeurIPS 2017",
     "the gradient penalty performs better than weight clipping (the WGAN of Arjovsky et al.)"),
    ("sn_cost", "Miyato et al., *Spectral Normalization for Generative Adversarial Networks*, ICLR 2018",
     "spectral normalisation is computationally light, cheaper than the gradient penalty"),
    ("sn_quality", "Miyato et al., ICLR 2018",
     "spectral normalisation gives samples of better or equal quality than earlier stabilisers (here: WGAN-GP)"),
    ("r1", "Mescheder, Geiger & Nowozin, *Which Training Methods for GANs do actually Converge?*, ICML 2018",
     "unregularised GAN training need not converge (it oscillates); the R1 penalty makes it converge"),
)


# ------------------------------------------------------------------------------------- running
def extra_fields(spec):
    """The fields every objective shares on ``spec``: a weight average of G on every set, and on the 2-D
    sets batches of 256."""
    return IMAGE_EXTRA if spec == "digits" else POINT_EXTRA


def config(spec, label, lr, gamma, seed, steps):
    extra = extra_fields(spec)
    r1 = {"r1": gamma} if label == R1 else {}
    return TrainConfig(data=spec, lr=lr, seed=seed, steps=steps, **FIELDS[label], **r1, **extra)


def held(counts):
    """Modes holding at least SHARE of their uniform share of the high-quality samples."""
    counts = np.asarray(counts, dtype=float)
    total = counts.sum()
    return int(np.count_nonzero(counts >= SHARE * total / len(counts))) if total else 0


def run(dataset, spec, label, lr, gamma, seed, steps, marks, n_eval, w2_samples=0, keep_samples=False):
    """One run to ``steps`` steps, evaluated on ``_study.schedule``; with ``w2_samples``, at each read step in
    ``marks`` an evaluation with W2 on that many samples (2-D sets) is kept in ``reads``. A NaN/inf loss
    stops the run."""
    points = dataset.modes is not None
    trainer = Trainer(config(spec, label, lr, gamma, seed, steps), dataset, progress=False)
    at = _study.schedule(steps, marks, EVALS_PER_RUN)
    evals, reads, diverged = [], {}, False
    for target in sorted(set(marks) | {steps}):
        r = _study.train(trainer, target, at, n_eval)
        evals += r["evals"]
        if r["diverged"]:
            diverged = True
            break
        if target in marks and points and w2_samples:
            reads[target] = trainer.evaluate(n_eval, w2_samples=w2_samples)
    for e in evals:
        if points:
            e[HELD] = held(e["counts"])
        e.pop("counts", None)
        e.pop("class_histogram", None)
    out = {"evals": evals, "reads": reads, "steps": trainer.step_count, "diverged": diverged}
    if keep_samples and not diverged:
        out["samples"] = trainer.sample(2000 if points else 64, seed=[seed, 7])
    return out


def fluctuation(result, step, key):
    """Relative fluctuation of ``key`` over the evaluations in the window before ``step``: their standard
    deviation over the magnitude of their mean (the coefficient of variation). Scale-free, so that an
    objective whose scores sit lower (a smaller Fréchet distance) is not credited with smaller swings for
    that alone. None when the run stopped before ``step``, with fewer than two evaluations, or a zero mean."""
    if result["steps"] < step:
        return None
    values = _study.finite(e.get(key) for e in result["evals"] if step - WINDOW * step < e["step"] <= step)
    if len(values) < 2 or float(np.mean(values)) == 0:
        return None
    return float(np.std(values, ddof=1) / abs(np.mean(values)))


def value(result, step, key):
    """The value of ``key`` at read step ``step``: W2 ratio from the read evaluation, else the window mean."""
    if key == W2R:
        r = result["reads"].get(step)
        return None if r is None or r.get(W2R) is None else float(r[W2R])
    return _study.window_mean(result, step, key)


def reference_rows(dataset, n_eval, w2_samples):
    """``_study.reference_rows`` with W2 on ``w2_samples`` samples, as the runs' read steps measure it
    (``reference_rows`` itself scores W2 on evaluate_samples' default 2,500, which also costs up to 20 s
    against uniform noise): its scoring function is swapped for one with that W2 size while it runs."""
    from minigan.gan.evaluation import evaluate_samples

    kept = _study.evaluate_samples
    _study.evaluate_samples = lambda samples, d: evaluate_samples(samples, d, w2_samples=w2_samples)
    try:
        return _study.reference_rows(dataset, n_eval)
    finally:
        _study.evaluate_samples = kept


# ---------------------------------------------------------------------------------------- pilots
def pilots(dataset, spec, steps, n_eval, jobs=1):
    """{label: (lr, γ)} and the pilot table's rows for one data set. The runs of a round (every
    objective's first grid, R1's γ grid, each grid's extension) run side by side with ``jobs``."""
    kind = _study.kind(dataset)
    key, fmt, lower = HEADLINE[kind]
    cache = {}

    def prefetch(keys):
        keys = [k for k in dict.fromkeys(keys) if k not in cache]
        scores = _study.parallel_map(
            lambda k: _study.window_mean(run(dataset, spec, k[0], k[1], k[2], k[3], steps, [steps], n_eval), steps, key), keys, jobs)
        cache.update(zip(keys, scores))

    def score(label, lr, gamma, seed):
        if (label, lr, gamma, seed) not in cache:  # a grid's new value: its pilot seeds side by side
            prefetch([(label, lr, gamma, s) for s in _study.PILOT_SEEDS])
        return cache[(label, lr, gamma, seed)]

    prefetch([(label, lr, 0.0, seed) for label in LABELS if label != R1 for lr in GRIDS[label][kind]
              for seed in _study.PILOT_SEEDS])
    picks, rows = {}, []
    for label in LABELS:
        grid = GRIDS[label][kind]
        if label == R1:
            lr0 = picks[NS][0]
            prefetch([(R1, lr0, g, seed) for g in R1_GAMMAS[kind] for seed in _study.PILOT_SEEDS])
            gamma, scores = _study.pick_lr(R1_GAMMAS[kind], lambda g, s: score(R1, lr0, g, s), lower, extend=EXTEND)
            rows.append([f"{R1}: γ", f"γ at lr {lr0:g}", _study.fmt_pilot(list(scores), scores, gamma),
                         f"γ = {gamma:g}" + (" (at an end)" if _study.at_edge(gamma, scores) else "")])
            print(f"pilot {spec} {rows[-1][0]} ({rows[-1][1]}): {rows[-1][2]}", flush=True)
            prefetch([(R1, lr, gamma, seed) for lr in grid for seed in _study.PILOT_SEEDS])
        else:
            gamma = 0.0
        lr, scores = _study.pick_lr(grid, lambda lr, s: score(label, lr, gamma, s), lower, extend=EXTEND)
        picks[label] = (lr, gamma)
        rows.append([label if label != R1 else f"{R1}: lr", "lr" if label != R1 else f"lr at γ {gamma:g}",
                     _study.fmt_pilot(list(scores), scores, lr),
                     f"{lr:g}" + (" (at an end)" if _study.at_edge(lr, scores) else "")])
        print(f"pilot {spec} {rows[-1][0]} ({rows[-1][1]}): {rows[-1][2]}", flush=True)
    return picks, rows


def step_ms(dataset, spec, picks, rounds):
    """{label: summary of CPU ms per step} of each objective at its pick and the timing-only variants,
    stepped round-robin on one thread."""
    trainers = {label: Trainer(config(spec, label, picks[label][0], picks[label][1], 0, 10 ** 6), dataset,
                               progress=False) for label in LABELS}
    extra = extra_fields(spec)
    for label, fields, like in TIMING_ONLY:
        trainers[label] = Trainer(TrainConfig(data=spec, lr=picks[like][0], seed=0, **fields, **extra), dataset,
                                  progress=False)
    items = [_common.Timed(label, lambda t=t: t.step(grad_norms=False)) for label, t in trainers.items()]
    times = _common.time_interleaved_clocks(items, rounds, warmup=3)
    return {label: _common.summarize(t["cpu"]) for label, t in times.items()}


# ------------------------------------------------------------------------------------------ tables
def view_values(results, at, kind):
    keys = [k for k, _, _, _ in COLUMNS[kind]]
    return {label: {k: [value(r, at[label], k) for r in runs] for k in keys} for label, runs in results.items()}


def study_view(spec, dataset, view, heading, at, values, references, picks, n_seeds, w2_samples):
    """The markdown of one (data set, budget) table and its comparisons table; returns
    (text, comparisons {(a, b): dict}, learned {label: bool})."""
    kind = _study.kind(dataset)
    key, _, lower = HEADLINE[kind]
    learned = {label: _study.learned(v[key], references, key, lower) for label, v in values.items()}
    pairs = [(a, b) for a, b in PAIRS if learned[a] or learned[b]]
    comparisons = _study.compare_pairs({label: v[key] for label, v in values.items()}, pairs, lower) if pairs else {}
    cols = COLUMNS[kind]
    rows = []
    for label, r in references.items():
        rows.append([label, "—", "—"] + [("—" if r.get(k) is None else f"{r[k]:{fmt}}") for k, _, fmt, _ in cols]
                    + ["—", "—"])
    for label in LABELS:
        v = values[label]
        lr, gamma = picks[label]
        hp = f"{lr:g}" + (f", γ {gamma:g}" if label == R1 else "")
        stopped = sum(x is None for x in v[key])
        rows.append([label, hp, f"{at[label]:,}"] + [_study.mean_ci(v[k], fmt) for k, _, fmt, _ in cols]
                    + ["yes" if learned[label] else "not learned yet", f"{stopped}/{len(v[key])}"])
    header = ["objective", "lr", "steps"] + [name for _, name, _, _ in cols] + ["learned", "stopped early"]
    text = (f"### {spec}: {heading}\n\nMean ± 95 % interval over {n_seeds} seeds; "
            + ("HQ, modes and reverse KL are the means over the evaluations in the last 20 % of the steps, W2 ratio "
               f"at the read step on {w2_samples:,} samples. " if kind == "points"
               else "each metric is the mean over the evaluations in the last 20 % of the steps. ")
            + "\n\n" + _study.markdown_table(header, rows))
    crow = []
    for a, b in PAIRS:
        c = comparisons.get((a, b))
        crow.append([f"{a} vs {b}"] + ([f"{c['difference']:+.3g}", _study.fmt_p(c["p"]), _study.fmt_p(c["p_holm"]),
                                        c["verdict"]] if c else ["—", "—", "—", "neither learned"]))
    text += (f"\n\nComparisons on {NAMES[HEADLINE[kind][0]]} ({'lower' if lower else 'higher'} is better), "
             "Δ = first − second paired over seeds, Holm over this table's pairs:\n\n"
             + _study.markdown_table(["pair", "Δ", "p", "Holm p", "verdict"], crow))
    return text, comparisons, learned


def progress_table(spec, dataset, results, ms, references, steps):
    kind = _study.kind(dataset)
    tkey, tval, lower = _study.threshold(spec, references)
    base = min(ms[label]["median"] for label in LABELS)
    rows = []
    for label in LABELS:
        runs = [{"evals": [dict(e, seconds=e["step"] * ms[label]["median"] / 1e3) for e in r["evals"]]}
                for r in results[label]]
        m = ms[label]
        rows.append([label, f"{m['median']:.2f} [{m['p25']:.2f}, {m['p75']:.2f}]", f"{m['median'] / base:.2f}",
                     _study.fmt_reached(runs, tkey, tval, lower, "step"),
                     _study.fmt_reached(runs, tkey, tval, lower, "seconds")])
    for label, _, like in TIMING_ONLY:
        m = ms[label]
        rows.append([label, f"{m['median']:.2f} [{m['p25']:.2f}, {m['p75']:.2f}]", f"{m['median'] / base:.2f}",
                     "—", "—"])
    what = f"HQ ≥ {tval:g}" if kind == "points" else f"FD ≤ {tval:.2f} (the Gaussian's)"
    pen_gp = ms[WGP]["median"] - ms[TIMING_ONLY[0][0]]["median"]
    pen_r1 = ms[R1]["median"] - ms[NS]["median"]
    sn = ms[SN]["median"] - ms[TIMING_ONLY[1][0]]["median"]
    note = (f"The double backward of a penalty costs {pen_gp:.2f} ms per step for WGAN-GP (WGAN-GP − the "
            f"unconstrained Wasserstein loss, {pen_gp / ms[TIMING_ONLY[0][0]]['median']:+.0%}) and {pen_r1:.2f} ms for R1 "
            f"(R1 − non-saturating, {pen_r1 / ms[NS]['median']:+.0%}); spectral normalisation {sn:.2f} ms "
            f"({sn / ms[TIMING_ONLY[1][0]]['median']:+.0%} over the hinge loss alone).")
    header = ["objective", "CPU ms per step, median [p25, p75]", "× cheapest", f"steps to {what}",
              f"seconds to {what}"]
    return (f"### {spec}: cost and progress (first evaluation with {what}, within S = {steps:,} steps)\n\n"
            "CPU ms per step of the process, interleaved on one thread; seconds = steps × median ms. Steps/seconds: "
            "mean ± 95 % interval over the runs that reached it (k/n when not all did).\n\n"
            + _study.markdown_table(header, rows) + "\n\n" + note)


# -------------------------------------------------------------------------------------- verdicts
def verdicts(out, references_of):
    """[claim, verdict, deciding number] rows (rules in the module docstring and README)."""
    rows = []
    undecided = _study.VERDICTS[2]

    # 003: mode collapse, sometimes — ring8, learned objectives at S: runs holding fewer than 8 modes
    r8 = out.get("ring8")
    if r8:
        learned = [label for label in LABELS if r8["steps"][2][label]]
        counts = {label: [h for h in r8["values"]["steps"][label][HELD] if h is not None] for label in learned}
        few = {label: sum(h < 8 for h in c) for label, c in counts.items()}
        n_runs = sum(len(c) for c in counts.values())
        k = sum(few.values())
        verdict = "supported" if k else undecided
        rows.append(["003: GANs sometimes suffer mode collapse (ring8)", verdict,
                     f"{k} of {n_runs} runs of the learned objectives hold < 8 modes (≥ 10 % share) at S"
                     + (f" (non-saturating: {few[NS]}/{len(counts[NS])}, modes held "
                        f"{_study.mean_ci(counts[NS], '.1f')} of 8)" if NS in few else "")])
    # 003: on some data sets a GAN never converges
    reach = []
    for spec in SPECS:
        if spec in out:
            o = out[spec]
            tkey, tval, lower = _study.threshold(spec, references_of[spec])
            hits = sum(_study.reached(r, tkey, tval, lower)[0] is not None for r in o["results"][NS])
            reach.append((spec, hits, len(o["results"][NS])))
    # The claim is existential: a data set on which no run of the standard (non-saturating) GAN reaches
    # the progress threshold within S supports it (at this budget); data sets on which it learns cannot
    # contradict "on some data sets", so otherwise it is not decided.
    failed = [s for s, h, n in reach if n and h == 0]
    rows.append(["003: on some data sets a GAN never converges", "supported" if failed else undecided,
                 "non-saturating runs reaching the progress threshold within S: "
                 + ", ".join(f"{s} {h}/{n}" for s, h, n in reach)
                 + (f" (none on {', '.join(failed)}: 'never' at this budget)" if failed
                    else " (learning on these data sets cannot contradict 'on some data sets')")])

    def quality(a, b, what):
        found, numbers = [], []
        for spec in ("ring8", "digits"):
            if spec not in out:
                continue
            for view in ("steps", "time"):
                c = out[spec][view][1].get((a, b))
                if c is None:
                    numbers.append(f"{spec} {view}: neither learned")
                    continue
                found.append(c["verdict"])
                numbers.append(f"{spec} equal {view}: Δ {_study.fmt_comparison(c)}")
        better, worse = "better" in found, "worse" in found
        verdict = "supported" if better and not worse else "contradicted" if worse and not better else undecided
        return [what, verdict, "; ".join(numbers)]

    rows.append(quality(LS, NS, "Mao et al.: least squares beats the non-saturating GAN"))
    # WGAN: less mode collapse than the standard GAN — modes held at S on ring8
    if r8:
        c = r8.get("held")
        if c is None:
            rows.append(["Arjovsky et al.: WGAN (clipping) reduces mode collapse (ring8)", undecided,
                         "WGAN with clipping not learned: HQ "
                         + _study.mean_ci(r8["values"]["steps"][WCLIP][HQ], ".3f")
                         + f" vs chance {_study.chance_value(references_of['ring8'], HQ, False):.3f}"])
        else:
            v = c["verdict"]
            rows.append(["Arjovsky et al.: WGAN (clipping) reduces mode collapse (ring8)",
                         "supported" if v == "better" else "contradicted" if v == "worse" else undecided,
                         f"Δ modes ≥ 10 % share vs non-saturating at S: {_study.fmt_comparison(c)}"])
    rows.append(quality(WGP, WCLIP, "Gulrajani et al.: the gradient penalty beats weight clipping"))
    # SN cheaper than GP: interquartile ranges of the interleaved timings disjoint on every data set
    parts, cheaper, dearer = [], [], []
    for spec in ("ring8", "digits"):
        if spec in out:
            ms = out[spec]["ms"]
            sn, gp = ms[SN], ms[WGP]
            parts.append(f"{spec}: {sn['median']:.2f} vs {gp['median']:.2f} ms per step "
                         f"(ratio {sn['median'] / gp['median']:.2f})")
            cheaper.append(sn["p75"] < gp["p25"])
            dearer.append(sn["p25"] > gp["p75"])
    verdict = "supported" if cheaper and all(cheaper) else "contradicted" if any(dearer) else undecided
    rows.append(["Miyato et al.: spectral norm is cheaper than the gradient penalty", verdict,
                 "hinge + SN vs WGAN-GP (both n_critic 1), interquartile ranges: " + "; ".join(parts)])
    rows.append(quality(SN, WGP, "Miyato et al.: spectral norm gives better or equal samples than WGAN-GP"))
    # R1: converges — smaller late fluctuation than the non-saturating GAN
    found, numbers = [], []
    for spec in ("ring8", "digits"):
        if spec in out and out[spec].get("fluct"):
            c = out[spec]["fluct"]
            found.append(c["verdict"])
            numbers.append(f"{spec}: Δ relative fluctuation {_study.fmt_comparison(c)}")
        elif spec in out:
            numbers.append(f"{spec}: not learned")
    better, worse = "better" in found, "worse" in found
    rows.append(["Mescheder et al.: R1 makes training converge (less late relative fluctuation)",
                 "supported" if better and not worse else "contradicted" if worse and not better else undecided,
                 "; ".join(numbers)])
    return rows


# ------------------------------------------------------------------------------------------ figures
def samples_figure(out, datasets, args):
    plt = _study.plt
    specs = [s for s in SPECS if s in out]
    fig, axes = plt.subplots(len(specs), len(LABELS), figsize=(2.6 * len(LABELS), 2.7 * len(specs)), squeeze=False)
    for i, spec in enumerate(specs):
        d = datasets[spec]
        for j, label in enumerate(LABELS):
            ax = axes[i][j]
            r = out[spec]["results"][label][0]
            s = r.get("samples")
            if d.modes is not None:
                real = d.x[:2000]
                ax.scatter(real[:, 0], real[:, 1], s=1, c="0.75", label="data")
                if s is not None:
                    ax.scatter(s[:, 0], s[:, 1], s=1, c="C3", alpha=0.5, label="G")
                lim = float(np.abs(d.x).max()) * 1.4
                ax.set_xlim(-lim, lim)
                ax.set_ylim(-lim, lim)
                ax.set_aspect("equal")
                ax.tick_params(labelsize=6)
                ax.set_xlabel("x₁", fontsize=7)
                ax.set_ylabel("x₂", fontsize=7)
            else:
                h, w = d.image_shape
                if s is not None:
                    tiles = np.zeros((64, h + 1, w + 1))  # a blank row and column between the images
                    tiles[:, :h, :w] = np.clip(s[:64], 0, 1).reshape(64, h, w)
                    grid = tiles.reshape(8, 8, h + 1, w + 1).transpose(0, 2, 1, 3).reshape(8 * (h + 1), 8 * (w + 1))
                    ax.imshow(grid, cmap="gray_r", vmin=0, vmax=1)
                ax.set_xticks([])
                ax.set_yticks([])
            ax.set_title(f"{spec}: {label}" + ("" if s is not None else " (diverged)"), fontsize=7)
    fig.suptitle("Samples of seed 0 at S steps (2-D: 2,000 samples in red over the data in grey; digits: 64 "
                 "samples from the EMA of G)", fontsize=9)
    fig.tight_layout()
    return _study.save_figure(fig, args, f"{NAME}_samples")


def metrics_figure(out, datasets, references_of, args):
    plt = _study.plt
    specs = [s for s in SPECS if s in out]
    fig, axes = plt.subplots(len(specs), 3, figsize=(18, 4.3 * len(specs)), squeeze=False)
    for i, spec in enumerate(specs):
        kind = _study.kind(datasets[spec])
        key, _, lower = HEADLINE[kind]
        refs = references_of[spec]
        ms = out[spec]["ms"]
        for j, label in enumerate(LABELS):
            color = f"C{j}"
            runs = out[spec]["results"][label]
            for col, scale in ((0, 1.0), (1, ms[label]["median"] / 1e3)):
                ax = axes[i][col]
                for r in runs:
                    ax.plot([e["step"] * scale for e in r["evals"]], [e.get(key) for e in r["evals"]], color=color,
                            lw=0.5, alpha=0.35)
                longest = max((r["evals"] for r in runs), key=len)
                mean, _ = _study.band([[e.get(key) for e in r["evals"]] for r in runs])
                ax.plot(np.asarray([e["step"] for e in longest][:len(mean)]) * scale, mean, color=color, lw=2,
                        label=f"{label} (mean)")
        chance = _study.chance_value(refs, key, lower)
        data = refs["data"][key]
        for ax in axes[i][:2]:
            ax.axhline(chance, color="k", ls="--", lw=1, label=f"chance {chance:.3g}")
            ax.axhline(data, color="k", ls="-", lw=1, label=f"data {data:.3g}")
            ax.set_yscale("log")
            if kind == "points":
                ax.set_ylim(1e-3, 1.5)  # chance (~0.01), the runs and the data (0.99) all readable
            ax.set_ylabel(("high-quality fraction (log scale)" if kind == "points"
                           else "Fréchet distance (log scale)"))
        axes[i][0].axvline(out[spec]["S"], color="gray", lw=0.8, ls="-.")
        axes[i][1].axvline(out[spec]["T"], color="gray", lw=0.8, ls="-.")
        axes[i][0].set_xlabel("steps (G updates); dash-dot: S")
        axes[i][1].set_xlabel("training seconds (steps × interleaved CPU ms per step); dash-dot: T")
        axes[i][0].set_title(f"{spec}: against steps (thin: each seed; thick: mean)", fontsize=9)
        axes[i][1].set_title(f"{spec}: against training time", fontsize=9)
        axes[i][0].legend(fontsize=6, loc="best")
        names = LABELS + [label for label, _, _ in TIMING_ONLY]
        ax = axes[i][2]
        med = [ms[n]["median"] for n in names]
        err = [[ms[n]["median"] - ms[n]["p25"] for n in names], [ms[n]["p75"] - ms[n]["median"] for n in names]]
        ax.barh(range(len(names)), med, xerr=err, color=[f"C{k}" for k in range(len(LABELS))] + ["0.6"] * 2)
        ax.set_yticks(range(len(names)))
        ax.set_yticklabels(names, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel("CPU ms per step (median, bars: interquartile range)")
        ax.set_title(f"{spec}: cost of a step", fontsize=9)
    fig.tight_layout()
    return _study.save_figure(fig, args, NAME)


# ------------------------------------------------------------------------------------------ main
def main(argv=None):
    args = _study.parser(NAME, __doc__, jobs=True).parse_args(argv)
    budget = QUICK if args.quick else FULL
    seed_list = _study.seeds(args)
    datasets = {spec: load_dataset(spec) for spec in SPECS}
    references_of, out, picks_of, pilot_sections = {}, {}, {}, []
    for spec in SPECS:
        dataset = datasets[spec]
        kind = _study.kind(dataset)
        s = budget["steps"][spec]
        n_eval = _study.eval_samples(dataset, args.quick)
        references = reference_rows(dataset, n_eval, budget["w2_samples"])
        if kind == "points":
            for r in references.values():
                r[HELD] = held(r["counts"])
        references_of[spec] = references
        if PILOTED[spec] == spec:
            picks_of[spec], rows = pilots(dataset, spec, s, n_eval, args.jobs)
            key = HEADLINE[kind][0]
            pilot_sections.append(
                f"### {spec}: learning rates (and R1's γ), {NAMES[key]} at S = {s:,} steps on pilot seeds "
                f"{', '.join(map(str, _study.PILOT_SEEDS))} (pick in bold; — a run that stopped on a NaN)\n\n"
                + _study.markdown_table(["objective", "what is piloted", "value: score per pilot seed", "pick"], rows))
        picks = picks_of[PILOTED[spec]]
        ms = step_ms(dataset, spec, picks, budget["timing_rounds"][kind])
        base = min(ms[label]["median"] for label in LABELS)
        at_time = {label: max(1, int(s * base / ms[label]["median"])) for label in LABELS}
        at_steps = {label: s for label in LABELS}
        results = _study.across_seeds(
            LABELS, seed_list,
            lambda label, seed: run(dataset, spec, label, picks[label][0], picks[label][1], seed, s,
                                    sorted({s, at_time[label]}), n_eval, budget["w2_samples"],
                                    keep_samples=(seed == seed_list[0])), args.jobs)
        print(f"final runs {spec}: done", flush=True)
        t = s * base / 1e3
        o = {"results": results, "ms": ms, "values": {}, "picks": picks, "S": s, "T": t}
        for view, heading, at in (
                ("steps", f"equal gradient evaluations, every objective after S = {s:,} steps", at_steps),
                ("time", f"equal wall time, T = {t:.2f} s of CPU time (S steps of the cheapest objective); "
                         "steps = n_T, the steps that fit in T", at_time)):
            o["values"][view] = view_values(results, at, kind)
            o[view] = study_view(spec, dataset, view, heading, at, o["values"][view], references, picks,
                                 len(seed_list), budget["w2_samples"])
        # the claims' second family: WGAN's modes held (2-D) or classes covered (digits) at S, and R1's
        # late fluctuation of the headline metric, each against the non-saturating GAN
        key, _, lower = HEADLINE[kind]
        learned = o["steps"][2]
        fam, pairs = {}, []
        cover = HELD if kind == "points" else COV
        fam[("cover", WCLIP)] = o["values"]["steps"][WCLIP][cover]
        fam[("cover", NS)] = o["values"]["steps"][NS][cover]
        if learned[WCLIP] and learned[NS]:
            pairs.append((("cover", WCLIP), ("cover", NS)))
        fam[("fluct", R1)] = [fluctuation(r, s, key) for r in results[R1]]
        fam[("fluct", NS)] = [fluctuation(r, s, key) for r in results[NS]]
        if learned[R1] and learned[NS]:
            pairs.append((("fluct", R1), ("fluct", NS)))
        second = {}
        for (a, b), c in (_study.compare_pairs(fam, pairs, lower_is_better=False).items() if pairs else []):
            if a[0] == "fluct":  # a smaller fluctuation is better
                c = dict(c, verdict=({"better": "worse", "worse": "better"}.get(c["verdict"], c["verdict"])))
            second[a[0]] = c
        o["held"], o["fluct"] = second.get("cover"), second.get("fluct")
        crow = [[f"{WCLIP} vs {NS}: {'modes ≥ 10 % share' if kind == 'points' else 'classes covered'} at S",
                 _study.mean_ci(fam[("cover", WCLIP)], ".2f"), _study.mean_ci(fam[("cover", NS)], ".2f"),
                 _study.fmt_comparison(o["held"]) if o["held"] else "not compared (one is not learned)"],
                [f"{R1} vs {NS}: relative fluctuation (sd / mean) of {NAMES[key]} in the last 20 % of S",
                 _study.mean_ci(fam[("fluct", R1)], ".3g"), _study.mean_ci(fam[("fluct", NS)], ".3g"),
                 _study.fmt_comparison(o["fluct"]) if o["fluct"] else "not compared (one is not learned)"]]
        o["claims"] = (f"### {spec}: mode coverage and late fluctuation at S = {s:,} steps\n\nMean ± 95 % interval; "
                       "Δ paired over seeds, Holm over these two; for the relative fluctuation smaller is better.\n\n"
                       + _study.markdown_table(["comparison", "first", "second", "Δ (Holm p): verdict"], crow))
        o["progress"] = progress_table(spec, dataset, results, ms, references, s)
        out[spec] = o

    header = (f"## Which objective? Non-saturating, least squares, WGAN (clipping), WGAN-GP, hinge + SN, R1 on "
              f"{', '.join(SPECS)} — {len(seed_list)} seeds" + ("  (--quick)" if args.quick else ""))
    claims = "\n\n".join(_study.claim(SOURCE, TITLE, zh, en) for zh, en in CLAIMS.values())
    claims += "\n\nThe papers' claims (not in the reference texts):\n\n" + "\n".join(
        f"- {text} — {cite}" for _, cite, text in PAPER_CLAIMS)
    sections = [header, "### Claims\n\n" + claims] + pilot_sections
    for spec in SPECS:
        o = out[spec]
        sections += [o["steps"][0], o["time"][0], o["claims"], o["progress"]]
    sections.append("### Verdicts\n\n" + _study.markdown_table(["claim", "verdict", "deciding numbers"],
                                                                verdicts(out, references_of)))
    _study.write_report(args, NAME, sections)
    metrics_figure(out, datasets, references_of, args)
    samples_figure(out, datasets, args)


if __name__ == "__main__":
    main()
