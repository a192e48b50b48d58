"""Study: vanishing gradients in a deep generator — saturating against non-saturating activations, with
and without batch normalisation.

    python examples/vanishing_gradients.py [--quick] [--seeds N] [--out DIR]

The claims under test (shared/reference/):

- 003_022cd45cf3221e13.txt (GAN chapter, "消失的渐变"): during backpropagation the gradient "becomes
  smaller and smaller" on its way to the first layers, which then learn slowly or stop; this is a
  problem "when we use activation functions such as Sigmoid and Tanh"; "to overcome it we can use
  ReLU, LeakyReLU and PReLU", whose gradients do not saturate; "another solution is batch
  normalisation";
- 002_c892679bae74d905.txt (BN, short; its FAQ): BN "cannot solve the vanishing/exploding gradient
  problem", which comes from the weights' scale and the activation's nonlinearity.

Design. A deeper G, so that depth matters: z(100) → 6 hidden Dense layers of width 128 → Dense 64 →
sigmoid (seven Dense weights), on digits. G's hidden activation is one of LeakyReLU 0.2, ReLU, sigmoid,
tanh, each without and with BatchNorm after every hidden Dense layer: eight configurations. D is
64 → 256 → 256 → 1 with LeakyReLU 0.2 and no BN (narrower than the digits default of 500, to fit the
budget), the same for all. All weights start from the trainer's default "uniform" initialisation,
U(±1/√fan_in). Non-saturating loss, Adam β = (0.5, 0.999), batch 64, a linear learning-rate decay to 0,
and samples from an exponential moving average of G's weights (0.999) — the settings under which the
seed GAN gets below the Gaussian's FD within a few thousand steps.

The measurement: the relative gradient ‖∂L/∂W_l‖ / ‖W_l‖ of every Dense weight W_l of G (l = 1 at the
input, 7 at the output), from the trainer's ``step(grad_norms=True)``. Each profile is summarised by
two numbers: log10 of the first-to-last ratio r_1 / r_7 (0: no change with depth; −2: the first
layer's relative gradient is a hundredth of the last one's) and the least-squares slope of log10 r_l
against l over the hidden layers 1–6 (decades gained per layer towards the output; positive means the
gradient shrinks on its way to the input; the output layer is left out of the slope because no
configuration follows it with BN, so with BN it always stands apart). Two parts:

1. **At initialisation** (no training): the G gradient of the first step, 20 seeds per configuration.
   A seed gives every configuration the same weights and the same batches (the activation and BN draw
   no random numbers), so the comparisons are paired over seeds.
2. **Over training**: 1,500 steps, 5 seeds (0–4), the relative gradients every 50 steps; per run the
   median over those steps of each number. Also the relative change of G's first and last weights,
   ‖W(T) − W(0)‖ / ‖W(0)‖ — whether the first layers "stop learning" — and the sample quality at the
   end (Fréchet distance, IS analogue, classes on 2,000 samples) with the chance and data rows.
   Each configuration's learning rate comes from {2e-4, 5e-4, 1e-3} by the final FD of 1,500-step
   runs on the two pilot seeds. Each configuration's cost per step is timed interleaved.

Comparisons (Holm-corrected across each table, paired over seeds) are on log10 r_1/r_7: sigmoid, tanh
and ReLU against LeakyReLU, sigmoid and tanh against ReLU (all without BN), and each activation with BN
against without.

Budget (one core, OPENBLAS_NUM_THREADS=1): about 5.5 ms per step (4.4–6.4 by configuration, EMA
included). Pilots 8 configurations × 3 learning rates × 2 seeds × 1,500 steps ≈ 400 s; final runs
8 × 5 × 1,500 steps ≈ 330 s; the initialisation part (160 single steps) and the interleaved timing a
few seconds: about 12–13 CPU-minutes in all (measured: 12.4 CPU-minutes, 31.6 minutes wall on the
shared 2-core machine).
"""

import math

import numpy as np

import _study
from benchmarks import _common
from minigan.data import load_dataset
from minigan.gan.trainer import TrainConfig, Trainer
from minigan.nn import Dense

