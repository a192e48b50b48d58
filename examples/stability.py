"""Study: the GAN stabilisation techniques, each alone and all combined, on ring8, grid25 and digits.

    python examples/stability.py [--quick] [--seeds N] [--mbd-kernels B] [--out DIR]

The claims under test, from shared/reference/003_022cd45cf3221e13.txt (GAN chapter): feature matching
gives "better results, but convergence is still not guaranteed"; minibatch discrimination "helps prevent
mode collapse and improves the chance of stable training"; historical averaging "can also improve the
stability of GAN training"; label smoothing "reduces the risk of adversarial examples"; batch
normalisation "stabilises learning"; instance normalisation as its per-sample alternative. Packing is
PacGAN's (Lin et al., 2018) remedy for mode collapse.

Every configuration starts from the same baseline: the trainer's GAN for the data set with *no*
normalisation (g_norm = d_norm = "none"), non-saturating loss, Adam 2e-4, β = (0.5, 0.999), batch 64.
2-D sets: G 2→128→128→2, D 2→128→128→1; digits: G 100→128→128→64 (sigmoid), D 64→128→128→1 — narrower
than the seed GAN's 500 so that 5 seeds × 9 configurations fit in a few minutes. Then one technique:

- one-sided label smoothing: real targets 0.9 (Salimans et al., 2016);
- feature matching: G minimises ‖E f(x) − E f(G(z))‖² on D's last hidden layer;
- minibatch discrimination: B kernels of dimension 5 on D's last hidden layer (B = 5 by default: in a
  two-seed pilot on grid25, 16 kernels raised the high-quality fraction from ~2% to ~10% at twice the cost);
- historical averaging: λ‖θ − θ̄‖² on both networks, λ = 1e-3 (1e-4 and 1e-2 looked no different in a pilot);
- batch norm in G (after each hidden Dense layer); instance norm in G (per sample, over the features);
- packing: D judges pairs of samples (PacGAN2);
- combined: all of them but instance norm (which batch norm replaces).

Metrics of 2,500 samples (eval mode) after the last step, mean ± std over seeds: for the 2-D sets the
modes captured, the high-quality fraction (within 3σ of a mode) and the reverse KL of the modes'
histogram to uniform (VEEGAN's and PacGAN's metrics); for digits the classifier's class coverage, the
Fréchet distance of its features and its Inception-score analogue.
"""

import numpy as np

import _study
from minigan.data import load_dataset
from minigan.gan.trainer import TrainConfig, Trainer

BASELINE = {"g_norm": "none", "d_norm": "none"}
ARCHITECTURE = {"digits": {"g_hidden": (128, 128), "d_hidden": (128, 128)}, "ring8": {}, "grid25": {}}
FULL = {"ring8": 1200, "grid25": 1200, "digits": 800}   # steps
QUICK = {"ring8": 30, "grid25": 30, "digits": 20}
EVAL_SAMPLES = {False: 2500, True: 300}
METRICS = {  # data set kind -> (key, label, format); the first is the headline
    "points": (("modes_captured", "modes captured", ".1f"), ("high_quality_fraction", "high-quality fraction", ".3f"),
               ("reverse_kl", "reverse KL", ".2f")),
    "images": (("frechet_distance", "Fréchet distance", ".1f"), ("class_coverage", "classes covered", ".1f"),
               ("inception_score", "IS analogue", ".2f")),
}


def techniques(mbd_kernels):
    """(label, TrainConfig fields) of each configuration: baseline, each technique alone, all combined."""
    alone = (
        ("one-sided label smoothing 0.1", {"label_smoothing": 0.1}),
        ("feature matching", {"feature_matching": True}),
        (f"minibatch discrimination ({mbd_kernels} kernels)", {"minibatch_kernels": mbd_kernels}),
        ("historical averaging 1e-3", {"historical_averaging": 1e-3}),
        ("batch norm in G", {"g_norm": "batch"}),
        ("instance norm in G", {"g_norm": "instance"}),
        ("packing 2", {"pack": 2}),
    )
    combined = {k: v for label, fields in alone if "instance" not in label for k, v in fields.items()}
    return (("baseline", {}),) + alone + (("all combined (no instance norm)", combined),)


def run(spec, dataset, fields, seed, steps, eval_samples, keep_samples):
    config = TrainConfig(data=spec, steps=steps, seed=seed, **{**BASELINE, **ARCHITECTURE[spec], **fields})
    trainer = Trainer(config, dataset, progress=False)
    result = _study.train(trainer, steps, evaluate_at=lambda s: s == steps, eval_samples=eval_samples)
    result["final"] = result["evals"][-1] if result["evals"] else {}
    if keep_samples and not result["diverged"]:
        result["samples"] = trainer.sample(1000 if dataset.modes is not None else 16)
    return result


