"""Study: what do labels buy a GAN? Unconditional, concat, projection and AC-GAN conditioning and an
InfoGAN code on digits; stacked digits (1,000 modes) with and without packing.

    python examples/conditional.py [--quick] [--seeds N] [--out DIR] [--jobs J]

**Claims under test.** From the reference texts (quoted in Chinese in the report): the BatchNorm text
(``000``) describes the generator's output as a function of random noise *and a condition such as a
label*; the batch-gradient-descent text (``001``) says that variants such as conditional GANs and
InfoGANs can solve some of the GAN's problems — the problems it names are mode collapse (samples
lacking diversity) and slow convergence; the GAN chapter (``003``) calls the GAN an unsupervised
method that learns an internal representation of the data from unlabelled data. The papers' own
claims, in English with their citations: the projection discriminator gives better class-conditional
samples than concatenating the label to D's input (Miyato & Koyama, 2018); AC-GAN's auxiliary
classifier makes samples more recognisable as their class (Odena et al., 2017); InfoGAN's categorical
code recovers the digit classes with 5 % error on MNIST (Chen et al., 2016); packing reduces mode
collapse (Lin et al., PacGAN, 2018).

**Variants** (``DIGITS``, ``STACKED``; ``minigan.gan.conditioning``). Digits: unconditional; concat
(the one-hot label joins z in G and x in D); projection (G as concat, D's score adds ⟨embed(y), φ(x)⟩);
AC-GAN (G as concat, D an auxiliary classifier head, cross-entropy weight 1 in both losses); InfoGAN
(a 10-value categorical code joins z, a head Q with its own 128-unit hidden layer on D's features
predicts it, weight λ = 1; never shown a label). Stacked digits: the non-saturating GAN without
packing and with PacGAN's m = 2 (D judges two samples at once). Networks are the trainer's defaults
(digits: G 100(+10)→500→500→64 with BN, D 64(+10)→500→500→1; stacked: 192 outputs/inputs), all
LeakyReLU 0.2, non-saturating loss, Adam β = (0.5, 0.999), batch 64, samples from an exponential
moving average of G's weights (decay 0.999; no lr decay, so a run read at step n equals a run of n
steps).

**Learning rates.** Each variant's lr is picked from ``LR_GRID`` on the pilot seeds
``_study.PILOT_SEEDS`` by its headline metric (Fréchet distance on digits, InfoGAN by its code
accuracy — what it is for — and KL of the triples' histogram to uniform on stacked digits), each the
mean over the evaluations in the last 20 % of its budget; a pick at an end of the grid grows it once by
the grid's ratio there (``_study.pick_lr(extend=1)``); then 5 fresh seeds (0–4). On stacked digits a
pilot run whose channel Fréchet distance is not below the Gaussian's (not learned, see Metrics) scores
nothing, like a diverged run: no GAN here reaches the KL of that Gaussian, so KL alone would reward a
learning rate for noise that the classifier reads as evenly spread digits.

**Budgets.** S = 3,000 steps on digits (the conditional default run's), InfoGAN continuing to
S_info = 6,000 (the steps of the InfoGAN target in the README; its other numbers are read at S like
everyone's), S = 6,000 on stacked digits. A first full run at S = 3,000 on stacked digits (commit
8e73c14) left both variants "not learned": channel FD 7.48 ± 1.68 and 9.27 ± 0.61 against the
Gaussian's 7.80, at the pick of a KL-only pilot (lr 1.2e-3); a design pilot (seed 1000, lr 2e-4, no
packing) reached 5.8 at 3,000 steps, 3.5 at 6,000 and 1.2 at 10,000 (2.9 at 6,000 with packing), and
10,000 steps did not fit the budget. Equal gradient evaluations = equal steps S. Equal wall time:
T = S × the cheapest variant's ms per step, each read at n_T = S · ms(cheapest) / ms(variant) steps.
The ms per step are medians of interleaved rounds on one thread (``benchmarks/_common``, CPU time of the
process).

**Metrics** (``minigan.gan.evaluation``). Digits, 2,000 samples per evaluation (a conditional run's
drawn for the classes in turn, an InfoGAN run's codes spread evenly): Fréchet distance of the digit
classifier's features (the ranking metric), IS analogue, KL of the histogram of classes the classifier
reads to uniform and the classes covered (mode collapse between classes), label agreement (the share of
samples the classifier reads as the label they were drawn for), the worst label's agreement (per-class
coverage), the Fréchet distance per class averaged (quality within a class), and InfoGAN's code
accuracy (the share of samples whose class is the one matched to their code value by the best
one-to-one assignment). Stacked digits, 26,000 samples (the Stacked-MNIST protocol): the digit triples
that appear (of 1,000), the KL of the triples' histogram to uniform (the ranking metric), and the
channel Fréchet distance (every channel of every sample against the real digits: their quality, which
the first two cannot see — a Gaussian fitted to the pixels hits nearly every triple). Every
metric at step n is the mean over the evaluations in (0.8 n, n]. Reference rows are scored the same way
(``_study.reference_samples``): a chance generator ignores its label (asked for the classes in turn,
agreement 1/10) and its code (random codes); the data row's images are asked for their own labels and
coded by them (agreement and code accuracy = the classifier's accuracy).

**Statistics.** Mean ± 95 % Student-t interval over 5 seeds; paired comparisons over seeds
(``_study.compare_pairs``), Holm-corrected within each family: on FD every variant against the
unconditional GAN, projection and AC-GAN against concat; label agreement, per-class FD (AC-GAN and
projection against concat) and class KL (each variant against the unconditional GAN) as three more
families; packing against none on KL and on modes. A configuration not clearly on the data side of
chance on the Fréchet distance (digits) or the channel Fréchet distance (stacked digits) is "not
learned yet" and not compared.

**Verdicts.** 000 (the label is an input G follows) is supported when every conditional variant's label
agreement lies above chance, contradicted when none does. 001 (conditional GANs and InfoGAN solve some
of the GAN's problems) is read on class KL (mode collapse) and FD at equal steps (convergence) against
the unconditional GAN: supported when some variant is better and none worse, contradicted in the
mirror case. 003 (a GAN learns the data's structure without labels) is supported when InfoGAN's code
accuracy at S_info lies above chance. Chen et al.'s 5 % error is contradicted when the interval of the
code accuracy at S_info lies below 95 %, supported when its mean reaches 95 %, otherwise not decided.
Miyato & Koyama on per-class FD, Odena et al. on label agreement (each against concat) and PacGAN on KL
(against no packing) are supported when the comparison is "better" at equal steps or equal time and
"worse" in neither, contradicted in the mirror case.

**Budget** (measured): see examples/README.md.
"""