ACTIVATIONS = (("leaky_relu", "LeakyReLU 0.2"), ("relu", "ReLU"), ("sigmoid", "sigmoid"), ("tanh", "tanh"))
NORMS = (("none", ""), ("batch", " + BN"))
CONFIGS = {name + suffix: (activation, norm) for activation, name in ACTIVATIONS for norm, suffix in NORMS}
G_HIDDEN = (128,) * 6
D_HIDDEN = (256, 256)
SETTINGS = {"g_ema": 0.999, "lr_decay": "linear", "init": "uniform", "d_activation": "leaky_relu"}
INIT_LR = 2e-4  # the learning rate of the initialisation part's one step (D's update before G's gradient)
FULL = {"steps": 1500, "eval_every": 250, "log_every": 50, "init_seeds": 20, "grid": (2e-4, 5e-4, 1e-3),
        "timing_rounds": 30}
QUICK = {"steps": 10, "eval_every": 5, "log_every": 5, "init_seeds": 3, "grid": (5e-4, 1e-3), "timing_rounds": 3}
# the comparisons of log10 r_1/r_7 (variant, reference): higher (less vanishing) is better
COMPARISONS = (("sigmoid", "LeakyReLU 0.2"), ("tanh", "LeakyReLU 0.2"), ("ReLU", "LeakyReLU 0.2"),
               ("sigmoid", "ReLU"), ("tanh", "ReLU"),
               *((name + " + BN", name) for _, name in ACTIVATIONS))
FD = "frechet_distance"


# ------------------------------------------------------------------------------------ measuring
def config(label, seed, lr, steps):
    activation, norm = CONFIGS[label]
    return TrainConfig(data="digits", steps=steps, g_hidden=G_HIDDEN, d_hidden=D_HIDDEN, g_norm=norm,
                       g_activation=activation, lr=lr, seed=seed, **SETTINGS)


def g_dense(trainer):
    """(grad-norm key, Dense module) of every Dense layer of G, input layer first."""
    return [(f"G.{name}.weight", m) for name, m in trainer.G.named_modules() if isinstance(m, Dense)]


def weight_norms(trainer):
    return {key: float(np.linalg.norm(np.asarray(m.weight.data, dtype=np.float64))) for key, m in g_dense(trainer)}


def relative(grad_norms, norms):
    """[‖∂L/∂W_l‖ / ‖W_l‖ for l = 1 … L], input layer first."""
    return [grad_norms[key] / norms[key] for key in norms]


def summary(profile):
    """(log10 r_1/r_L, slope of log10 r_l against l over the hidden layers l = 1 … L−1) of one
    relative-gradient profile. The slope leaves out the output layer, which no configuration follows
    with BN: it is the per-layer rate through the stack where the configurations differ."""
    logs = np.log10(np.maximum(profile, 1e-300))
    hidden = logs[:-1]
    return float(logs[0] - logs[-1]), float(np.polyfit(np.arange(1, len(hidden) + 1), hidden, 1)[0])


def at_init(label, seed, dataset):
    """The relative-gradient profile of G's first gradient (weights at their initial values)."""
    trainer = Trainer(config(label, seed, INIT_LR, 1), dataset, progress=False)
    norms = weight_norms(trainer)
    out = trainer.step(grad_norms=True)
    return relative(out["grad_norms"], norms)


def run(label, seed, lr, dataset, budget, eval_samples):
    """One training run: evaluations, relative-gradient profiles every ``log_every`` steps, and the
    relative change of each of G's Dense weights."""
    trainer = Trainer(config(label, seed, lr, budget["steps"]), dataset, progress=False)
    start = {key: np.asarray(m.weight.data, dtype=np.float64).copy() for key, m in g_dense(trainer)}
    result = _study.train(trainer, budget["steps"], evaluate_at=lambda s: s % budget["eval_every"] == 0,
                          eval_samples=eval_samples, log_every=budget["log_every"],
                          on_log=lambda t: {"weight_norms": weight_norms(t)})
    result["profiles"] = [relative(log["grad_norms"], log["weight_norms"]) for log in result["logs"]]
    result["change"] = [float(np.linalg.norm(np.asarray(m.weight.data, dtype=np.float64) - start[key])
                              / np.linalg.norm(start[key])) for key, m in g_dense(trainer)]
    del result["logs"]  # kept as profiles
    return result


def training_summary(result):
    """(median log10 r_1/r_L, median slope, per-layer median profile) over a run's logged steps."""
    if not result["profiles"]:
        return math.nan, math.nan, None
    numbers = np.array([summary(p) for p in result["profiles"]])
    return (float(np.median(numbers[:, 0])), float(np.median(numbers[:, 1])),
            np.median(np.array(result["profiles"]), axis=0))