def table(spec, kind, configs, results):
    rows = []
    for label, _ in configs:
        runs = results[label]
        rows.append([label] + [_study.mean_std([r["final"].get(k) for r in runs], fmt) for k, _, fmt in METRICS[kind]]
                    + [_study.mean_std([r["seconds"] for r in runs], ".1f"),
                       f"{sum(r['diverged'] for r in runs)}/{len(runs)}"])
    header = ["technique"] + [name for _, name, _ in METRICS[kind]] + ["train s", "diverged"]
    return [f"**{spec}**", _study.markdown_table(header, rows)]


def figure(configs, results, datasets, args):
    plt = _study.plt
    fig, axes = plt.subplots(1, len(datasets), figsize=(5.5 * len(datasets), 4.2), squeeze=False)
    labels = [label for label, _ in configs]
    for ax, (spec, dataset) in zip(axes[0], datasets.items()):
        key, name, _ = METRICS["points" if dataset.modes is not None else "images"][0]
        values = [_study.finite(r["final"].get(key) for r in results[spec][label]) for label in labels]
        means = [np.mean(v) if v else np.nan for v in values]
        stds = [np.std(v, ddof=1) if len(v) > 1 else 0.0 for v in values]
        ax.barh(range(len(labels)), means, xerr=stds, color=[f"C{i}" for i in range(len(labels))], alpha=0.8)
        for i, v in enumerate(values):
            ax.plot(v, [i] * len(v), "k.", ms=3)
        ax.set_yticks(range(len(labels)), labels if ax is axes[0][0] else [""] * len(labels), fontsize=8)
        ax.invert_yaxis()
        ax.set_title(f"{spec}: {name}" + (f" (of {len(dataset.modes)})" if dataset.modes is not None else
                                          " (lower is better)"), fontsize=9)
    fig.tight_layout()
    _study.save_figure(fig, args, "stability")

    fig, axes = plt.subplots(len(datasets), len(labels), figsize=(1.9 * len(labels), 2.0 * len(datasets)),
                             squeeze=False)
    for row, (spec, dataset) in zip(axes, datasets.items()):
        for ax, label in zip(row, labels):
            samples = results[spec][label][0].get("samples")
            ax.set_xticks([])
            ax.set_yticks([])
            if samples is None:
                ax.text(0.5, 0.5, "diverged", ha="center", va="center", transform=ax.transAxes)
            elif dataset.modes is not None:
                ax.plot(dataset.modes[:, 0], dataset.modes[:, 1], "+", color="0.6", ms=5)
                ax.plot(samples[:, 0], samples[:, 1], ".", ms=1.5, alpha=0.5)
                lim = 1.5 if spec == "ring8" else 5.5
                ax.set_xlim(-lim, lim)
                ax.set_ylim(-lim, lim)
            else:
                h, w = dataset.image_shape  # a 4 × 4 grid, one blank pixel between images
                tiles = np.pad(samples.reshape(16, h, w), ((0, 0), (0, 1), (0, 1)))
                grid = tiles.reshape(4, 4, h + 1, w + 1).transpose(0, 2, 1, 3).reshape(4 * (h + 1), 4 * (w + 1))
                ax.imshow(grid, cmap="gray_r", vmin=0, vmax=1)
            if spec == next(iter(datasets)):
                ax.set_title(label, fontsize=7)
        row[0].set_ylabel(spec)
    fig.suptitle("samples after the last step, seed 0", fontsize=9)
    fig.tight_layout()
    _study.save_figure(fig, args, "stability_samples")


def main(argv=None):
    p = _study.parser("stability", __doc__)
    p.add_argument("--mbd-kernels", type=int, default=5, help="minibatch-discrimination kernels (default 5)")
    args = p.parse_args(argv)
    budget = QUICK if args.quick else FULL
    configs = techniques(args.mbd_kernels)
    datasets = {spec: load_dataset(spec) for spec in budget}
    results, sections = {}, []
    for spec, dataset in datasets.items():
        fields = dict(configs)
        results[spec] = _study.across_seeds(
            fields, _study.seeds(args),
            lambda label, seed: run(spec, dataset, fields[label], seed, budget[spec], EVAL_SAMPLES[args.quick],
                                    keep_samples=seed == 0))
        sections += table(spec, "points" if dataset.modes is not None else "images", configs, results[spec])
        print(f"{spec}: done", flush=True)
    header = (f"## Stabilisation techniques — {len(_study.seeds(args))} seeds, mean ± std; steps: "
              + ", ".join(f"{spec} {steps}" for spec, steps in budget.items()) + ("  (--quick)" if args.quick else ""))
    _study.write_report(args, "stability", [header] + sections)
    figure(configs, results, datasets, args)


if __name__ == "__main__":
    main()
