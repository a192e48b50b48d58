"""What the studies in ``examples/`` share: their command line, a training loop that records metrics,
mean ± std over seeds, markdown tables and figures.

Every study runs as ``python examples/NAME.py [--quick] [--out DIR] [--seeds N]``, prints its tables,
and writes ``DIR/NAME.md`` (the tables) and ``DIR/NAME.png`` (the figure); DIR defaults to
``examples/results/NAME/``. ``--quick`` is a smoke run of a few seconds with tiny budgets.
"""

import argparse
import math
import os
import subprocess
import sys
import time
import warnings

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:  # `python examples/NAME.py` from a checkout: find minigan and benchmarks there
    sys.path.insert(0, ROOT)

import matplotlib  # noqa: E402

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402,F401  (the studies draw with it: _study.plt)
from PIL import Image  # noqa: E402  (Pillow comes with matplotlib)

from minigan.gan.trainer import TrainingDiverged  # noqa: E402

FIGURE_DPI = 90


def parser(name, doc, seeds=5):
    """An ``argparse`` parser with the options every study takes (``--seeds`` only if ``seeds``)."""
    p = argparse.ArgumentParser(prog=f"python examples/{name}.py", description=doc.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a smoke run of a few seconds (tiny budgets)")
    p.add_argument("--out", default=os.path.join(ROOT, "examples", "results", name),
                   help="directory for the table (.md) and figure (.png); default %(default)s")
    if seeds:
        p.add_argument("--seeds", type=int, default=None,
                       help=f"seeds per configuration (default {seeds}; 2 with --quick)")
        p.set_defaults(default_seeds=seeds)
    return p


def seeds(args):
    """The seeds to run: 0 … N−1, N from ``--seeds`` or the study's default (2 with ``--quick``)."""
    n = args.seeds if args.seeds is not None else (2 if args.quick else args.default_seeds)
    if n < 1:
        raise SystemExit(f"--seeds must be at least 1, got {n}")
    return list(range(n))


def across_seeds(labels, seed_list, run):
    """{label: [run(label, seed) for each seed]}, with the seeds in the outer loop, so that a change in
    the machine's load during a study is spread over every configuration."""
    results = {label: [] for label in labels}
    for seed in seed_list:
        for label in labels:
            results[label].append(run(label, seed))
    return results


def train(trainer, steps, evaluate_at=None, eval_samples=1000, log_every=0, on_log=None):
    """Run ``trainer`` until it has done ``steps`` steps in all.

    ``evaluate_at(step)`` says whether to evaluate after that step (``trainer.evaluate(eval_samples)``);
    every ``log_every`` steps the step's losses and per-weight gradient norms are kept, with whatever
    ``on_log(trainer)`` adds. Training time excludes evaluation and logging callbacks. A NaN/inf loss
    ends the run early with ``diverged`` True. Returns a dict: ``evals`` and ``logs`` (lists of dicts,
    each with ``step``), ``steps`` done, ``seconds`` of training, ``diverged``.
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
            evals.append({"step": step, **trainer.evaluate(eval_samples)})
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


def mean_std(values, fmt=".2f"):
    """"m ± s" over the finite values of the list ``values`` (sample std, ddof 1), each written with
    format ``fmt``; "—" if there are none; "(k/n)" when only k of the n values were finite."""
    good = finite(values)
    if not good:
        return "—"
    text = f"{np.mean(good):{fmt}}"
    if len(good) > 1:
        text += f" ± {np.std(good, ddof=1):{fmt}}"
    if len(good) < len(values):
        text += f" ({len(good)}/{len(values)})"
    return text


def band(curves):
    """Mean and std across runs of curves sampled at the same points (shorter runs padded with NaN)."""
    length = max(len(c) for c in curves)
    stacked = np.full((len(curves), length), np.nan)
    for i, c in enumerate(curves):
        stacked[i, :len(c)] = [np.nan if v is None else v for v in c]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column (every run stopped): a gap
        return np.nanmean(stacked, axis=0), np.nanstd(stacked, axis=0)


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