import numpy as np

import _study
from benchmarks import _common
from minigan.data import load_dataset
from minigan.gan.evaluation import code_metrics, conditional_metrics, evaluate_samples
from minigan.gan.trainer import TrainConfig, Trainer

NAME = "conditional"
UNCOND, CONCAT, PROJ, ACGAN, INFO = ("unconditional", "concat", "projection", "AC-GAN", "InfoGAN (10-value code)")
NOPACK, PACK2 = "no packing", "packing m = 2"
DIGITS = ((UNCOND, {}), (CONCAT, {"conditional": "concat"}), (PROJ, {"conditional": "projection"}),
          (ACGAN, {"conditional": "acgan"}), (INFO, {"info_cat": 10}))
STACKED = ((NOPACK, {}), (PACK2, {"pack": 2}))
SECTIONS = {"digits": DIGITS, "stacked-digits": STACKED}
CONDITIONAL = (CONCAT, PROJ, ACGAN)
LR_GRID = (1e-4, 2e-4, 5e-4)
EXTRA = {"g_ema": 0.999}
EXTEND = 1
FULL = {"steps": {"digits": 3000, "stacked-digits": 6000}, "info_steps": 6000, "timing_rounds": 20,
        "eval_samples": {"digits": 2000, "stacked-digits": 26000}, "evals": {"digits": 20, "stacked-digits": 10}}
QUICK = {"steps": {"digits": 8, "stacked-digits": 6}, "info_steps": 12, "timing_rounds": 2,
         "eval_samples": {"digits": 300, "stacked-digits": 2000}, "evals": {"digits": 4, "stacked-digits": 2}}
FD, IS, CKL, COV = "frechet_distance", "inception_score", "kl_to_uniform", "class_coverage"
AGR, WORST, PCFD, CODE, MODES, CFD = ("label_agreement", "worst_label_agreement", "per_class_frechet_distance",
                                      "info_code_accuracy", "modes", "channel_frechet_distance")
COLUMNS = {  # (key, label, format, lower is better)
    "digits": ((FD, "Fréchet distance", ".2f", True), (IS, "IS analogue", ".2f", False),
               (CKL, "class KL to uniform (nats)", ".3f", True), (COV, "classes covered", ".1f", False),
               (AGR, "label agreement", ".3f", False), (WORST, "worst label's agreement", ".3f", False),
               (PCFD, "per-class FD", ".2f", True), (CODE, "code accuracy", ".3f", False)),
    "stacked-digits": ((CKL, "KL to uniform over triples (nats)", ".3f", True),
                       (MODES, "modes (of 1,000)", ".1f", False), (CFD, "channel FD", ".2f", True)),
}
FORMATS = {spec: {k: (fmt, lower) for k, _, fmt, lower in cols} for spec, cols in COLUMNS.items()}
HEADLINE = {"digits": FD, "stacked-digits": CKL}  # what variants are ranked (and lrs picked) by
# What says a variant has learned (clearly on the data side of chance): on stacked digits not the mode
# count or KL, which a Gaussian fitted to the pixels scores nearly as well as the data, but the digits'
# quality.
LEARNED = {"digits": FD, "stacked-digits": CFD}
NAMES = {FD: "Fréchet distance", CKL: "KL to uniform", CODE: "code accuracy", CFD: "channel Fréchet distance"}
PROGRESS = {"digits": (FD, "chance", True), "stacked-digits": (CFD, "chance", True)}
CODE_CLAIM = 0.95  # Chen et al.: 5 % error on MNIST

