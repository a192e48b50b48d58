"""Study: full-batch gradient descent vs minibatch SGD (with and without momentum) vs Adagrad vs Adam,
at equal numbers of gradient evaluations and at equal wall time.

    python examples/optimizers.py [--quick] [--seeds N] [--out DIR]

The claims under test, from shared/reference/001_b0e18d4515047b82.txt (batch gradient descent in GANs):
full-batch GD (BGD) "may cause mode collapse" and "converges slowly"; stochastic gradient descent "can
improve GANs' training speed and performance"; Adagrad "adapts to gradients of different sizes, which
improves training speed and performance". (Elsewhere it says BGD "performs well in GANs".)

Setting: ring8 and grid25 with N = 2,048 training points, so that a full-batch step (all N points) stays
affordable; the trainer's 2-D GAN (G 2→128→128→2 with BatchNorm, D 2→128→128→1, LeakyReLU 0.2,
non-saturating loss); minibatches of 64 for the stochastic methods. One **gradient evaluation** is one
training step: one gradient of D's loss and one of G's, on a minibatch of 64 or on all 2,048 points, so a
GD evaluation costs ~32 times the arithmetic of the others. Two budgets, from the same runs:

- equal gradient evaluations: the metrics after S steps, for every optimizer;
- equal wall time: the metrics after the number of steps that fits in T seconds of training, from each
  optimizer's median time per step. The five optimizers' steps are timed round-robin, one step each in
  turn (``benchmarks/_common.py``), so that a change in the machine's load cannot favour one of them
  the way timing each run on its own clock would.

Each run trains for the larger of the two step counts. The learning rates (``OPTIMIZERS``) were picked
per optimizer from a one-seed pilot of two or three values on grid25 (1,500 steps, 600 for GD; GD at
lr 0.5 diverged). The trainer's "gd" uses every one of the N points once per step (D judges packs of
one here, so in their stored order) and draws fresh noise z for the N generated samples each step.
"""

import numpy as np

import _study
from benchmarks import _common
from minigan.data import load_dataset
from minigan.gan.trainer import TrainConfig, Trainer

OPTIMIZERS = (  # (label, TrainConfig fields)
    ("full-batch GD", {"optimizer": "gd", "lr": 0.1}),
    ("SGD", {"optimizer": "sgd", "momentum": 0.0, "lr": 0.1}),
    ("SGD + momentum 0.9", {"optimizer": "sgd", "momentum": 0.9, "lr": 0.01}),
    ("Adagrad", {"optimizer": "adagrad", "lr": 0.02}),
    ("Adam", {"optimizer": "adam", "lr": 2e-4, "betas": (0.5, 0.999)}),
)
DATASETS = ("ring8", "grid25")
FULL = {"n_data": 2048, "steps": 300, "seconds": 4.0, "eval_samples": 2500, "timing_rounds": 40}
QUICK = {"n_data": 256, "steps": 15, "seconds": 0.15, "eval_samples": 300, "timing_rounds": 3}
BATCH = 64
METRICS = (("modes_captured", "modes", ".1f"), ("high_quality_fraction", "high-quality", ".3f"),
           ("reverse_kl", "reverse KL", ".2f"))


def step_ms(spec, dataset, budget):
    """Median ms per training step of each optimizer, timed round-robin, one step each in turn."""
    trainers = {label: Trainer(TrainConfig(data=spec, n_data=budget["n_data"], batch_size=BATCH, **fields), dataset,
                               progress=False) for label, fields in OPTIMIZERS}
    items = [_common.Timed(label, lambda t=t: t.step(grad_norms=False)) for label, t in trainers.items()]
    return {label: _common.summarize(t)["median"]
            for label, t in _common.time_interleaved(items, budget["timing_rounds"], warmup=3).items()}