def step_times(dataset, rounds):
    """Median ms per training step of each configuration, timed round-robin, one step each."""
    trainers = {label: Trainer(config(label, 0, INIT_LR, 10_000), dataset, progress=False) for label in CONFIGS}
    items = [_common.Timed(label, lambda t=t: t.step(grad_norms=False)) for label, t in trainers.items()]
    return {label: _common.summarize(t)["median"]
            for label, t in _common.time_interleaved(items, rounds, warmup=3).items()}


# ----------------------------------------------------------------------------------- statistics
def comparison_rows(comparisons):
    rows = []
    for (variant, reference), c in comparisons.items():
        verdict = {"better": "higher (less vanishing)",
                   "worse": "lower (more vanishing)"}.get(c["verdict"], c["verdict"])
        rows.append([f"{variant} vs {reference}", _study.mean_ci(c["diffs"]), _study.fmt_p(c["p"]),
                     _study.fmt_p(c["p_holm"]), "yes" if c["separated"] else "no", verdict])
    return rows


COMPARISON_HEADER = ["comparison", "Δ log10 r₁/r₇ (95 % CI)", "p (paired t)", "p (Holm)", "intervals disjoint",
                     "variant's ratio is"]


def verdicts(init_ratio, comparisons, train_cmp):
    """The verdict rows on the claims, each decided by the initialisation part's log10 r_1/r_7 (20
    seeds); beside it the same comparison over training (a check, not the decision)."""
    def over_training(*keys, flip=False):
        """The comparisons ``keys`` over training; with ``flip`` read reference against variant."""
        parts = []
        for v, r in keys:
            c = train_cmp[(v, r)]
            diffs = [-d for d in c["diffs"]] if flip else c["diffs"]
            parts.append(f"{r + ' vs ' + v if flip else v + ' vs ' + r}: Δ {_study.mean_ci(diffs)}, "
                         f"p_Holm {_study.fmt_p(c['p_holm'])}")
        return "; ".join(parts)

    rows, vanish = [], {}
    for name in ("sigmoid", "tanh"):
        c = comparisons[(name, "LeakyReLU 0.2")]
        low, high = _study.bounds(init_ratio[name])
        if c["verdict"] == "worse" and high < 0:
            verdict = "supported"
        elif c["verdict"] == "better" or low >= 0:
            verdict = "contradicted"
        else:
            verdict = "not decided at this budget"
        vanish[name] = verdict == "supported"
        rows.append([f"003: {name} makes gradients vanish towards the first layers (vs LeakyReLU 0.2)",
                     f"log10 r₁/r₇ = {_study.mean_ci(init_ratio[name])} vs LeakyReLU 0.2 "
                     f"{_study.mean_ci(init_ratio['LeakyReLU 0.2'])}: Δ {_study.mean_ci(c['diffs'])}, "
                     f"p_Holm {_study.fmt_p(c['p_holm'])}", over_training((name, "LeakyReLU 0.2")), verdict])
    for name in ("LeakyReLU 0.2", "ReLU"):
        targets = [s for s in ("sigmoid", "tanh") if vanish[s]]
        # "worse": the saturating activation's ratio is the lower one, i.e. `name` overcomes it
        found = [comparisons[(s, name)]["verdict"] for s in targets]
        if not found:
            verdict = "not decided at this budget"  # no saturating activation vanished: nothing to overcome
        elif all(v == "worse" for v in found):
            verdict = "supported"
        elif any(v == "better" for v in found):
            verdict = "contradicted"
        else:
            verdict = "not decided at this budget"
        number = f"log10 r₁/r₇ = {_study.mean_ci(init_ratio[name])}" + "".join(
            f"; vs {s} {_study.mean_ci(init_ratio[s])}: "
            f"Δ {_study.mean_ci([-d for d in comparisons[(s, name)]['diffs']])}, "
            f"p_Holm {_study.fmt_p(comparisons[(s, name)]['p_holm'])}" for s in targets)
        rows.append([f"003: {name} overcomes it (vs the saturating activations that vanish)",
                     number, over_training(*((s, name) for s in targets), flip=True) or "—", verdict])
    for name in ("sigmoid", "tanh"):
        c = comparisons[(name + " + BN", name)]
        support = {"better": "supported", "worse": "contradicted"}.get(c["verdict"], "not decided at this budget")
        against = {"supported": "contradicted", "contradicted": "supported"}.get(support, support)
        number = (f"log10 r₁/r₇ with BN {_study.mean_ci(init_ratio[name + ' + BN'])}, without "
                  f"{_study.mean_ci(init_ratio[name])}: Δ {_study.mean_ci(c['diffs'])}, "
                  f"p_Holm {_study.fmt_p(c['p_holm'])}")
        check = over_training((name + " + BN", name))
        rows.append([f"003: BN is another solution ({name})", number, check, support])
        rows.append([f"002: BN cannot solve vanishing gradients ({name})", number, check, against])
    return rows