SOURCES = {"000": ("000_24081a0f7aa74c5f.txt", "BatchNorm in GANs"),
           "001": ("001_b0e18d4515047b82.txt", "Batch gradient descent in GANs"),
           "003": ("003_022cd45cf3221e13.txt", "GAN chapter (book)")}
CLAIMS = {
    "000": ("生成器的输出通常是随机噪声和条件信息（如标签）的函数。",
            "The generator's output is usually a function of random noise and condition information (such as "
            "a label)."),
    "001": ("此外，一些研究人员正在尝试使用生成对抗网络的变体，如Conditional GANs（有条件的GANs）和InfoGANs"
            "（信息GANs），来解决GANs中的一些问题。",
            "In addition, some researchers are trying variants of generative adversarial networks, such as "
            "Conditional GANs and InfoGANs, to solve some of the problems of GANs. (The problems the section "
            "names: mode collapse — samples lacking diversity — and slow convergence.)"),
    "003": ("GAN 是一种无监督的学习方法 ：获取带标签的数据是一个手动过程，需要花费大量时间。 GAN 不需要标签数据； "
            "当他们学习数据的内部表示时，可以使用未标记的数据来训练他们。",
            "A GAN is an unsupervised learning method: obtaining labelled data is a manual process that takes a "
            "lot of time. GANs do not need labelled data; as they learn an internal representation of the data, "
            "they can be trained on unlabelled data."),
}
PAPER_CLAIMS = (
    ("Miyato & Koyama, *cGANs with Projection Discriminator*, ICLR 2018",
     "the projection discriminator gives better class-conditional samples than concatenating the label to D's "
     "input"),
    ("Odena, Olah & Shlens, *Conditional Image Synthesis with Auxiliary Classifier GANs*, ICML 2017",
     "the auxiliary classifier makes the samples more recognisable as their class"),
    ("Chen et al., *InfoGAN: Interpretable Representation Learning by Information Maximizing Generative "
     "Adversarial Nets*, NeurIPS 2016",
     "the categorical code recovers the digit classes with 5 % error on MNIST"),
    ("Lin, Khetan, Fanti & Oh, *PacGAN: The Power of Two Samples in Generative Adversarial Networks*, "
     "NeurIPS 2018", "packing (D judging m samples at once) reduces mode collapse"),
)


# ------------------------------------------------------------------------------------- running
def config(spec, label, lr, seed, steps):
    return TrainConfig(data=spec, lr=lr, seed=seed, steps=steps, **dict(SECTIONS[spec])[label], **EXTRA)


PER_LABEL = "label_agreement_per_label"


def tidy(evaluation):
    """An evaluation's scalars and per-label agreement, with the worst label's agreement added (other lists
    and histograms dropped)."""
    e = {k: v for k, v in evaluation.items() if k == PER_LABEL or not isinstance(v, (list, tuple, np.ndarray))}
    per_label = evaluation.get(PER_LABEL)
    values = _study.finite(per_label or [])
    e[WORST] = min(values) if values else None
    return e


def run(dataset, spec, label, lr, seed, steps, marks, n_eval, per_run, keep_samples=False):
    """One run to ``steps`` steps, evaluated on ``_study.schedule`` around the read steps ``marks``; a
    NaN/inf loss stops it. With ``keep_samples``, the picture's samples of the last step."""
    trainer = Trainer(config(spec, label, lr, seed, steps), dataset, progress=False)
    r = _study.train(trainer, steps, _study.schedule(steps, marks, per_run), n_eval)
    out = {"evals": [tidy(e) for e in r["evals"]], "steps": trainer.step_count, "diverged": r["diverged"]}
    if keep_samples and not r["diverged"]:
        out["samples"] = picture_samples(trainer, spec, label, seed)
    return out


PER_ROW = 8


def picture_samples(trainer, spec, label, seed):
    """Samples for the figure: on digits 10 rows of PER_ROW, one row per class (conditional) or per code
    value (InfoGAN); on stacked digits 64."""
    rows = np.repeat(np.arange(10), PER_ROW)
    if spec != "digits":
        return trainer.sample(64, seed=[seed, 7])
    if label in CONDITIONAL:
        return trainer.sample(len(rows), seed=[seed, 7], labels=rows)
    if label == INFO:
        return trainer.sample(len(rows), seed=[seed, 7], info_cat=rows)
    return trainer.sample(len(rows), seed=[seed, 7])


def step_ms(dataset, spec, picks, rounds):
    """{label: summary of CPU ms per step} of each variant at its pick, stepped round-robin on one thread."""
    items = []
    for label, _ in SECTIONS[spec]:
        trainer = Trainer(config(spec, label, picks[label], 0, 10 ** 6), dataset, progress=False)
        items.append(_common.Timed(label, lambda t=trainer: t.step(grad_norms=False)))
    times = _common.time_interleaved_clocks(items, rounds, warmup=3)
    return {label: _common.summarize(t["cpu"]) for label, t in times.items()}