def evaluate_at(steps, steps_in_time):
    """At S and at the steps that fit in T; besides, every S/30 steps up to S (where GD spends its
    time), then 10 times less often: every 10, then every 100 steps for S = 300."""
    every = max(1, steps // 30)
    return lambda step: (step in (steps, steps_in_time) or
                         (step % every == 0 if step <= steps else step % (10 * every) == 0))


def run(spec, dataset, fields, seed, budget, steps_in_time):
    config = TrainConfig(data=spec, n_data=budget["n_data"], batch_size=BATCH, seed=seed, **fields)
    trainer = Trainer(config, dataset, progress=False)
    return _study.train(trainer, max(budget["steps"], steps_in_time), evaluate_at(budget["steps"], steps_in_time),
                        budget["eval_samples"])


def at_step(run, step):
    return next((e for e in run["evals"] if e["step"] == step), {})


def until(run, step):
    """{"step": …, metric: …} of the last evaluation at or before ``step``, for curves against time."""
    within = [e for e in run["evals"] if e["step"] <= step]
    return within[-1] if within else {}


def table(spec, results, budget, ms):
    rows = []
    for label, fields in OPTIMIZERS:
        runs, steps_in_time = results[label], steps_within(budget["seconds"], ms[label])
        by_steps = [at_step(r, budget["steps"]) for r in runs]
        by_time = [at_step(r, steps_in_time) for r in runs]
        rows.append([label, f"{fields['lr']:g}", f"{ms[label]:.2f}"]
                    + [_study.mean_std([e.get(k) for e in by_steps], fmt) for k, _, fmt in METRICS]
                    + [steps_in_time]
                    + [_study.mean_std([e.get(k) for e in by_time], fmt) for k, _, fmt in METRICS]
                    + [f"{sum(r['diverged'] for r in runs)}/{len(runs)}"])
    s, t = budget["steps"], budget["seconds"]
    header = (["optimizer", "lr", "ms per step"] + [f"{name} @ {s} steps" for _, name, _ in METRICS]
              + [f"steps in {t:g} s"] + [f"{name} @ {t:g} s" for _, name, _ in METRICS] + ["diverged"])
    return [f"**{spec}** (N = {budget['n_data']} points, {len(runs)} seeds)", _study.markdown_table(header, rows)]


def steps_within(seconds, ms_per_step):
    return max(1, int(seconds * 1e3 / ms_per_step))


def figure(results, budget, ms, args):
    plt = _study.plt
    fig, axes = plt.subplots(len(DATASETS), 4, figsize=(17, 3.6 * len(DATASETS)), squeeze=False)
    times = np.linspace(0, budget["seconds"], 41)[1:]
    for row, spec in zip(axes, DATASETS):
        for i, (label, _) in enumerate(OPTIMIZERS):
            runs, color = results[spec][label], f"C{i}"
            steps = [e["step"] for e in max((r["evals"] for r in runs), key=len)]
            in_time = [steps_within(t, ms[spec][label]) for t in times]
            for col, key in ((0, "modes_captured"), (2, "reverse_kl")):
                mean, std = _study.band([[e.get(key) for e in r["evals"]] for r in runs])
                row[col].plot(steps[:len(mean)], mean, color=color, label=label)
                row[col].fill_between(steps[:len(mean)], mean - std, mean + std, color=color, alpha=0.12)
                mean, std = _study.band([[until(r, n).get(key) for n in in_time] for r in runs])
                row[col + 1].plot(times, mean, color=color, label=label)
                row[col + 1].fill_between(times, mean - std, mean + std, color=color, alpha=0.12)
        for col, ax in enumerate(row):
            metric = "modes captured" if col < 2 else "reverse KL (nats, lower is better)"
            ax.set_title(f"{spec}: {metric}", fontsize=9)
            ax.set_xlabel("gradient evaluations (steps)" if col % 2 == 0 else "training seconds (steps × median ms)")
            if col % 2 == 0:
                ax.set_xscale("log")
                ax.axvline(budget["steps"], color="gray", lw=0.8, ls=":")
        row[0].legend(fontsize=8)
    fig.tight_layout()
    return _study.save_figure(fig, args, "optimizers")


def main(argv=None):
    args = _study.parser("optimizers", __doc__).parse_args(argv)
    budget = QUICK if args.quick else FULL
    results, ms, sections = {}, {}, []
    fields = dict(OPTIMIZERS)
    for spec in DATASETS:
        dataset = load_dataset(spec, n_samples=budget["n_data"])
        ms[spec] = step_ms(spec, dataset, budget)
        results[spec] = _study.across_seeds(
            fields, _study.seeds(args),
            lambda label, seed: run(spec, dataset, fields[label], seed, budget,
                                    steps_within(budget["seconds"], ms[spec][label])))
        sections += table(spec, results[spec], budget, ms[spec])
        print(f"{spec}: done", flush=True)
    header = (f"## Optimizers at equal gradient evaluations ({budget['steps']} steps) and equal wall time "
              f"({budget['seconds']:g} s) — {len(_study.seeds(args))} seeds, mean ± std"
              + ("  (--quick)" if args.quick else ""))
    _study.write_report(args, "optimizers", [header] + sections)
    figure(results, budget, ms, args)


if __name__ == "__main__":
    main()