# --------------------------------------------------------------------------------------- report
def tables(init, init_seeds, pilots, picks, results, refs, budget, timings, n_eval):
    labels = list(CONFIGS)
    init_sum = {label: [summary(p) for p in init[label]] for label in labels}
    init_ratio = {label: [s[0] for s in init_sum[label]] for label in labels}
    init_slope = {label: [s[1] for s in init_sum[label]] for label in labels}
    train_sum = {label: [training_summary(r) for r in results[label]] for label in labels}
    train_ratio = {label: [s[0] for s in train_sum[label]] for label in labels}
    train_slope = {label: [s[1] for s in train_sum[label]] for label in labels}
    init_cmp = _study.compare_pairs(init_ratio, COMPARISONS, lower_is_better=False)
    train_cmp = _study.compare_pairs(train_ratio, COMPARISONS, lower_is_better=False)
    n_train = len(next(iter(results.values())))

    def layer(values, i):
        return _study.mean_ci([math.log10(p[i]) for p in values], ".2f")

    init_rows = [[label, _study.mean_ci(init_ratio[label]), _study.mean_ci(init_slope[label], ".3f"),
                  layer(init[label], 0), layer(init[label], -1)] for label in labels]
    train_rows = []
    for label in labels:
        runs = results[label]
        profiles = [s[2] for s in train_sum[label] if s[2] is not None]
        train_rows.append([label, _study.mean_ci(train_ratio[label]), _study.mean_ci(train_slope[label], ".3f"),
                           layer(profiles, 0), layer(profiles, -1),
                           _study.mean_ci([r["change"][0] for r in runs], ".3f"),
                           _study.mean_ci([r["change"][-1] for r in runs], ".3f")])
    key, chance, lower = _study.threshold("digits", refs)
    quality_rows = [[label, "—", *(f"{r[k]:{fmt}}" for k, _, fmt, _ in _study.METRICS["images"]), "—", "reference"]
                    for label, r in refs.items()]
    for label in labels:
        runs = results[label]
        finals = [r["evals"][-1] if r["evals"] and not r["diverged"] else {} for r in runs]
        fd = [f.get(FD) for f in finals]
        status = "learned" if _study.learned(fd, refs, FD, True) else "not learned yet"
        quality_rows.append([label, f"{picks[label]:g}",
                             *(_study.mean_ci([f.get(k) for f in finals], fmt)
                               for k, _, fmt, _ in _study.METRICS["images"]),
                             _study.fmt_reached(runs, key, chance, lower), status])
    pilot_rows = [[label, _study.fmt_pilot(budget["grid"], pilots[label], picks[label], ".1f")] for label in labels]
    cost_rows = [[label, f"{timings[label]:.2f}", f"{timings[label] / timings['LeakyReLU 0.2']:.2f}×",
                  _study.mean_ci([r["seconds"] for r in results[label]], ".1f")] for label in labels]
    steps = budget["steps"]
    return [
        f"### Verdicts (from the initialisation part, {init_seeds} seeds)",
        "The verdict is decided at initialisation; the same comparison over training is beside it as a check.",
        _study.markdown_table(["claim", "the deciding number (at initialisation)", "over training", "verdict"],
                              verdicts(init_ratio, init_cmp, train_cmp)),
        f"### Relative gradients at initialisation ({init_seeds} seeds)",
        "r_l = ‖∂L/∂W_l‖ / ‖W_l‖ for G's Dense weights, l = 1 (input) … 7 (output), at G's first gradient. "
        "log10 r₁/r₇ < 0: the first layer's relative gradient is smaller than the last one's (−1: ten times). "
        "Slope: of log10 r_l against l over the hidden layers 1–6 (the output layer, never followed by BN, "
        "left out), in decades per layer (positive: shrinking towards the input). "
        "Mean ± 95 % CI over seeds.",
        _study.markdown_table(["configuration", "log10 r₁/r₇", "slope over layers 1–6 (decades/layer)", "log10 r₁",
                               "log10 r₇"],
                              init_rows),
        "Comparisons of log10 r₁/r₇ at initialisation (paired over seeds; Holm across the table):",
        _study.markdown_table(COMPARISON_HEADER, comparison_rows(init_cmp)),
        f"### Relative gradients over training ({n_train} seeds, {steps} steps)",
        f"Per run, the median over the steps logged every {budget['log_every']} of each number; then mean ± 95 % CI "
        "over seeds. Weight change: ‖W(T) − W(0)‖ / ‖W(0)‖ of G's first and last Dense weight at the end.",
        _study.markdown_table(["configuration", "log10 r₁/r₇", "slope over layers 1–6 (decades/layer)", "log10 r₁",
                               "log10 r₇", "change of W₁", "change of W₇"], train_rows),
        "Comparisons of log10 r₁/r₇ over training (paired over seeds; Holm across the table):",
        _study.markdown_table(COMPARISON_HEADER, comparison_rows(train_cmp)),
        f"### Sample quality after {steps} steps ({n_train} seeds, {n_eval} samples)",
        f"Fréchet distance (lower is better), IS analogue, classes covered, of the EMA generator at the end; "
        f"steps to an FD below the chance level ({chance:.2f}, the Gaussian fitted to the pixels), evaluated "
        f"every {budget['eval_every']} steps. A configuration whose FD interval is not wholly below chance "
        "is \"not learned yet\" and is not ranked.",
        _study.markdown_table(["configuration", "lr", *(name for _, name, _, _ in _study.METRICS["images"]),
                               "steps to FD < chance", "status"], quality_rows),
        "### Learning rates",
        f"Final FD of {steps}-step runs on the pilot seeds {_study.PILOT_SEEDS} for each learning rate; the pick "
        "(lowest mean) in bold.",
        _study.markdown_table(["configuration", "pilot FD by learning rate"], pilot_rows),
        "### Cost of a step",
        "ms per step: median of round-robin timings, one step of each configuration in turn (EMA included); "
        "beside it, the runs' own training time (evaluation excluded).",
        _study.markdown_table(["configuration", "ms per step", "vs LeakyReLU 0.2", "seconds per run"], cost_rows),
    ]