# ----------------------------------------------------------------------------------- references
def references(dataset, spec, n):
    """The reference rows of ``_study.reference_samples`` scored like the runs: on digits also label
    agreement, per-class FD and code accuracy — a chance row asked for the classes in turn and given
    random codes (it ignores both), the data and calibration rows asked for and coded by their own
    classes."""
    rows = {}
    rng = np.random.default_rng(2024)
    for label, (x, classes) in _study.reference_samples(dataset, n).items():
        x = x.astype(np.float32)
        r = evaluate_samples(x, dataset)
        if spec == "digits":
            k = int(np.max(dataset.labels)) + 1
            asked = classes if classes is not None else np.arange(n) % k
            codes = classes if classes is not None else rng.integers(0, k, size=n)
            r.update(conditional_metrics(x, asked, dataset))
            r.update(code_metrics(x, codes, k, dataset))
        rows[label] = tidy(r)
    return rows


# ---------------------------------------------------------------------------------------- pilots
def headline(spec, label):
    """(key, lower is better) of the metric a variant's lr is picked by."""
    if label == INFO:
        return CODE, False
    return HEADLINE[spec], FORMATS[spec][HEADLINE[spec]][1]


def pilots(dataset, spec, steps_of, n_eval, per_run, refs, jobs=1):
    """{label: lr} and the pilot table's rows for one data set; every round of runs side by side. On stacked
    digits a pilot run whose digits are no better than chance (channel FD not below the Gaussian's) scores
    None, like a run that diverged: its KL says nothing (the Gaussian's is lower than any GAN's)."""
    cache = {}
    quality = LEARNED[spec] if LEARNED[spec] != HEADLINE[spec] else None
    floor = _study.chance_value(refs, quality, True) if quality else None

    def prefetch(keys):
        keys = [k for k in dict.fromkeys(keys) if k not in cache]

        def one(k):
            label, lr, seed = k
            s = steps_of[label]
            r = run(dataset, spec, label, lr, seed, s, [s], n_eval, per_run)
            if quality:
                q = _study.window_mean(r, s, quality)
                if q is None or not q < floor:
                    return None
            return _study.window_mean(r, s, headline(spec, label)[0])

        cache.update(zip(keys, _study.parallel_map(one, keys, jobs)))

    def score(label, lr, seed):
        if (label, lr, seed) not in cache:  # a grid's new value: its pilot seeds side by side
            prefetch([(label, lr, s) for s in _study.PILOT_SEEDS])
        return cache[(label, lr, seed)]

    labels = [label for label, _ in SECTIONS[spec]]
    prefetch([(label, lr, seed) for label in labels for lr in LR_GRID for seed in _study.PILOT_SEEDS])
    picks, rows = {}, []
    for label in labels:
        key, lower = headline(spec, label)
        lr, scores = _study.pick_lr(LR_GRID, lambda lr, s: score(label, lr, s), lower, extend=EXTEND)
        picks[label] = lr
        rows.append([label, f"{NAMES[key]} at {steps_of[label]:,} steps", _study.fmt_pilot(list(scores), scores, lr),
                     f"{lr:g}" + (" (at an end)" if _study.at_edge(lr, scores) else "")])
        print(f"pilot {spec} {label}: {rows[-1][2]}", flush=True)
    return picks, rows


# ------------------------------------------------------------------------------------------ tables
def view_values(spec, results, at):
    keys = [k for k, _, _, _ in COLUMNS[spec]]
    return {label: {k: [_study.window_mean(r, at[label], k) for r in runs] for k in keys}
            for label, runs in results.items()}


def families(spec, values, learned):
    """The comparisons of one view: {family: {(a, b): dict}}, each family Holm-corrected on its own."""
    fams = {}
    if spec == "digits":
        specs = {FD: [(label, UNCOND) for label, _ in DIGITS if label != UNCOND] + [(PROJ, CONCAT), (ACGAN, CONCAT)],
                 AGR: [(PROJ, CONCAT), (ACGAN, CONCAT)], PCFD: [(PROJ, CONCAT), (ACGAN, CONCAT)],
                 CKL: [(label, UNCOND) for label, _ in DIGITS if label != UNCOND]}
    else:
        specs = {CKL: [(PACK2, NOPACK)], MODES: [(PACK2, NOPACK)]}
    for key, pairs in specs.items():
        pairs = [(a, b) for a, b in pairs if learned[a] and learned[b]]
        lower = FORMATS[spec][key][1]
        fams[key] = _study.compare_pairs({label: v[key] for label, v in values.items()}, pairs, lower) if pairs else {}
    return fams


