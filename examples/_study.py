"""What the studies in ``examples/`` share: their command line, a training loop that records metrics,
and the design rules of ``STUDIES.md`` that every study meets by calling them here.

Every study runs as ``python examples/NAME.py [--quick] [--out DIR] [--seeds N]``, prints its tables,
and writes ``DIR/NAME.md`` (the tables) and ``DIR/NAME.png`` (the figure). ``--quick`` is a smoke run of
a few seconds with tiny budgets, written into a temporary directory unless ``--out`` is given; a full
run writes into ``examples/results/NAME/`` by default.

The rules, and the functions that carry them:

- **Reference rows** (:func:`reference_rows`): every table of sample quality has *chance* rows (what a
  generator that learned nothing scores: uniform noise over the data's bounding square for the 2-D
  sets; for images a Gaussian fitted to the pixels and one sample repeated) and a *data* row (real samples scored as if generated), each from the same metric and sample count
  (:data:`EVAL_SAMPLES`: at least 10,000 for the 2-D sets, the data's own size or more for images).
  :func:`learned` says whether a configuration is clearly on the data side of chance; one that is not
  is reported as "not learned yet" and never ranked.
- **Intervals** (:func:`interval`, :func:`mean_ci`): mean with a 95 % Student-t confidence interval
  over seeds, never ± one standard deviation.
- **Tests** (:func:`compare`, :func:`compare_pairs`): a difference is a finding only when the intervals do not overlap or a
  paired t-test over seeds, Holm-corrected across the comparisons of a table, gives p < 0.05;
  otherwise "no difference detected at this budget".
- **Progress** (:func:`reached`): steps and training seconds until a run first reaches a stated
  threshold (:data:`THRESHOLDS`), "not reached" being a result.
- **Fair learning rates** (:func:`pick_lr`): each variant's learning rate from a small grid on pilot
  seeds (:data:`PILOT_SEEDS`, never used in a final table), then fresh seeds (0 … N−1).
- **Verdicts** (:data:`VERDICTS`): supported, contradicted, or not decided at this budget.
- **Claims** (:func:`claim`): quoted in the original language with a translation and the source.
"""

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
from scipy import stats

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:  # `python examples/NAME.py` from a checkout: find minigan and benchmarks there
    sys.path.insert(0, ROOT)

import matplotlib  # noqa: E402

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402,F401  (the studies draw with it: _study.plt)
from PIL import Image  # noqa: E402  (Pillow comes with matplotlib)

from minigan.data.synthetic import sample_mixture  # noqa: E402
from minigan.gan.evaluation import evaluate_samples  # noqa: E402
from minigan.gan.trainer import TrainingDiverged  # noqa: E402

FIGURE_DPI = 90


class _StudyParser(argparse.ArgumentParser):
    """Resolves ``--out`` after parsing: the committed results directory for a full run, a fresh
    temporary directory for ``--quick`` (a smoke run never replaces committed results) unless given.

    It also limits NumPy's BLAS to one thread, whatever the environment says (a study without a
    ``--threads`` option of its own): the studies' timings are one-thread figures, and with ``--jobs``
    every worker process would otherwise start a BLAS thread per core, which on a busy machine inflates
    the CPU time a step is charged (a study run without ``OPENBLAS_NUM_THREADS=1`` took 1.3 × the CPU
    time and measured other costs). Forked workers inherit the limit."""

    def parse_args(self, args=None, namespace=None):
        parsed = super().parse_args(args, namespace)
        if parsed.out is None:
            parsed.out = (tempfile.mkdtemp(prefix=f"{self.study}-quick-") if parsed.quick
                          else os.path.join(ROOT, "examples", "results", self.study))
        if not hasattr(parsed, "threads"):
            from benchmarks import _common

            parsed.blas_threads = _common.set_numpy_threads(1)
        return parsed


