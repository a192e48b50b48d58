"""Study: batch normalisation in a GAN — none, in G only, in D only, in both.

    python examples/bn_in_gans.py [--quick] [--seeds N] [--mnist DIR] [--out DIR]

The claims under test (shared/reference/):

- 000_24081a0f7aa74c5f.txt (BN in GANs): BN "makes the model converge faster", "improves the model's
  performance" in G and in D, but "needs a lot of computation" and "may make the model unstable, e.g.
  vanishing or exploding gradients";
- 003_022cd45cf3221e13.txt (GAN chapter): batch normalisation is "another solution" to vanishing
  gradients; training is faster overall though "each iteration is slower";
- 002_c892679bae74d905.txt (BN, short): BN "cannot solve vanishing/exploding gradients".

Each variant trains the trainer's default GAN for the data set (digits: the seed MLP 100→500→500→64,
Adam 2e-4, β = (0.5, 0.999), batch 64; grid25: 2→128→128→2), with BatchNorm after each hidden Dense
layer of G and/or D. Over the seeds (mean ± std) it records:

- quality over steps, from ``Trainer.evaluate`` (eval mode: BN uses its running statistics);
- ‖∂L/∂W‖ of every Dense weight of G and D every few steps: vanishing gradients would show as a first
  layer whose gradient is orders of magnitude below the last layer's;
- the drift of G's BN running statistics: at each logged step, for each BN layer, the gap between its
  running mean/variance and the statistics of the batch it just normalised in training,
  mean_c |μ_run − μ_B| / σ_B and mean_c |ln(σ²_run / σ²_B)| (σ²_B unbiased, as σ²_run estimates it),
  beside the same gap between two batches of one step (G runs twice a step), mean_c |μ_B' − μ_B| / σ_B,
  the noise that any estimate from one batch carries; and, at the end, the quality of samples drawn
  with batch statistics (train mode, batches of the training size) beside the eval-mode ones;
- the cost of a step: each variant's median time per step, the variants timed round-robin one step at a
  time (``benchmarks/_common.py``), and the training time of the runs themselves (evaluation excluded).
"""

import numpy as np

import _study
from benchmarks import _common
from minigan.data import load_dataset
from minigan.gan.evaluation import evaluate_samples
from minigan.gan.trainer import TrainConfig, Trainer
from minigan.nn import BatchNorm1d, Dense

VARIANTS = (("none", "none", "none"), ("G only", "batch", "none"), ("D only", "none", "batch"),
            ("both", "batch", "batch"))  # (label, g_norm, d_norm)
FULL = {"digits": {"steps": 1000, "eval_every": 100, "log_every": 25},
        "grid25": {"steps": 2000, "eval_every": 200, "log_every": 50}}
QUICK = {"digits": {"steps": 30, "eval_every": 15, "log_every": 10},
         "grid25": {"steps": 40, "eval_every": 20, "log_every": 10}}
EVAL_SAMPLES = {False: 2500, True: 300}  # by --quick
TIMING_ROUNDS = {False: 100, True: 3}
EARLY = 0.2  # "early" quality: at the evaluation nearest to 20% of the steps


class RunningStatsGap:
    """How far G's BatchNorm running statistics are from the batch statistics it trains with.

    A forward hook keeps each BN layer's last two training-mode inputs; calling the object compares the
    latest batch's mean and (unbiased) variance with the layer's running ones, and its mean with the
    batch before, averaged over features and layers.
    """

    def __init__(self, model):
        self.layers = [m for m in model.modules() if isinstance(m, BatchNorm1d)]
        self.inputs = {}
        for layer in self.layers:
            layer.register_forward_hook(self._keep)

    def _keep(self, layer, inputs, output):
        if layer.training:
            self.inputs[layer] = (self.inputs.get(layer, (None, None))[1], inputs[0])

    def __call__(self, trainer):
        gaps = {"mean_gap": [], "var_gap": [], "batch_gap": []}
        for layer in self.layers:
            previous, x = (t.numpy().astype(np.float64) for t in self.inputs[layer])
            mu, var = x.mean(axis=0), x.var(axis=0, ddof=1)
            std = np.sqrt(var + layer.eps)
            running_mean = layer.running_mean.numpy().astype(np.float64)
            running_var = layer.running_var.numpy().astype(np.float64)
            gaps["mean_gap"].append(np.mean(np.abs(running_mean - mu) / std))
            gaps["var_gap"].append(np.mean(np.abs(np.log((running_var + layer.eps) / (var + layer.eps)))))
            gaps["batch_gap"].append(np.mean(np.abs(previous.mean(axis=0) - mu) / std))
        return {name: float(np.mean(values)) for name, values in gaps.items()}


def dense_weights(trainer):
    """The grad-norm keys of the Dense weights, input layer first: (G's, D's)."""
    def names(prefix, model):
        return [f"{prefix}.{name}.weight" for name, m in model.named_modules() if isinstance(m, Dense)]
    return names("G", trainer.G), names("D", trainer.D)