def study_view(spec, heading, at, values, refs, picks, n_seeds):
    """(markdown, families, learned) of one (data set, budget) view."""
    key = LEARNED[spec]
    lower = FORMATS[spec][key][1]
    learned = {label: _study.learned(v[key], refs, key, lower) for label, v in values.items()}
    cols = COLUMNS[spec]
    rows = [[label, "—", "—"] + [("—" if r.get(k) is None else f"{r[k]:{fmt}}") for k, _, fmt, _ in cols] + ["—", "—"]
            for label, r in refs.items()]
    for label, _ in SECTIONS[spec]:
        v = values[label]
        stopped = sum(x is None for x in v[key])
        rows.append([label, f"{picks[label]:g}", f"{at[label]:,}"] + [_study.mean_ci(v[k], fmt) for k, _, fmt, _ in cols]
                    + ["yes" if learned[label] else "not learned yet", f"{stopped}/{len(v[key])}"])
    header = ["variant", "lr", "steps"] + [name for _, name, _, _ in cols] + ["learned", "stopped early"]
    fams = families(spec, values, learned)
    crow = []
    for k, comps in fams.items():
        for (a, b), c in comps.items():
            crow.append([{k_: name for k_, name, _, _ in cols}[k], f"{a} vs {b}",
                         f"{c['difference']:+.3g}", _study.fmt_p(c["p"]), _study.fmt_p(c["p_holm"]), c["verdict"]])
    text = (f"### {spec}: {heading}\n\nMean ± 95 % interval over {n_seeds} seeds; each metric the mean over the "
            "evaluations in the last 20 % of the steps; — where a metric does not apply.\n\n"
            + _study.markdown_table(header, rows)
            + "\n\nComparisons (Δ = first − second, paired over seeds; Holm within each metric's family; only "
              f"variants learned, i.e. clearly on the data side of chance on {NAMES[LEARNED[spec]]}):\n\n"
            + (_study.markdown_table(["metric", "pair", "Δ", "p", "Holm p", "verdict"], crow) if crow
               else "None: too few variants learned."))
    return text, fams, learned


def info_table(results, picks, refs, s, at_time, s_info):
    """InfoGAN's code alignment at S, at n_T and at S_info, with the reference rows and every seed."""
    runs = results[INFO]
    rows = [[label, "—", f"{r[CODE]:.3f}" if r.get(CODE) is not None else "—", "—", "—"] for label, r in refs.items()]
    for what, step in ((f"S = {s:,}", s), (f"n_T = {at_time:,}", at_time), (f"S_info = {s_info:,}", s_info)):
        codes = [_study.window_mean(r, step, CODE) for r in runs]
        fds = [_study.window_mean(r, step, FD) for r in runs]
        rows.append([f"InfoGAN at {what}", f"{picks[INFO]:g}", _study.mean_ci(codes, ".3f"),
                     ", ".join("—" if c is None else f"{c:.3f}" for c in codes), _study.mean_ci(fds, ".2f")])
    return ("### digits: InfoGAN's code against the digit classes\n\nCode accuracy after the best one-to-one "
            "assignment of the 10 code values to the 10 classes (chance: a code that ignores the classes; data: the "
            "real images coded by their own labels, i.e. the classifier's accuracy); mean ± 95 % interval over the "
            "seeds, each seed's value, and the FD at the same step.\n\n"
            + _study.markdown_table(["row", "lr", "code accuracy", "per seed", "Fréchet distance"], rows))


def progress_table(spec, results, ms, refs, budget_steps):
    key, value, lower = PROGRESS[spec]
    if value == "chance":
        value = _study.chance_value(refs, key, lower)
    base = min(m["median"] for m in ms.values())
    rows = []
    for label, _ in SECTIONS[spec]:
        m = ms[label]
        runs = [{"evals": [dict(e, seconds=e["step"] * m["median"] / 1e3) for e in r["evals"]]} for r in results[label]]
        rows.append([label, f"{m['median']:.2f} [{m['p25']:.2f}, {m['p75']:.2f}]", f"{m['median'] / base:.2f}",
                     _study.fmt_reached(runs, key, value, lower, "step"),
                     _study.fmt_reached(runs, key, value, lower, "seconds")])
    what = f"{'FD' if key == FD else 'channel FD'} ≤ {value:.2f} (the Gaussian's)"
    return (f"### {spec}: cost and progress (first evaluation with {what}, within {budget_steps})\n\n"
            "CPU ms per step of the process, interleaved on one thread; seconds = steps × median ms. Steps/seconds: "
            "mean ± 95 % interval over the runs that reached it (k/n when not all did).\n\n"
            + _study.markdown_table(["variant", "CPU ms per step, median [p25, p75]", "× cheapest", f"steps to {what}",
                                     f"seconds to {what}"], rows))


# -------------------------------------------------------------------------------------- verdicts
def paired_verdict(views, key, pair, what):
    """A paper's comparison claim: supported when "better" in some view and "worse" in none."""
    found, numbers = [], []
    for view, fams in views.items():
        c = fams.get(key, {}).get(pair)
        if c is None:
            numbers.append(f"equal {view}: not compared (not learned)")
            continue
        found.append(c["verdict"])
        numbers.append(f"equal {view}: Δ {_study.fmt_comparison(c)}")
    better, worse = "better" in found, "worse" in found
    verdict = "supported" if better and not worse else "contradicted" if worse and not better else _study.VERDICTS[2]
    return [what, verdict, "; ".join(numbers)]