def parser(name, doc, seeds=5, jobs=False):
    """An ``argparse`` parser with the options every study takes (``--seeds`` only if ``seeds``;
    ``--jobs`` only if ``jobs``: the study runs its trainings through :func:`parallel_map`)."""
    p = _StudyParser(prog=f"python examples/{name}.py", description=doc.split("\n\n")[0],
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    p.study = name
    p.add_argument("--quick", action="store_true", help="a smoke run of a few seconds (tiny budgets)")
    p.add_argument("--out", default=None,
                   help=f"directory for the table (.md) and figure (.png); default examples/results/{name}/, "
                        "or a new temporary directory with --quick")
    if seeds:
        p.add_argument("--seeds", type=int, default=None,
                       help=f"seeds per configuration in the final tables (default {seeds}; 2 with --quick)")
        p.set_defaults(default_seeds=seeds)
    if jobs:
        p.add_argument("--jobs", type=int, default=1,
                       help="training runs side by side in this many processes (default 1; the numbers are the "
                            "same, only the wall time changes; timings are still measured alone)")
    return p


def seeds(args):
    """The seeds to run: 0 … N−1, N from ``--seeds`` or the study's default (2 with ``--quick``)."""
    n = args.seeds if args.seeds is not None else (2 if args.quick else args.default_seeds)
    if n < 1:
        raise SystemExit(f"--seeds must be at least 1, got {n}")
    return list(range(n))


def across_seeds(labels, seed_list, run, jobs=1):
    """{label: [run(label, seed) for each seed]}, with the seeds in the outer loop, so that a change in
    the machine's load during a study is spread over every configuration; ``jobs`` > 1 runs them side by
    side (:func:`parallel_map`)."""
    tasks = [(label, seed) for seed in seed_list for label in labels]
    outs = parallel_map(lambda task: run(*task), tasks, jobs)
    results = {label: [] for label in labels}
    for (label, _), out in zip(tasks, outs):
        results[label].append(out)
    return results


_TASK = None  # the function parallel_map's workers call (inherited when they fork)


def _call_task(item):
    return _TASK(item)


def parallel_map(fn, items, jobs=1):
    """``[fn(item) for item in items]``, in ``jobs`` worker processes when ``jobs`` > 1.

    Each run of a study is seeded by its own configuration, so the results do not depend on which
    process runs it or in which order: ``--jobs`` changes the wall time, not the numbers. The workers
    are forked (``fn`` may be a closure; what the parent loaded, such as the digit classifier, they
    inherit), one item at a time, and one BLAS thread each is the caller's to set. Where ``fork`` does
    not exist (Windows) the items run here, one after another."""
    global _TASK
    items = list(items)
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    import multiprocessing

    if jobs == 1 or len(items) < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return [fn(item) for item in items]
    _TASK = fn
    try:
        with multiprocessing.get_context("fork").Pool(min(jobs, len(items))) as pool:
            return pool.map(_call_task, items, chunksize=1)
    finally:
        _TASK = None


def train(trainer, steps, evaluate_at=None, eval_samples=1000, log_every=0, on_log=None, w2_samples=0):
    """Run ``trainer`` until it has done ``steps`` steps in all.

    ``evaluate_at(step)`` says whether to evaluate after that step (``trainer.evaluate(eval_samples)``;
    on the 2-D sets W2 and the spread ratio only with ``w2_samples`` > 0, the samples W2 uses);
    every ``log_every`` steps the step's losses and per-weight gradient norms are kept, with whatever
    ``on_log(trainer)`` adds. Training time excludes evaluation and logging callbacks. A NaN/inf loss
    ends the run early with ``diverged`` True. Returns a dict: ``evals`` and ``logs`` (lists of dicts,
    each with ``step``; an evaluation also has ``seconds``, the training time up to it), ``steps``
    done, ``seconds`` of training, ``diverged``.
    """
    evals, logs, elapsed, diverged = [], [], 0.0, False
    while trainer.step_count < steps:
        step = trainer.step_count + 1
        logged = bool(log_every) and step % log_every == 0
        started = time.perf_counter()
        try:
            out = trainer.step(grad_norms=logged)
        except TrainingDiverged:
            diverged = True
            break
        elapsed += time.perf_counter() - started
        if logged:
            logs.append({**out, **(on_log(trainer) if on_log else {})})
        if evaluate_at is not None and evaluate_at(step):
            evals.append({"step": step, "seconds": elapsed, **trainer.evaluate(eval_samples, w2_samples=w2_samples)})
    return {"evals": evals, "logs": logs, "steps": trainer.step_count, "seconds": elapsed, "diverged": diverged}


def central_difference(f, at, eps=1e-6):
    """(f(at + ε eᵢ) − f(at − ε eᵢ)) / 2ε for every element i of the array ``at``: the lessons' check of
    every derivative they print."""
    grad = np.zeros(np.shape(at))
    for i in np.ndindex(*grad.shape):
        step = np.zeros(grad.shape)
        step[i] = eps
        grad[i] = (f(at + step) - f(at - step)) / (2 * eps)
    return grad


def finite(values):
    """The values that are finite numbers (None and NaN, which mark a failed measurement, dropped)."""
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]