def figure(init, results, refs, args):
    plt = _study.plt
    fig, axes = plt.subplots(3, 4, figsize=(17, 11), sharex="row")
    chance = _study.chance_value(refs, FD, True)
    data = refs["data"][FD]
    layers = None
    for col, (activation, name) in enumerate(ACTIVATIONS):
        for i, (norm, suffix) in enumerate(NORMS):
            label, color = name + suffix, f"C{i}"
            legend = "with BN" if suffix else "no BN"
            rows = {0: init[label], 1: [training_summary(r)[2] for r in results[label]]}
            for row, profiles in rows.items():
                profiles = [p for p in profiles if p is not None]
                if not profiles:
                    continue
                layers = np.arange(1, len(profiles[0]) + 1)
                for p in profiles:
                    axes[row, col].plot(layers, p, color=color, lw=0.6, alpha=0.35)
                geo = 10 ** np.mean(np.log10(np.array(profiles)), axis=0)
                axes[row, col].plot(layers, geo, color=color, lw=2, marker="o", ms=3, label=legend)
            for r in results[label]:
                axes[2, col].plot([e["step"] for e in r["evals"]], [e[FD] for e in r["evals"]], color=color,
                                  lw=0.8, alpha=0.6, label=legend if r is results[label][0] else None)
        axes[0, col].set_title(f"{name}: at initialisation (every seed)", fontsize=9)
        axes[1, col].set_title(f"{name}: over training (median per run)", fontsize=9)
        axes[2, col].set_title(f"{name}: Fréchet distance (lower is better)", fontsize=9)
        for row in (0, 1):
            axes[row, col].set_yscale("log")
            axes[row, col].set_xlabel("Dense layer of G (1 = input)")
            axes[row, col].set_ylabel("‖∂L/∂W‖ / ‖W‖")
            if layers is not None:
                axes[row, col].set_xticks(layers)
        axes[2, col].axhline(chance, color="k", ls="--", lw=1, label=f"chance (Gaussian) {chance:.1f}")
        axes[2, col].axhline(data, color="k", ls=":", lw=1, label=f"data {data:.2f}")
        axes[2, col].set_yscale("log")
        axes[2, col].set_xlabel("step")
        axes[2, col].set_ylabel("Fréchet distance")
        for row in range(3):
            axes[row, col].legend(fontsize=7)
    fig.tight_layout()
    return _study.save_figure(fig, args, "vanishing_gradients")