def verdicts(out):
    rows = []
    undecided = _study.VERDICTS[2]
    if "digits" in out:
        o = out["digits"]
        refs, vals = o["refs"], o["values"]["steps"]
        learned = o["steps"][2]
        chance = _study.chance_value(refs, AGR, False)
        above = {label: _study.bounds(vals[label][AGR])[0] > chance for label in CONDITIONAL if learned[label]}
        verdict = (undecided if not above else "supported" if all(above.values())
                   else "contradicted" if not any(above.values()) else undecided)
        rows.append(["000: G's output is a function of noise and a label", verdict,
                     "label agreement at S: " + "; ".join(f"{label} {_study.mean_ci(vals[label][AGR], '.3f')}"
                                                          for label in CONDITIONAL) + f" (chance {chance:.3f})"
                     + "".join(f"; {label} not learned" for label in CONDITIONAL if not learned[label])])
        found, numbers = [], []
        for key in (CKL, FD):
            for label, _ in DIGITS[1:]:
                c = o["steps"][1][key].get((label, UNCOND))
                if c is None:
                    numbers.append(f"{label} {NAMES.get(key, key)}: not compared")
                    continue
                found.append(c["verdict"])
                numbers.append(f"{label} {'class KL' if key == CKL else 'FD'} Δ {_study.fmt_comparison(c)}")
        better, worse = "better" in found, "worse" in found
        rows.append(["001: conditional GANs and InfoGAN solve some of the GAN's problems (mode collapse: class KL; "
                     "convergence: FD at equal steps), against the unconditional GAN",
                     "supported" if better and not worse else "contradicted" if worse and not better else undecided,
                     "; ".join(numbers)])
        codes, info_learned = o["info_codes"], o["info_learned"]
        chance = _study.chance_value(refs, CODE, False)
        low, high = _study.bounds(codes)
        mean = _study.interval(codes)[0]
        note = "" if info_learned else " (InfoGAN not learned at S_info: FD not clearly below chance)"
        rows.append(["003: a GAN learns the data's structure without labels (InfoGAN's code vs the digit classes)",
                     undecided if not info_learned else "supported" if low > chance
                     else "contradicted" if high <= chance else undecided,
                     f"code accuracy at S_info {_study.mean_ci(codes, '.3f')} vs chance {chance:.3f}{note}"])
        rows.append(["Chen et al.: the code recovers the classes with 5 % error (accuracy 95 %)",
                     undecided if not info_learned else "contradicted" if high < CODE_CLAIM
                     else "supported" if mean >= CODE_CLAIM else undecided,
                     f"code accuracy at S_info {_study.mean_ci(codes, '.3f')} (95 % interval up to {high:.3f}){note}"])
        views = {"steps": o["steps"][1], "time": o["time"][1]}
        rows.append(paired_verdict(views, PCFD, (PROJ, CONCAT),
                                   "Miyato & Koyama: projection gives better class-conditional samples than concat "
                                   "(per-class FD)"))
        rows.append(paired_verdict(views, AGR, (ACGAN, CONCAT),
                                   "Odena et al.: AC-GAN's samples are more recognisable as their class than concat's "
                                   "(label agreement)"))
    if "stacked-digits" in out:
        o = out["stacked-digits"]
        views = {"steps": o["steps"][1], "time": o["time"][1]}
        row = paired_verdict(views, CKL, (PACK2, NOPACK),
                             "Lin et al. (PacGAN): packing reduces mode collapse (stacked digits, KL to uniform)")
        modes = paired_verdict(views, MODES, (PACK2, NOPACK), "")
        rows.append(row[:2] + [row[2] + "; modes: " + modes[2]])
    return rows


# ------------------------------------------------------------------------------------------ figures
def tile(samples, rows, columns, shape, channels=1, blank=0.0):
    """``rows`` × ``columns`` images (N, H·W·C) as one picture with a line of value ``blank`` between them."""
    h, w = shape
    tiles = np.full((rows * columns, h + 1, w + 1, channels), blank)
    tiles[:, :h, :w] = np.clip(samples[:rows * columns], 0, 1).reshape(-1, h, w, channels)
    grid = tiles.reshape(rows, columns, h + 1, w + 1, channels).transpose(0, 2, 1, 3, 4)
    return grid.reshape(rows * (h + 1), columns * (w + 1), channels)


def samples_figure(out, args):
    plt = _study.plt
    panels = [(spec, label) for spec in SECTIONS if spec in out for label, _ in SECTIONS[spec]]
    fig, axes = plt.subplots(1, len(panels), figsize=(2.3 * len(panels), 3.0), squeeze=False)
    for ax, (spec, label) in zip(axes[0], panels):
        s = out[spec]["results"][label][0].get("samples")
        if s is not None:
            if spec == "digits":
                ax.imshow(tile(s, 10, PER_ROW, (8, 8))[..., 0], cmap="gray_r", vmin=0, vmax=1)
            else:
                ax.imshow(tile(s, 8, 8, (8, 8), channels=3, blank=1.0))
        ax.set_xticks([])
        ax.set_yticks([])
        row = {INFO: " (rows: code values)", UNCOND: ""}.get(label, " (rows: labels 0–9)") if spec == "digits" else ""
        ax.set_title(f"{spec}: {label}{row}" + ("" if s is not None else " (diverged)"), fontsize=7)
    fig.suptitle("Samples of seed 0 at the end of its run, from the weight average of G (stacked digits: the three "
                 "digits as red, green and blue)", fontsize=9)
    fig.tight_layout()
    return _study.save_figure(fig, args, f"{NAME}_samples")