def band(curves):
    """Mean and std across runs of curves sampled at the same points (shorter runs padded with NaN)."""
    length = max(len(c) for c in curves)
    stacked = np.full((len(curves), length), np.nan)
    for i, c in enumerate(curves):
        stacked[i, :len(c)] = [np.nan if v is None else v for v in c]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column (every run stopped): a gap
        return np.nanmean(stacked, axis=0), np.nanstd(stacked, axis=0)


# ------------------------------------------------------------------------------------ statistics
CONFIDENCE = 0.95
ALPHA = 0.05
VERDICTS = ("supported", "contradicted", "not decided at this budget")
NO_DIFFERENCE = "no difference detected at this budget"


def interval(values, confidence=CONFIDENCE):
    """(mean, half-width, n) of the finite ``values``: the Student-t confidence interval for the mean,
    mean ± t₀.₉₇₅,ₙ₋₁ · s/√n (±1.24·s at n = 5). Half-width NaN with fewer than two values; mean NaN
    with none."""
    good = finite(values)
    n = len(good)
    if n == 0:
        return math.nan, math.nan, 0
    mean = float(np.mean(good))
    if n < 2:
        return mean, math.nan, 1
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * np.std(good, ddof=1) / math.sqrt(n))
    return mean, half, n


def mean_ci(values, fmt=".2f"):
    """"m ± h": the mean of the finite ``values`` and the half-width of its 95 % confidence interval,
    each written with format ``fmt``; "—" if there are none; "(k/n)" when only k of n were finite."""
    mean, half, n = interval(values)
    if n == 0:
        return "—"
    text = f"{mean:{fmt}}" + (f" ± {half:{fmt}}" if n > 1 else "")
    return text + (f" ({n}/{len(values)})" if n < len(values) else "")


def bounds(values):
    """(low, high) of the 95 % confidence interval of the mean of ``values`` (NaN, NaN if undefined)."""
    mean, half, _ = interval(values)
    return mean - half, mean + half


def overlap(a, b):
    """Whether the 95 % intervals of the means of ``a`` and ``b`` overlap (True when either is undefined)."""
    (a_lo, a_hi), (b_lo, b_hi) = bounds(a), bounds(b)
    if any(math.isnan(v) for v in (a_lo, a_hi, b_lo, b_hi)):
        return True
    return a_lo <= b_hi and b_lo <= a_hi


def paired_p(a, b):
    """Two-sided p-value of the paired t-test of ``a`` against ``b`` (same seeds, same order), over the
    pairs where both are finite; NaN with fewer than two pairs; 0 when every pair differs by the same
    non-zero amount, 1 when every pair is equal."""
    pairs = [(float(x), float(y)) for x, y in zip(a, b)
             if x is not None and y is not None and math.isfinite(float(x)) and math.isfinite(float(y))]
    if len(pairs) < 2:
        return math.nan
    d = np.array([x - y for x, y in pairs])
    if np.all(d == d[0]):
        return 1.0 if d[0] == 0 else 0.0
    return float(stats.ttest_rel([x for x, _ in pairs], [y for _, y in pairs]).pvalue)