def quality_keys(dataset):
    """(headline metric, its label, lower is better?) and the other metrics shown: {key: (label, format)}."""
    if dataset.modes is not None:
        return (("modes_captured", "modes captured", False),
                {"high_quality_fraction": ("high-quality fraction", ".3f"), "reverse_kl": ("reverse KL", ".2f")})
    return (("frechet_distance", "Fréchet distance", True),
            {"class_coverage": ("classes covered", ".1f"), "inception_score": ("IS analogue", ".2f")})


def train_mode_metrics(trainer, dataset, n):
    """Metrics of n samples drawn with batch statistics, in batches of the training batch size
    (sampling leaves the running statistics as they were)."""
    size = trainer.config.batch_size
    batches = [trainer.sample(size, train_mode=True) for _ in range(-(-n // size))]
    return evaluate_samples(np.concatenate(batches)[:n], dataset)


def run(spec, dataset, g_norm, d_norm, seed, budget, eval_samples):
    config = TrainConfig(data=spec, steps=budget["steps"], g_norm=g_norm, d_norm=d_norm, seed=seed)
    trainer = Trainer(config, dataset, progress=False)
    gap = RunningStatsGap(trainer.G)
    result = _study.train(trainer, budget["steps"], evaluate_at=lambda s: s % budget["eval_every"] == 0,
                          eval_samples=eval_samples, log_every=budget["log_every"],
                          on_log=gap if gap.layers else None)
    result["weights"] = dense_weights(trainer)
    if gap.layers and not result["diverged"]:
        result["train_mode"] = train_mode_metrics(trainer, dataset, eval_samples)
    return result


def step_times(spec, dataset, rounds):
    """Median ms per training step of each variant, the variants timed round-robin, one step each."""
    trainers = {label: Trainer(TrainConfig(data=spec, g_norm=g_norm, d_norm=d_norm), dataset, progress=False)
                for label, g_norm, d_norm in VARIANTS}
    items = [_common.Timed(label, lambda t=t: t.step(grad_norms=False)) for label, t in trainers.items()]
    return {label: _common.summarize(t)["median"]
            for label, t in _common.time_interleaved(items, rounds, warmup=5).items()}


def median_norm(run, key):
    values = [log["grad_norms"][key] for log in run["logs"]]
    return float(np.median(values)) if values else None


def at_fraction(run, key, fraction):
    """``key`` at the evaluation nearest to ``fraction`` of the run's steps (None if the run has none)."""
    if not run["evals"]:
        return None
    target = fraction * run["evals"][-1]["step"]
    return min(run["evals"], key=lambda e: abs(e["step"] - target)).get(key)


def tables(results, datasets, timings):
    quality, grads, drift, cost = [], [], [], []
    for spec, dataset in datasets.items():
        (key, name, lower), others = quality_keys(dataset)
        rows = []
        for label, _, _ in VARIANTS:
            runs = results[spec][label]
            finals = [r["evals"][-1] if r["evals"] and not r["diverged"] else {} for r in runs]
            rows.append([label, _study.mean_std([at_fraction(r, key, EARLY) for r in runs], ".1f"),
                         _study.mean_std([f.get(key) for f in finals], ".1f")]
                        + [_study.mean_std([f.get(k) for f in finals], fmt) for k, (_, fmt) in others.items()]
                        + [f"{sum(r['diverged'] for r in runs)}/{len(runs)}"])
            g_names, d_names = runs[0]["weights"]
            g = [[median_norm(r, k) for r in runs] for k in g_names]
            d = [[median_norm(r, k) for r in runs] for k in d_names]
            ratio = [a / b if a and b else None for a, b in zip(g[0], g[-1])]
            grads.append([spec, label] + [_study.mean_std(v, ".2g") for v in g + d] + [_study.mean_std(ratio, ".2g")])
            if any(r["logs"] and "mean_gap" in r["logs"][-1] for r in runs):
                drift.append([spec, label] + [_study.mean_std([r["logs"][-1].get(k) for r in runs if r["logs"]], ".3f")
                                              for k in ("mean_gap", "batch_gap", "var_gap")] + [
                    _study.mean_std([f.get(key) for f in finals], ".1f"),
                    _study.mean_std([r.get("train_mode", {}).get(key) for r in runs], ".1f")])
            ms = timings[spec]
            cost.append([spec, label, f"{ms[label]:.2f}", f"{ms[label] / ms['none']:.2f}×",
                         _study.mean_std([r["seconds"] for r in runs], ".1f"),
                         _study.mean_std([r["steps"] / r["seconds"] for r in runs if r["seconds"]], ".0f")])
        header = ["BN in", f"{name} at {EARLY:.0%} of steps", f"{name} at the end",
                  *(label for label, _ in others.values()), "diverged"]
        quality += [f"**{spec}** ({name}: {'lower' if lower else 'higher'} is better)",
                    _study.markdown_table(header, rows)]
    return [
        "### Quality of eval-mode samples (mean ± std over seeds)", *quality,
        "### Gradient norms ‖∂L/∂W‖ per Dense layer (median over logged steps)",
        _study.markdown_table(["data", "BN in"] + [f"G W{i + 1}" for i in range(len(g_names))]
                              + [f"D W{i + 1}" for i in range(len(d_names))] + ["G W1 / G last"], grads),
        "### G's BN running statistics at the end, and sampling with them",
        "Gap between the running statistics and the last training batch's, after the last step, averaged over "
        "features and layers: mean gap |μ_run − μ_B| / σ_B, beside the gap between the step's two batches "
        "|μ_B' − μ_B| / σ_B (the noise of one batch), and the log-variance gap |ln(σ²_run/σ²_B)|. Then the "
        "headline metric of eval-mode samples (running statistics) beside train-mode samples (batch "
        "statistics, in batches of the training size).",
        _study.markdown_table(["data", "BN in", "mean gap", "batch-to-batch gap", "log-variance gap", "eval mode",
                               "train mode"], drift),
        "### Cost of a step",
        "ms per step: median of round-robin timings, one step of each variant in turn. The runs' own "
        "training time (evaluation excluded) is beside it; it also carries the machine's changing load.",
        _study.markdown_table(["data", "BN in", "ms per step", "vs none", "seconds per run", "steps/s in the runs"],
                              cost),
    ]


def figure(results, datasets, args):
    plt = _study.plt
    fig, axes = plt.subplots(len(datasets), 4, figsize=(17, 3.6 * len(datasets)), squeeze=False)
    for row, (spec, dataset) in zip(axes, datasets.items()):
        (key, name, lower), _ = quality_keys(dataset)
        for i, (label, _, _) in enumerate(VARIANTS):
            runs, color = results[spec][label], f"C{i}"
            g_first, g_last = runs[0]["weights"][0][0], runs[0]["weights"][0][-1]
            evals_steps = [e["step"] for e in max((r["evals"] for r in runs), key=len)]
            log_steps = [log["step"] for log in max((r["logs"] for r in runs), key=len)]
            curves = {
                0: (evals_steps, [[e.get(key) for e in r["evals"]] for r in runs]),
                1: (log_steps, [[log["grad_norms"][g_first] for log in r["logs"]] for r in runs]),
                2: (log_steps, [[log["grad_norms"][g_first] / log["grad_norms"][g_last] for log in r["logs"]]
                                for r in runs]),
            }
            if "mean_gap" in (runs[0]["logs"] or [{}])[-1]:
                curves[3] = (log_steps, [[log["mean_gap"] for log in r["logs"]] for r in runs])
            for col, (steps, values) in curves.items():
                mean, std = _study.band(values)
                row[col].plot(steps[:len(mean)], mean, color=color, label=label)
                row[col].fill_between(steps[:len(mean)], mean - std, mean + std, color=color, alpha=0.15)
            if 3 in curves:
                mean, _ = _study.band([[log["batch_gap"] for log in r["logs"]] for r in runs])
                row[3].plot(log_steps[:len(mean)], mean, color=color, ls=":", lw=1)
        titles = [f"{spec}: {name} ({'lower' if lower else 'higher'} is better)",
                  f"{spec}: ‖∂L/∂W‖ of G's first layer", f"{spec}: G first / last layer gradient norm",
                  f"{spec}: G BN mean gap /σ_B: running − batch (solid), batch − batch (dotted)"]
        for col, ax in enumerate(row):
            ax.set_title(titles[col], fontsize=9)
            ax.set_xlabel("step")
            if col in (1, 2) or (col == 0 and lower):
                ax.set_yscale("log")
        row[0].legend(title="BN in", fontsize=8)
    fig.tight_layout()
    return _study.save_figure(fig, args, "bn_in_gans")


def main(argv=None):
    p = _study.parser("bn_in_gans", __doc__)
    p.add_argument("--mnist", metavar="DIR", help="also run on MNIST from the IDX files in DIR (as digits)")
    args = p.parse_args(argv)
    budgets = QUICK if args.quick else FULL
    specs = {"digits": budgets["digits"], "grid25": budgets["grid25"]}
    if args.mnist:
        specs[f"mnist:{args.mnist}"] = budgets["digits"]
    datasets = {spec: load_dataset(spec) for spec in specs}
    norms = {label: (g_norm, d_norm) for label, g_norm, d_norm in VARIANTS}
    results, timings = {}, {}
    for spec, budget in specs.items():
        results[spec] = _study.across_seeds(
            norms, _study.seeds(args),
            lambda label, seed: run(spec, datasets[spec], *norms[label], seed, budget, EVAL_SAMPLES[args.quick]))
        timings[spec] = step_times(spec, datasets[spec], TIMING_ROUNDS[args.quick])
        print(f"{spec}: done", flush=True)
    header = (f"## BatchNorm in GANs — {len(_study.seeds(args))} seeds; steps: "
              + ", ".join(f"{spec} {b['steps']}" for spec, b in specs.items()) + ("  (--quick)" if args.quick else ""))
    _study.write_report(args, "bn_in_gans", [header] + tables(results, datasets, timings))
    figure(results, datasets, args)


if __name__ == "__main__":
    main()