def curves(ax, runs, key, color, label, ls="-"):
    """Every seed thin, the mean thick, of ``key`` against steps."""
    for r in runs:
        ax.plot([e["step"] for e in r["evals"]], [e.get(key) for e in r["evals"]], color=color, lw=0.5, ls=ls,
                alpha=0.35)
    longest = max((r["evals"] for r in runs), key=len)
    mean, _ = _study.band([[e.get(key) for e in r["evals"]] for r in runs])
    ax.plot([e["step"] for e in longest][:len(mean)], mean, color=color, lw=2, ls=ls, label=label)


def per_label_at(run_result, step):
    """Each label's agreement, the mean over the evaluations of the window before ``step`` (NaN if none)."""
    rows = [e[PER_LABEL] for e in run_result["evals"]
            if step - _study.WINDOW * step < e["step"] <= step and e.get(PER_LABEL)]
    if not rows:
        return [np.nan] * 10
    return list(np.nanmean(np.array([[np.nan if v is None else v for v in r] for r in rows], dtype=float), axis=0))


def per_label_panel(ax, o, s):
    """Grouped bars: each conditional variant's agreement per label at S (mean and 95 % interval over the
    seeds), with the chance and data levels."""
    width = 0.8 / len(CONDITIONAL)
    for j, label in enumerate(CONDITIONAL):
        seeds = np.array([per_label_at(r, s) for r in o["results"][label]])
        stats_ = [_study.interval(seeds[:, k]) for k in range(seeds.shape[1])]
        means = [m for m, _, _ in stats_]
        halves = [0 if np.isnan(h) else h for _, h, _ in stats_]
        ax.bar(np.arange(len(means)) + (j - 1) * width, means, width, yerr=halves, color=f"C{j + 1}", label=label,
               capsize=2)
    data = o["refs"]["data"].get(PER_LABEL)
    if data:
        ax.plot(np.arange(len(data)), data, "k_", ms=14, mew=1.5, label="data (classifier accuracy per class)")
    ax.axhline(0.1, color="k", ls="--", lw=1, label="chance 0.1")
    ax.set_xticks(range(10))
    ax.set_xlabel("label asked for")
    ax.set_ylabel("label agreement at S (mean, bars: 95 % interval)")
    ax.set_ylim(0, 1.3)
    ax.set_title("digits: per-class coverage of the conditional variants", fontsize=9)
    ax.legend(fontsize=6, loc="upper center", ncol=3)


def references_lines(ax, refs, key, lower):
    chance = _study.chance_value(refs, key, lower)
    ax.axhline(chance, color="k", ls="--", lw=1, label=f"chance {chance:.3g}")
    ax.axhline(refs["data"][key], color="k", ls="-", lw=1, label=f"data {refs['data'][key]:.3g}")