def holm(pvalues):
    """Holm's step-down correction of a family of p-values (NaNs stay NaN and are not counted): the
    k-th smallest of m is multiplied by m − k + 1, and the results made non-decreasing, capped at 1."""
    order = [i for i in np.argsort(pvalues) if not math.isnan(pvalues[i])]
    m, adjusted, running = len(order), [math.nan] * len(pvalues), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def compare(reference, variants, lower_is_better):
    """Each variant against ``reference`` (lists over the same seeds), as a family of comparisons.

    ``variants`` is {label: values}. Returns {label: dict(difference=mean(variant − reference) over
    seeds, diffs=the per-seed differences, p=paired p, p_holm=Holm-corrected over the family,
    separated=intervals disjoint, verdict="better" | "worse" | NO_DIFFERENCE)}. A difference is a
    finding when the two 95 % intervals do not overlap or p_holm < 0.05."""
    values = {**variants, None: reference}
    out = compare_pairs(values, [(label, None) for label in variants], lower_is_better)
    return {label: out[label, None] for label in variants}


def compare_pairs(values, pairs, lower_is_better):
    """Like :func:`compare`, with each comparison's own reference: ``pairs`` of (variant, reference)
    keys of ``values`` ({key: list over the same seeds}), the paired p-values Holm-corrected across all
    the pairs. Returns {(variant, reference): the dict of :func:`compare`}."""
    out = {}
    for variant, reference in pairs:
        a, b = values[variant], values[reference]
        diffs = [float(v) - float(r) for v, r in zip(a, b)
                 if v is not None and r is not None and math.isfinite(float(v)) and math.isfinite(float(r))]
        out[variant, reference] = {"difference": float(np.mean(diffs)) if diffs else math.nan, "diffs": diffs,
                                   "p": paired_p(a, b), "separated": not overlap(a, b)}
    for c, p_adj in zip(out.values(), holm([c["p"] for c in out.values()])):
        c["p_holm"] = p_adj
        found = c["separated"] or (not math.isnan(p_adj) and p_adj < ALPHA)
        c["verdict"] = NO_DIFFERENCE
        if found and not math.isnan(c["difference"]) and c["difference"] != 0:
            c["verdict"] = "better" if (c["difference"] < 0) == lower_is_better else "worse"
    return out


def fmt_p(p):
    """A p-value for a table: "—" when undefined, "<0.001" below a thousandth."""
    if p is None or math.isnan(p):
        return "—"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def fmt_comparison(c):
    """One comparison of :func:`compare_pairs` for a table: "Δ (p Holm-corrected): verdict"."""
    return f"{c['difference']:+.3g} (p {fmt_p(c['p_holm'])}): {c['verdict']}"


# -------------------------------------------------------------------------------- reference rows
# Samples behind every quality number of a study: ≥ 10,000 for mode counts and high-quality shares,
# the data's own size or more for the classifier's metrics on images (digits: 1,797 → 2,000).
EVAL_SAMPLES = {"points": 10_000, "images": 2_000}
QUICK_EVAL_SAMPLES = {"points": 1_000, "images": 500}
# The thresholds of progress tables: (metric, value, lower is better). A 2-D run has learned the
# modes' shape when a quarter of its samples lie within 3σ of a mode (uniform noise: 0.5 % on ring8,
# 1.7 % on grid25); an image run when its Fréchet distance beats the Gaussian fitted to the pixels.
THRESHOLDS = {"ring8": ("high_quality_fraction", 0.25, False), "grid25": ("high_quality_fraction", 0.25, False),
              "digits": ("frechet_distance", "chance", True)}