def main(argv=None):
    args = _study.parser("vanishing_gradients", __doc__).parse_args(argv)
    budget = QUICK if args.quick else FULL
    dataset = load_dataset("digits")
    n_eval = _study.eval_samples(dataset, args.quick)
    refs = _study.reference_rows(dataset, n_eval)
    labels = list(CONFIGS)

    init_seeds = list(range(budget["init_seeds"]))
    init = _study.across_seeds(labels, init_seeds, lambda label, seed: at_init(label, seed, dataset))
    print("initialisation part: done", flush=True)

    def pilot_score(label, lr, seed):
        r = run(label, seed, lr, dataset, budget, n_eval)
        return None if r["diverged"] or not r["evals"] else r["evals"][-1][FD]

    pilots, picks = {}, {}
    for label in labels:
        picks[label], pilots[label] = _study.pick_lr(budget["grid"], lambda lr, seed: pilot_score(label, lr, seed),
                                                    lower_is_better=True)
        print(f"pilot {label}: {_study.fmt_pilot(budget['grid'], pilots[label], picks[label], '.1f')}", flush=True)

    results = _study.across_seeds(labels, _study.seeds(args),
                                  lambda label, seed: run(label, seed, picks[label], dataset, budget, n_eval))
    print("training part: done", flush=True)
    timings = step_times(dataset, budget["timing_rounds"])
    header = (f"## Vanishing gradients in a deep G — G 100→{'→'.join(map(str, G_HIDDEN))}→64 on digits; "
              f"{len(init_seeds)} seeds at initialisation, {len(_study.seeds(args))} seeds × {budget['steps']} steps"
              + ("  (--quick)" if args.quick else ""))
    claims = "\n\n".join([
        "**Claims tested**",
        _study.claim("003_022cd45cf3221e13.txt", "GAN chapter (book): 消失的渐变",
                     "在反向传播期间，梯度从最后一层向第一层反向流动。 随着向后流动，它变得越来越小。 有时，梯度是如此之小，"
                     "以至于初始层学习非常缓慢或完全停止学习。",
                     "During backpropagation the gradient flows backwards from the last layer to the first. As it "
                     "flows back it becomes smaller and smaller. Sometimes the gradient is so small that the "
                     "initial layers learn very slowly or stop learning altogether."),
        _study.claim("003_022cd45cf3221e13.txt", "GAN chapter (book): 消失的渐变",
                     "当我们使用 Sigmoid 和 Tanh 等 培养功能时，这也是一个问题。 …… 为了克服这个问题，我们可以使用激活函数，"
                     "例如 ReLU，LeakyReLU 和 PReLU。 这些激活函数的梯度在反向传播期间不会饱和，从而导致神经网络的有效训练。 "
                     "另一种解决方案是使用批处理规范化，该规范化将对网络隐藏层的输入规范化。",
                     "This is also a problem when we use activation functions such as Sigmoid and Tanh [the text's "
                     "培养功能 is a garbled 激活函数, activation functions]. … To "
                     "overcome this problem we can use activation functions such as ReLU, LeakyReLU and PReLU. "
                     "The gradients of these activation functions do not saturate during backpropagation, which "
                     "leads to effective training of the network. Another solution is to use batch "
                     "normalisation, which normalises the inputs of the network's hidden layers."),
        _study.claim("002_c892679bae74d905.txt", "BatchNorm, short: 附录常见问题与解答",
                     "虽然BN层可以加速模型收敛，但它并不能解决梯度消失/爆炸问题。梯度消失/爆炸问题主要是由权重的大小和激活函数的"
                     "非线性导致的，BN层仅仅是对输入特征的一种预处理。",
                     "Although a BN layer can speed up the model's convergence, it cannot solve the "
                     "vanishing/exploding gradient problem. That problem is caused mainly by the size of the "
                     "weights and the nonlinearity of the activation functions; a BN layer is only a kind of "
                     "preprocessing of the input features."),
    ])
    _study.write_report(args, "vanishing_gradients",
                        [header, claims] + tables(init, len(init_seeds), pilots, picks, results, refs, budget,
                                                  timings, n_eval))
    figure(init, results, refs, args)


if __name__ == "__main__":
    main()