def metrics_figure(out, args):
    plt = _study.plt
    fig, axes = plt.subplots(2, 4, figsize=(22, 9))
    if "digits" in out:
        o = out["digits"]
        refs = o["refs"]
        labels = [label for label, _ in DIGITS]
        for j, label in enumerate(labels):
            curves(axes[0][0], o["results"][label], FD, f"C{j}", label)
            if label in CONDITIONAL:
                curves(axes[0][1], o["results"][label], AGR, f"C{j}", label)
                curves(axes[0][1], o["results"][label], WORST, f"C{j}", f"{label}: worst label", ls=":")
        curves(axes[0][2], o["results"][INFO], CODE, f"C{labels.index(INFO)}", INFO)
        for ax, key, lower, what in ((axes[0][0], FD, True, "Fréchet distance (log scale)"),
                                     (axes[0][1], AGR, False, "label agreement (solid: all labels; dotted: worst label)"),
                                     (axes[0][2], CODE, False, "code accuracy (best assignment)")):
            references_lines(ax, refs, key, lower)
            ax.set_xlabel("steps (G updates)")
            ax.set_ylabel(what)
            ax.legend(fontsize=6)
        axes[0][0].set_yscale("log")
        axes[0][2].axhline(CODE_CLAIM, color="C3", ls=":", lw=1, label="Chen et al.: 95 %")
        axes[0][2].legend(fontsize=6)
        axes[0][0].set_title("digits: FD of each variant (thin: each seed; thick: mean)", fontsize=9)
        axes[0][1].set_title("digits: the samples show the label they were drawn for", fontsize=9)
        axes[0][2].set_title("digits: InfoGAN's unsupervised code against the classes", fontsize=9)
        per_label_panel(axes[0][3], o, o["S"])
    if "stacked-digits" in out:
        o = out["stacked-digits"]
        refs = o["refs"]
        for j, (label, _) in enumerate(STACKED):
            curves(axes[1][0], o["results"][label], CKL, f"C{j}", label)
            curves(axes[1][1], o["results"][label], MODES, f"C{j}", label)
            curves(axes[1][2], o["results"][label], CFD, f"C{j}", label)
        for ax, key, lower, what in ((axes[1][0], CKL, True, "KL of the triples' histogram to uniform (nats, log)"),
                                     (axes[1][1], MODES, False, "modes: digit triples seen (of 1,000)"),
                                     (axes[1][2], CFD, True, "channel Fréchet distance (log scale)")):
            references_lines(ax, refs, key, lower)
            ax.set_xlabel("steps (G updates)")
            ax.set_ylabel(what)
            ax.legend(fontsize=6)
        axes[1][0].set_yscale("log")
        axes[1][2].set_yscale("log")
        axes[1][0].set_title("stacked digits: mode collapse (26,000 samples an evaluation)", fontsize=9)
        axes[1][1].set_title("stacked digits: triples seen (chance ≈ data: not a quality measure)", fontsize=9)
        axes[1][2].set_title("stacked digits: quality of the digits in every channel", fontsize=9)
    names, med, err = [], [], [[], []]
    for spec in SECTIONS:
        if spec in out:
            for label, _ in SECTIONS[spec]:
                m = out[spec]["ms"][label]
                names.append(f"{spec}: {label}")
                med.append(m["median"])
                err[0].append(m["median"] - m["p25"])
                err[1].append(m["p75"] - m["median"])
    ax = axes[1][3]
    ax.barh(range(len(names)), med, xerr=err, color="C0")
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels(names, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("CPU ms per step (median, bars: interquartile range)")
    ax.set_title("cost of a step", fontsize=9)
    fig.tight_layout()
    return _study.save_figure(fig, args, NAME)


# ------------------------------------------------------------------------------------------ main
def main(argv=None):
    args = _study.parser(NAME, __doc__, jobs=True).parse_args(argv)
    budget = QUICK if args.quick else FULL
    seed_list = _study.seeds(args)
    out, pilot_sections = {}, []
    for spec, variants in SECTIONS.items():
        dataset = load_dataset(spec)
        labels = [label for label, _ in variants]
        n_eval, per_run = budget["eval_samples"][spec], budget["evals"][spec]
        s = budget["steps"][spec]
        steps_of = {label: budget["info_steps"] if label == INFO else s for label in labels}
        refs = references(dataset, spec, n_eval)
        picks, rows = pilots(dataset, spec, steps_of, n_eval, per_run, refs, args.jobs)
        pilot_sections.append(
            f"### {spec}: learning rates on pilot seeds {', '.join(map(str, _study.PILOT_SEEDS))} (pick in bold; — a "
            "run that stopped on a NaN" + (", or whose channel FD was not below the Gaussian's" if spec != "digits"
                                           else "") + ")\n\n"
            + _study.markdown_table(["variant", "scored by", "lr: score per pilot seed", "pick"], rows))
        ms = step_ms(dataset, spec, picks, budget["timing_rounds"])
        base = min(ms[label]["median"] for label in labels)
        at_time = {label: max(1, int(s * base / ms[label]["median"])) for label in labels}
        at_steps = {label: s for label in labels}
        results = _study.across_seeds(
            labels, seed_list,
            lambda label, seed: run(dataset, spec, label, picks[label], seed, steps_of[label],
                                    sorted({s, at_time[label], steps_of[label]}), n_eval, per_run,
                                    keep_samples=(seed == seed_list[0])), args.jobs)
        print(f"final runs {spec}: done", flush=True)
        o = {"results": results, "ms": ms, "refs": refs, "values": {}, "S": s}
        for view, heading, at in (
                ("steps", f"equal gradient evaluations, every variant after S = {s:,} steps", at_steps),
                ("time", f"equal wall time, T = {s * base / 1e3:.2f} s of CPU time (S steps of the cheapest variant); "
                         "steps = n_T, the steps that fit in T", at_time)):
            o["values"][view] = view_values(spec, results, at)
            o[view] = study_view(spec, heading, at, o["values"][view], refs, picks, len(seed_list))
        budget_text = f"S = {s:,} steps" + (f" (InfoGAN {budget['info_steps']:,})" if INFO in labels else "")
        o["progress"] = progress_table(spec, results, ms, refs, budget_text)
        if INFO in labels:
            o["info"] = info_table(results, picks, refs, s, at_time[INFO], steps_of[INFO])
            o["info_codes"] = [_study.window_mean(r, steps_of[INFO], CODE) for r in results[INFO]]
            o["info_learned"] = _study.learned([_study.window_mean(r, steps_of[INFO], FD) for r in results[INFO]],
                                               refs, FD, True)
        out[spec] = o

    header = (f"## What do labels buy a GAN? Conditioning and InfoGAN on digits, packing on stacked digits — "
              f"{len(seed_list)} seeds" + ("  (--quick)" if args.quick else ""))
    claims = "\n\n".join(_study.claim(SOURCES[k][0], SOURCES[k][1], zh, en) for k, (zh, en) in CLAIMS.items())
    claims += "\n\nThe papers' claims (not in the reference texts):\n\n" + "\n".join(
        f"- {text} — {cite}" for cite, text in PAPER_CLAIMS)
    sections = [header, "### Claims\n\n" + claims] + pilot_sections
    for spec in SECTIONS:
        o = out[spec]
        sections += [o["steps"][0], o["time"][0]] + ([o["info"]] if "info" in o else []) + [o["progress"]]
    sections.append("### Verdicts\n\n" + _study.markdown_table(["claim", "verdict", "deciding numbers"], verdicts(out)))
    _study.write_report(args, NAME, sections)
    metrics_figure(out, args)
    samples_figure(out, args)


if __name__ == "__main__":
    main()