# The metrics shown for each kind of data set, headline first: (key, label, format, lower is better).
METRICS = {
    "points": (("high_quality_fraction", "high-quality fraction", ".3f", False),
               ("modes_captured", "modes captured", ".1f", False),
               ("reverse_kl", "reverse KL (nats)", ".2f", True)),
    "images": (("frechet_distance", "Fréchet distance", ".2f", True),
               ("inception_score", "IS analogue", ".2f", False),
               ("class_coverage", "classes covered", ".1f", False)),
}


def kind(dataset):
    """"points" for the 2-D mixtures (known modes), "images" for labelled images."""
    return "points" if dataset.modes is not None else "images"


def eval_samples(dataset, quick=False):
    """How many samples every evaluation of a study on ``dataset`` draws (:data:`EVAL_SAMPLES`)."""
    return (QUICK_EVAL_SAMPLES if quick else EVAL_SAMPLES)[kind(dataset)]


def reference_samples(dataset, n, seed=12345):
    """{label: (samples, classes)} behind :func:`reference_rows`: each reference row's ``n`` samples, and
    the class of each where it is known (the data and calibration rows of a labelled image set), else
    None (the chance rows: their samples belong to no class)."""
    rng = np.random.default_rng(seed)
    x = np.asarray(dataset.x, dtype=np.float64)
    labels = None if dataset.labels is None else np.asarray(dataset.labels)
    rows = {}
    if dataset.modes is not None:
        low, high = x.min(axis=0), x.max(axis=0)
        rows["chance: uniform over the data's square"] = (rng.uniform(low, high, size=(n, x.shape[1])), None)
        rows["data"] = (sample_mixture(dataset.modes, dataset.mode_std, n, seed=seed)[0], None)
    else:
        low, high = dataset.value_range
        mean, cov = x.mean(axis=0), np.cov(x, rowvar=False)
        rows["chance: Gaussian fitted to the pixels"] = (
            np.clip(rng.multivariate_normal(mean, cov, size=n), low, high), None)
        rows["chance: one sample repeated"] = (np.repeat(x[rng.integers(len(x))][None], n, axis=0), None)
        firsts = np.resize([rng.choice(np.flatnonzero(labels == c)) for c in np.unique(labels)], n)
        rows["calibration: one image per class"] = (x[firsts], labels[firsts])
        drawn = rng.integers(0, len(x), size=n)
        rows["data"] = (x[drawn], labels[drawn])
    return rows


def reference_rows(dataset, n, seed=12345):
    """{label: metrics} of the reference rows for ``dataset``, each scored on ``n`` samples exactly as a
    generator's samples are (``evaluate_samples``), from a generator seeded with ``seed``
    (:func:`reference_samples`):

    - 2-D sets: **chance** — uniform noise over the data's bounding square; **data** — a fresh draw of
      n points from the mixture itself;
    - images: **chance: Gaussian fitted to the pixels** — n draws from N(mean, covariance) of the
      data's pixels, clipped to the pixel range; **chance: one sample repeated** — one real image n
      times (a fully collapsed generator); **data** — n images drawn with replacement from the data;
      and a **calibration** row, not a chance level: one real image of each class, repeated in turn
      (a generator with no diversity within a class, the case the GAN chapter says the Inception score
      misses — it scores above the data).

    ``chance_value`` picks the row a metric's chance level is read from."""
    return {label: evaluate_samples(samples.astype(np.float32), dataset)
            for label, (samples, _) in reference_samples(dataset, n, seed).items()}


def chance_value(references, key, lower_is_better):
    """The chance level of metric ``key``: the best score of any chance row (a generator must beat every
    way of learning nothing)."""
    values = [r[key] for label, r in references.items() if label.startswith("chance") and r.get(key) is not None]
    if not values:
        return math.nan
    return min(values) if lower_is_better else max(values)


def learned(values, references, key, lower_is_better):
    """Whether the 95 % interval of the mean of ``values`` lies wholly on the data side of chance
    (:func:`chance_value`): only then is a configuration ranked on ``key``."""
    low, high = bounds(values)
    chance = chance_value(references, key, lower_is_better)
    if math.isnan(low) or math.isnan(chance):
        mean = interval(values)[0]  # one seed: its value alone
        if math.isnan(mean) or math.isnan(chance):
            return False
        low = high = mean
    return high < chance if lower_is_better else low > chance


def reference_table(references, dataset):
    """Markdown rows (label, metrics…) of the reference rows, in :data:`METRICS` order."""
    metrics = METRICS[kind(dataset)]
    rows = [[label] + [("—" if r.get(k) is None else f"{r[k]:{fmt}}") for k, _, fmt, _ in metrics]
            for label, r in references.items()]
    return markdown_table(["reference"] + [name for _, name, _, _ in metrics], rows)


def threshold(spec, references):
    """(key, value, lower_is_better) of the progress threshold for data set ``spec`` (:data:`THRESHOLDS`;
    "chance" means the chance level of the reference rows)."""
    key, value, lower = THRESHOLDS[spec]
    if value == "chance":
        value = chance_value(references, key, lower)
    return key, value, lower


def reached(run, key, value, lower_is_better):
    """(step, training seconds) of the first evaluation of ``run`` at which ``key`` is at or beyond
    ``value`` — (None, None): not reached."""
    for e in run["evals"]:
        v = e.get(key)
        if v is not None and math.isfinite(v) and (v <= value if lower_is_better else v >= value):
            return e["step"], e.get("seconds")
    return None, None


def fmt_reached(runs, key, value, lower_is_better, what="step"):
    """"m ± h (k/n)" of the steps (``what="step"``) or seconds (``"seconds"``) to the threshold over the
    runs that reached it; "not reached (0/n)" when none did."""
    hits = [reached(r, key, value, lower_is_better) for r in runs]
    values = [h[0] if what == "step" else h[1] for h in hits if h[0] is not None]
    if not values:
        return f"not reached (0/{len(runs)})"
    mean, half, n = interval(values)
    fmt = ".0f" if what == "step" else ".1f"
    text = f"{mean:{fmt}}" + (f" ± {half:{fmt}}" if n > 1 else "")
    return text + (f" ({n}/{len(runs)})" if n < len(runs) else "")


WINDOW = 0.2  # a metric "at step n" is the mean over the evaluations in (n − WINDOW·n, n]: they swing


def schedule(steps, marks, per_run=20):
    """When to evaluate a run of ``steps`` steps read at the steps ``marks``: every steps/``per_run``
    steps, and 4 times evenly in the window (n − WINDOW·n, n] of each read step n (:func:`window_mean`)."""
    every = max(1, steps // per_run)
    extra = {max(1, round(n - k * WINDOW * n / 4)) for n in marks for k in range(4)}
    return lambda step: step % every == 0 or step in extra


def window_mean(result, step, key):
    """Mean of ``key`` over the evaluations of ``result`` (a :func:`train`-like dict: "evals", "steps") in
    (step − WINDOW·step, step]; None when the run stopped before ``step`` or none is finite."""
    if result["steps"] < step:
        return None
    values = finite(e.get(key) for e in result["evals"] if step - WINDOW * step < e["step"] <= step)
    return float(np.mean(values)) if values else None


# ---------------------------------------------------------------------------- learning rates
PILOT_SEEDS = (1000, 1001)  # seeds of the learning-rate pilots; the final tables use 0 … N−1


def pick_lr(grid, score, lower_is_better, seeds=PILOT_SEEDS, extend=0):
    """(best learning rate, {lr: [score per pilot seed]}): ``score(lr, seed)`` is a run's headline
    metric (None or NaN for a run that diverged or has none, which ranks last). The pick is the best
    mean; a learning rate with any failed seed loses to one without.

    With ``extend`` > 0, a pick at either end of the grid is not trusted: the grid grows by one value
    beyond that end (the ratio of the two values there, so a geometric grid stays geometric) and is
    scored again, up to ``extend`` times (not when the end ties with its neighbour: nothing points
    outwards); the grid returned (the keys of the scores, sorted) says how far it went. A pick still at
    an end after that is the caller's to report (:func:`at_edge`)."""
    grid = list(grid)
    scores = {lr: [score(lr, seed) for seed in seeds] for lr in grid}

    def key(lr):
        good = finite(scores[lr])
        failed = len(good) < len(scores[lr])
        mean = np.mean(good) if good else math.inf
        return failed, (mean if lower_is_better else -mean)

    for _ in range(extend):
        pick, ordered = min(grid, key=key), sorted(grid)
        if len(grid) < 2 or pick not in (ordered[0], ordered[-1]):
            break
        inner = ordered[1] if pick == ordered[0] else ordered[-2]
        if key(inner) <= key(pick):  # a tie says nothing about which way to go
            break
        new = ordered[0] ** 2 / ordered[1] if pick == ordered[0] else ordered[-1] ** 2 / ordered[-2]
        new = float(f"{new:.2g}")  # 1e-3 / 3 → 3.3e-4: a value a reader can type
        grid = sorted(grid + [new])
        scores[new] = [score(new, seed) for seed in seeds]
    return min(grid, key=key), {lr: scores[lr] for lr in grid}


def at_edge(pick, scores):
    """Whether ``pick`` is the smallest or largest value that :func:`pick_lr` scored."""
    values = sorted(scores)
    return len(values) > 1 and pick in (values[0], values[-1])


def fmt_pilot(grid, scores, pick, fmt=".3g"):
    """A one-line account of a learning-rate pilot: each lr with its seeds' scores, the pick marked."""
    parts = []
    for lr in grid:
        vals = ", ".join("—" if v is None or not math.isfinite(v) else f"{v:{fmt}}" for v in scores[lr])
        parts.append(f"{'**' if lr == pick else ''}{lr:g}: {vals}{'**' if lr == pick else ''}")
    return "; ".join(parts)


# ------------------------------------------------------------------------------------- claims
def claim(source, title, original, translation):
    """A quoted claim for a report: the original words, an English translation, and the source."""
    return f"> {original}\n>\n> “{translation}” — *{title}* (`shared/reference/{source}`)"


def markdown_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def provenance():
    """When and on which code the numbers were made: the date, and minigan's git commit with a note when
    its files differ from it (GAN runs are chaotic: a change in rounding anywhere changes every number)."""
    when = time.strftime("%Y-%m-%d %H:%M")
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True, check=True).stdout.strip()
        changed = subprocess.run(["git", "status", "--porcelain", "--", "minigan", "benchmarks"], cwd=ROOT,
                                 capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return f"Run {when}, outside a git checkout."
    return f"Run {when} on minigan commit {commit}" + (" with uncommitted changes." if changed else ".")


STARTED = provenance()  # at import, i.e. when the study starts and loads minigan


def write_report(args, name, sections):
    """Print the sections (markdown text), with the study's provenance after the first, and write them to
    ``OUT/NAME.md``; returns the path."""
    os.makedirs(args.out, exist_ok=True)
    text = "\n\n".join([sections[0], STARTED, *sections[1:]]).rstrip() + "\n"
    print(text)
    path = os.path.join(args.out, f"{name}.md")
    with open(path, "w") as f:
        f.write(text)
    return path


def save_figure(fig, args, name):
    """Save ``fig`` as ``OUT/NAME.png`` and close it; returns the path. Kept small for the repository:
    dpi 90, then reduced to a palette of 128 colours (a third of the bytes, no visible change)."""
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, f"{name}.png")
    fig.savefig(path, dpi=FIGURE_DPI, bbox_inches="tight")
    plt.close(fig)
    with Image.open(path) as image:
        palette = image.convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT)
    palette.save(path, optimize=True)
    print(f"figure: {os.path.relpath(path)}")
    return path
