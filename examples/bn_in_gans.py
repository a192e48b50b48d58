"""Study: batch normalisation in a GAN — none, in G, in D (its real and fake batches normalised apart or
together), in both — and the reference texts' further claims about BN: higher learning rates, poor
initialisation, a sample's dependence on its batch-mates, imbalanced data.

    python examples/bn_in_gans.py [--quick] [--seeds N] [--out DIR]

The claims under test (quoted in full, Chinese and English, in the report this script writes):

- 000_24081a0f7aa74c5f.txt (BatchNorm in GANs): BN makes the model converge faster; it improves the
  model's performance, in the generator and in the discriminator; it may make the model unstable, e.g.
  vanishing or exploding gradients;
- 003_022cd45cf3221e13.txt (GAN chapter): BN handles poor weight initialisation; with BN higher learning
  rates can be used;
- 002_c892679bae74d905.txt (BatchNorm, short): in GANs BN may change the latent space and so the quality
  of what is generated; BN's performance declines on imbalanced data sets.

Design (``STUDIES.md``; the shared rules are in ``_study.py``):

- Data: the bundled digits (1,797 images of 8 × 8 pixels) and the trainer's seed GAN, G 100→500→500→64
  (sigmoid), D 64→500→500→1, LeakyReLU 0.2, non-saturating loss, Adam β = (0.5, 0.999), batch 64. Every
  run decays its learning rate linearly to 0 and is evaluated on an exponential moving average (0.999)
  of G's weights: in pilots this was what brought the BN-in-G GAN's Fréchet distance clearly below
  the Gaussian fitted to the pixels (the chance row, FD 7.9) within the budget; without it FD moved by
  ±3 between evaluations. The 2-D sets are not in this study: at this budget even the best 2-D GAN
  stays at chance on grid25 (high-quality fraction 1–3 % against uniform noise's 2.7 % after 5,000
  steps); BN in G on ring8 is one of the techniques in ``stability.py``.
- Variants: BN after each hidden Dense layer of G, of D, of both, of neither; and, because the trainer's
  D sees the real batch and the fake batch in separate calls (so BN in D normalises each batch by its
  own statistics, and the batch statistics alone tell real from fake), the control in which D (with
  BN in both networks) normalises one mixed batch of 64 real and 64 fake samples, in D's update and in
  G's (where the real half enters only D's statistics, not the loss).
- Learning rates: each variant's from the grid ``LR_GRID`` on two pilot seeds (``_study.PILOT_SEEDS``)
  of the full length, scored by the final FD; then 5 fresh seeds. (A first run of this design piloted
  800-step runs: they favoured the largest rate, 1e-3, which at 2,500 steps left even BN in G at FD
  8.6 ± 2.7, not clearly below chance — short pilots pick rates for short runs.)
- Metrics of 2,000 eval-mode samples (more than the data's 1,797) every ``EVAL_EVERY`` steps: FD of the
  digit classifier's features (headline), its Inception-score analogue and classes covered; the
  steps and seconds until FD first beats the chance row; ‖∂L/∂W‖ of every Dense weight; and the cost
  of a step (the variants timed round-robin on one thread).
- Further claims, each with 5 fresh seeds of ``EXTRA_STEPS`` steps: no BN against BN in G at a learning
  rate ``HIGH_LR_FACTOR`` times each one's pick; the same two with G's initial weights scaled by 0.1 and
  by 10 (poor initialisation); BN in G on digits whose classes 5–9 keep only 20 % of their images
  (``IMBALANCE``), against the same GAN on the full set, scored by the classifier trained on the full
  set (FD against the imbalanced data, and how closely the samples' class shares follow the data's);
  and, on the final BN-in-G generators, how far one sample moves when its 63 batch-mates are redrawn
  (training mode) against the distance between two different samples — 0 in eval mode by
  construction.

Budget (one core, this machine): the pilots 5 variants × 3 lrs × 2 seeds × 2,000 steps, the final
5 × 5 × 2,000 steps, the extra claims 30 runs × 1,500 and 5 × 2,000, at 9–12 ms a step: about 30
minutes.
"""

import dataclasses
import math

import numpy as np

import _study
from benchmarks import _common
from minigan import ops
from minigan.autograd import no_grad
from minigan.data import load_dataset
from minigan.gan.models import pack_samples
from minigan.gan.step import TrainingStep
from minigan.gan.trainer import TrainConfig, Trainer
from minigan.metrics.classifier import get_classifier, image_metrics
from minigan.nn import Dense, Module
from minigan.tensor import Tensor

SPEC = "digits"
VARIANTS = (  # (label, g_norm, d_norm, D normalises a mixed real + fake batch)
    ("none", "none", "none", False),
    ("G only", "batch", "none", False),
    ("D only", "none", "batch", False),
    ("both", "batch", "batch", False),
    ("both, mixed batch", "batch", "batch", True),
)
BASELINE = "none"        # the claims are about adding BN
COMMON = {"lr_decay": "linear", "g_ema": 0.999}
LR_GRID = (2e-4, 6e-4, 1.8e-3)
HIGH_LR_FACTOR = 5
INIT_SCALES = (0.1, 10.0)
IMBALANCE = {"classes": (5, 6, 7, 8, 9), "keep": 0.2}
FULL = {"steps": 2000, "pilot_steps": 2000, "extra_steps": 1500, "eval_every": 250, "log_every": 50,
        "timing_rounds": 60, "mates_draws": 50}
QUICK = {"steps": 20, "pilot_steps": 4, "extra_steps": 6, "eval_every": 10, "log_every": 5,
         "timing_rounds": 2, "mates_draws": 3}

CLAIMS = {
    "faster": ("000_24081a0f7aa74c5f.txt", "BatchNorm in GANs",
               "提高模型的收敛速度：BN 层可以使模型在训练过程中更快地收敛，从而减少训练时间。",
               "It raises the speed of convergence: the BN layer lets the model converge faster in training, "
               "which cuts the training time."),
    "performance": ("000_24081a0f7aa74c5f.txt", "BatchNorm in GANs",
                    "提高模型的性能：BN 层可以提高模型的性能，使生成器生成更逼近真实数据的实例，使判别器更好地区分生成器的输出和真实数据。",
                    "It improves the model's performance: the BN layer makes the generator produce instances "
                    "closer to the real data, and the discriminator tell the generator's output from real data "
                    "better."),
    "unstable": ("000_24081a0f7aa74c5f.txt", "BatchNorm in GANs",
                 "BN 层可能导致模型的不稳定性：BN 层可能导致模型的不稳定性，例如模型的梯度消失或梯度爆炸。",
                 "The BN layer may make the model unstable: for example vanishing or exploding gradients."),
    "initialisation": ("003_022cd45cf3221e13.txt", "GAN chapter (book)",
                       "它用于稳定学习并处理较差的权重初始化问题。",
                       "It is used to stabilise learning and to deal with poor weight initialisation."),
    "learning_rate": ("003_022cd45cf3221e13.txt", "GAN chapter (book)",
                      "通过批量归一化，我们可以使用更高的学习率，从而使我们的网络更快地达到全球最低水平。",
                      "With batch normalisation we can use higher learning rates, so that our network reaches "
                      "the global minimum faster."),
    "batch_mates": ("002_c892679bae74d905.txt", "BatchNorm, short",
                    "在某些任务中，如生成对抗网络（GANs），BN层可能会导致潜在空间的变化，从而影响生成的质量。",
                    "In some tasks, such as generative adversarial networks (GANs), the BN layer may change the "
                    "latent space and so affect the quality of what is generated."),
    "imbalanced": ("002_c892679bae74d905.txt", "BatchNorm, short",
                   "BN层也面临着一些挑战，例如在分布不均衡的数据集上的性能下降、计算开销等。",
                   "BN layers also face challenges, such as a decline in performance on data sets with an "
                   "imbalanced distribution, and computational cost."),
}


# --------------------------------------------------------------------------------- the runs
class MixedBatchD(Module):
    """D with BatchNorm over one batch of real and fake samples together.

    ``partner`` is the real batch that joins every call of D in G's update (its rows enter D's batch
    statistics, not the loss: only the fake rows' logits are returned). D's own update calls
    :meth:`both` on the concatenated batch."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner
        self.partner = None

    def both(self, real, fake):
        logits = self.inner(ops.concatenate([real, fake], axis=0))
        n = real.shape[0]
        return logits[:n], logits[n:]

    def forward(self, x):
        if self.partner is None:
            return self.inner(x)
        return self.inner(ops.concatenate([self.partner, x], axis=0))[self.partner.shape[0]:]

    def features(self, x):
        return self.inner.features(x)


class MixedBatchStep(TrainingStep):
    """The training step with D's batches mixed (see :class:`MixedBatchD`): D's update normalises the
    step's real and fake batch together; G's update, a fresh real batch with G's fake batch."""

    def __init__(self, config, dataset):
        super().__init__(config, dataset)
        self.D = MixedBatchD(self.D)

    def d_logits(self, real, fake):
        return self.D.both(real, fake)

    def d_update(self, step):
        out = super().d_update(step)
        c = self.config
        self.D.partner = pack_samples(self.real_batch(c.batch_size), c.pack)  # for G's update
        return out


class MixedBatchTrainer(Trainer):
    step_class = MixedBatchStep


def make_trainer(dataset, label, seed, lr, steps, init_scale=1.0):
    _, g_norm, d_norm, mixed = next(v for v in VARIANTS if v[0] == label)
    config = TrainConfig(data=SPEC, steps=steps, g_norm=g_norm, d_norm=d_norm, lr=lr, seed=seed, **COMMON)
    trainer = (MixedBatchTrainer if mixed else Trainer)(config, dataset, progress=False)
    if init_scale != 1.0:  # a poor initialisation: every Dense weight of G (and its average) scaled
        for model in (trainer.G, trainer.G_ema):
            for m in model.modules():
                if isinstance(m, Dense):
                    m.weight.data *= init_scale
    return trainer


def run(dataset, label, seed, lr, steps, budget, n_eval, init_scale=1.0, keep=False):
    trainer = make_trainer(dataset, label, seed, lr, steps, init_scale)
    every = min(budget["eval_every"], steps)
    result = _study.train(trainer, steps, evaluate_at=lambda s: s % every == 0 or s == steps,
                          eval_samples=n_eval, log_every=budget["log_every"])
    result["weights"] = dense_weights(trainer)
    result["final"] = result["evals"][-1] if result["evals"] and not result["diverged"] else {}
    if keep and not result["diverged"]:
        result["trainer"] = trainer
    return result


def dense_weights(trainer):
    """The grad-norm keys of the Dense weights, input layer first: (G's, D's)."""
    def names(prefix, model):
        return [f"{prefix}.{name}.weight" for name, m in model.named_modules() if isinstance(m, Dense)]
    return names("G", trainer.G), names("D", trainer.D)


def fd(run):
    return run["final"].get("frechet_distance") if run["final"] else None


def step_times(dataset, picks, rounds):
    """Median ms per training step of each variant (at its learning rate), timed round-robin."""
    trainers = {label: make_trainer(dataset, label, 0, picks[label], 10 ** 6) for label, *_ in VARIANTS}
    items = [_common.Timed(label, lambda t=t: t.step(grad_norms=False)) for label, t in trainers.items()]
    return {label: _common.summarize(t)["median"]
            for label, t in _common.time_interleaved(items, rounds, warmup=5).items()}


# ----------------------------------------------------------------------- batch-mates (002)
def batch_mates(trainer, draws, seed=7):
    """How much one generated sample depends on the rest of its batch (BN in G, training mode).

    For ``draws`` fixed noise vectors z₀, G runs on batches of the training size whose other rows are
    redrawn ``draws`` times; the spread of G(z₀) over those redraws (root mean square distance to its
    mean, in pixels' units) is set against the root mean square distance between two samples of
    different z. In eval mode (running statistics) the first is 0 by construction; it is measured
    there too as a check. Returns {"train": ratio, "eval": ratio, "train_rms": …, "between_rms": …}."""
    G, n = trainer.G, trainer.config.batch_size
    rng = np.random.default_rng(seed)
    z_dim = trainer.config.z_dim
    fixed = rng.standard_normal((draws, z_dim)).astype(np.float32)
    out = {}
    kept = [b.data.copy() for b in G.buffers()]
    for mode in ("train", "eval"):
        G.train(mode == "train")
        spread, between = [], []
        with no_grad():
            for z0 in fixed:
                xs = []
                for _ in range(draws):
                    z = rng.standard_normal((n, z_dim)).astype(np.float32)
                    z[0] = z0
                    batch = G(Tensor(z)).numpy().astype(np.float64)
                    xs.append(batch[0])
                    between.append(np.sum((batch[1] - batch[2]) ** 2))
                xs = np.array(xs)
                spread.append(np.mean(np.sum((xs - xs.mean(axis=0)) ** 2, axis=1)))
        out[f"{mode}_rms"] = math.sqrt(np.mean(spread))
        out["between_rms"] = math.sqrt(np.mean(between))
        out[mode] = out[f"{mode}_rms"] / out["between_rms"]
    G.train(True)
    for buffer, data in zip(G.buffers(), kept):
        buffer.data[...] = data
    return out


def train_mode_fd(trainer, dataset, n):
    """FD of n samples of the trained G (not its average) in training mode (batch statistics of
    batches of the training size) beside the same G in eval mode (running statistics)."""
    size = trainer.config.batch_size
    batches = [trainer.sample(size, train_mode=True, average=False) for _ in range(-(-n // size))]
    train = _study.evaluate_samples(np.concatenate(batches)[:n], dataset)["frechet_distance"]
    evaluated = _study.evaluate_samples(trainer.sample(n, average=False), dataset)["frechet_distance"]
    return {"train_mode": train, "eval_mode": evaluated}


# ------------------------------------------------------------------------- imbalance (002)
def imbalanced(dataset, seed=0):
    """The digits with each class in IMBALANCE["classes"] cut to IMBALANCE["keep"] of its images."""
    rng = np.random.default_rng(seed)
    keep = np.ones(len(dataset.x), dtype=bool)
    for c in IMBALANCE["classes"]:
        index = np.flatnonzero(dataset.labels == c)
        drop = rng.permutation(index)[int(round(IMBALANCE["keep"] * len(index))):]
        keep[drop] = False
    return dataclasses.replace(dataset, x=dataset.x[keep], labels=dataset.labels[keep])


def class_metrics(samples, data, classifier):
    """FD against ``data`` with the full set's classifier, and the class shares: total variation
    distance between the samples' predicted class shares and the data's labels' shares, and the
    minority classes' share of the samples over their share of the data."""
    result = image_metrics(samples, classifier, real_x=data.x, real_labels=data.labels)
    generated = np.asarray(result.class_histogram, dtype=np.float64)
    generated /= generated.sum()
    truth = np.bincount(data.labels, minlength=len(generated)) / len(data.labels)
    minority = list(IMBALANCE["classes"])
    return {"frechet_distance": result.frechet_distance,
            "class_tv": 0.5 * float(np.abs(generated - truth).sum()),
            "minority_ratio": float(generated[minority].sum() / truth[minority].sum())}


# ------------------------------------------------------------------------------ the tables
def quality_table(results, references, picks):
    metrics = _study.METRICS["images"]
    key, _, _, lower = metrics[0]
    chance_key, chance_value, _ = _study.threshold(SPEC, references)
    rows = []
    for label, *_ in VARIANTS:
        runs = results[label]
        finals = [r["final"] for r in runs]
        values = [f.get(key) for f in finals]
        status = "learned" if _study.learned(values, references, key, lower) else "not learned yet"
        rows.append([label, f"{picks[label]:g}"]
                    + [_study.mean_ci([f.get(k) for f in finals], fmt) for k, _, fmt, _ in metrics]
                    + [_study.fmt_reached(runs, chance_key, chance_value, True),
                       _study.fmt_reached(runs, chance_key, chance_value, True, "seconds"),
                       status, f"{sum(r['diverged'] for r in runs)}/{len(runs)}"])
    header = (["BN in", "lr"] + [f"{name}" for _, name, _, _ in metrics]
              + [f"steps to FD < {chance_value:.2f}", "seconds to it", "status", "diverged"])
    return _study.markdown_table(header, rows)


def censored_steps(runs, value, budget_steps):
    """Steps to FD < value per run, a run that never got there counted at the budget (a lower bound)."""
    return [(_study.reached(r, "frechet_distance", value, True)[0] or budget_steps) for r in runs]


def comparison_table(results, references, budget):
    """Each BN variant against no BN, and the mixed-batch controls against their separate-batch twins:
    final FD and steps to the chance FD (censored at the budget), Holm across each column's family."""
    _, value, _ = _study.threshold(SPEC, references)
    pairs = [(label, BASELINE) for label, *_ in VARIANTS if label != BASELINE]
    pairs += [("both, mixed batch", "both"), ("both", "G only"), ("both, mixed batch", "G only")]
    fds = {label: [fd(r) for r in results[label]] for label, *_ in VARIANTS}
    steps = {label: censored_steps(results[label], value, budget["steps"]) for label, *_ in VARIANTS}
    out = {}
    for name, values in (("fd", fds), ("steps", steps)):
        for (a, b), c in _study.compare_pairs(values, pairs, lower_is_better=True).items():
            out.setdefault(f"{a} vs {b}", {})[name] = (c["difference"], c["p"], c["p_holm"], c["verdict"])
    rows = [[label, f"{v['fd'][0]:+.2f}", _study.fmt_p(v["fd"][2]), v["fd"][3],
             f"{v['steps'][0]:+.0f}", _study.fmt_p(v["steps"][2]), v["steps"][3]] for label, v in out.items()]
    table = _study.markdown_table(["comparison (a vs b)", "FD a − b", "p (Holm)", "FD verdict",
                                   "steps a − b", "p (Holm)", "steps verdict"], rows)
    return table, out


def gradient_table(results):
    rows = []
    for label, *_ in VARIANTS:
        runs = [r for r in results[label] if r["logs"]]
        g_names, d_names = results[label][0]["weights"]
        g = [[median_norm(r, k) for r in runs] for k in g_names]
        d = [[median_norm(r, k) for r in runs] for k in d_names]
        rows.append([label] + [_study.mean_ci(v, ".2g") for v in g + d]
                    + [_study.mean_ci([first_to_last(r) for r in runs], ".2g")])
    header = (["BN in"] + [f"G W{i + 1}" for i in range(len(g_names))] + [f"D W{i + 1}" for i in range(len(d_names))]
              + ["G W1 / G last"])
    return _study.markdown_table(header, rows)


def first_to_last(run):
    """Median over logged steps of ‖∂L/∂W₁‖ / ‖∂L/∂W_last‖ of G (None for a run without logs)."""
    g_names = run["weights"][0]
    a, b = median_norm(run, g_names[0]), median_norm(run, g_names[-1])
    return a / b if a and b else None


def median_norm(run, key):
    values = [log["grad_norms"][key] for log in run["logs"] if key in log["grad_norms"]]
    return float(np.median(values)) if values else None


def cost_table(timings):
    ms0 = timings[BASELINE]
    return _study.markdown_table(["BN in", "ms per step", "vs none"],
                                 [[label, f"{timings[label]:.2f}", f"{timings[label] / ms0:.2f}×"]
                                  for label, *_ in VARIANTS])


def extra_table(extras, references):
    """The higher-learning-rate and poor-initialisation runs beside each variant's main runs."""
    key = "frechet_distance"
    rows = []
    for setting, by_label in extras.items():
        for label, runs in by_label.items():
            values = [fd(r) for r in runs]
            status = "learned" if _study.learned(values, references, key, True) else "not learned yet"
            rows.append([setting, label, _study.mean_ci(values, ".2f"), status,
                         f"{sum(r['diverged'] for r in runs)}/{len(runs)}"])
    return _study.markdown_table(["setting", "BN in", "Fréchet distance", "status", "diverged"], rows)


# ------------------------------------------------------------------------------ verdicts
def verdicts(results, comparisons, extras, references, mates, imbalance, budget):
    """[(claim key, verdict, the number that decides it)]."""
    chance = _study.chance_value(references, "frechet_distance", True)
    fds = {label: [fd(r) for r in results[label]] for label, *_ in VARIANTS}
    learned = {label: _study.learned(v, references, "frechet_distance", True) for label, v in fds.items()}
    out = []

    steps = comparisons["G only vs none"]["steps"]
    reached = {label: sum(_study.reached(r, "frechet_distance", chance, True)[0] is not None for r in results[label])
               for label in ("G only", "none")}
    n = len(results["none"])
    if steps[3] == "better":
        v = "supported"
    elif steps[3] == "worse":
        v = "contradicted"
    else:
        v = "not decided at this budget"
    out.append(("faster", v, f"BN in G reached FD < {chance:.2f} in {reached['G only']}/{n} runs "
                f"({_study.fmt_reached(results['G only'], 'frechet_distance', chance, True)} steps), no BN in "
                f"{reached['none']}/{n} within {budget['steps']} steps (paired p, Holm: {_study.fmt_p(steps[2])})"))

    def verdict_of(comparison, a, b):
        """supported / contradicted / not decided, from a comparison where "better" favours the claim;
        a comparison of two configurations neither of which is learned decides nothing."""
        if not (learned[a] or learned[b]) or comparison[3] == _study.NO_DIFFERENCE:
            return "not decided at this budget"
        return "supported" if comparison[3] == "better" else "contradicted"

    g = comparisons["G only vs none"]["fd"]
    out.append(("performance (BN in G)", verdict_of(g, "G only", "none"),
                f"FD {_study.mean_ci(fds['G only'])} with BN in G vs {_study.mean_ci(fds['none'])} without "
                f"(p, Holm: {_study.fmt_p(g[2])})"))
    d = comparisons["both vs G only"]["fd"]
    dm = comparisons["both, mixed batch vs G only"]["fd"]
    v_sep, v_mix = verdict_of(d, "both", "G only"), verdict_of(dm, "both, mixed batch", "G only")
    v = v_sep if v_sep == v_mix else (v_mix if v_sep == "not decided at this budget" else
                                      (v_sep if v_mix == "not decided at this budget" else "not decided at this budget"))
    out.append(("performance (BN in D)", v,
                f"adding BN in D to BN in G: FD {_study.mean_ci(fds['both'])} (real and fake normalised apart; "
                f"p, Holm: {_study.fmt_p(d[2])}), {_study.mean_ci(fds['both, mixed batch'])} (one mixed batch; "
                f"{_study.fmt_p(dm[2])}), against {_study.mean_ci(fds['G only'])}; D alone: "
                f"{_study.mean_ci(fds['D only'])}"))

    diverged = sum(r["diverged"] for label, *_ in VARIANTS for r in results[label] if label != BASELINE)
    total = sum(len(results[label]) for label, *_ in VARIANTS if label != BASELINE)
    ratio = {label: [first_to_last(r) for r in results[label]] for label in ("none", "G only", "both")}
    out.append(("unstable", "contradicted" if diverged == 0 else "supported",
                f"{diverged}/{total} runs with BN diverged; G's first-to-last layer gradient-norm ratio "
                f"{_study.mean_ci(ratio['G only'], '.2g')} with BN in G, {_study.mean_ci(ratio['both'], '.2g')} "
                f"with BN in both, {_study.mean_ci(ratio['none'], '.2g')} without BN (below 1: smaller towards "
                f"the input)"))

    inits = {k: v for k, v in extras.items() if k.startswith("G weights")}
    parts, bn_better = [], []
    p = _study.holm([_study.paired_p([fd(r) for r in by["G only"]], [fd(r) for r in by["none"]]) for by in inits.values()])
    for (setting, by_label), p_adj in zip(inits.items(), p):
        a, b = [fd(r) for r in by_label["G only"]], [fd(r) for r in by_label["none"]]
        found = not _study.overlap(a, b) or (not math.isnan(p_adj) and p_adj < _study.ALPHA)
        better = found and _study.learned(a, references, "frechet_distance", True) and (
            np.mean(_study.finite(a) or [math.inf]) < np.mean(_study.finite(b) or [math.inf]))
        bn_better.append(better)
        parts.append(f"{setting}: FD {_study.mean_ci(a)} with BN in G vs {_study.mean_ci(b)} without "
                     f"(p, Holm: {_study.fmt_p(p_adj)})")
    out.append(("initialisation", "supported" if all(bn_better) else "not decided at this budget", "; ".join(parts)))

    high = next(v for k, v in extras.items() if k.startswith("lr ×"))
    a, b = [fd(r) for r in high["G only"]], [fd(r) for r in high["none"]]
    a_learned = _study.learned(a, references, "frechet_distance", True)
    b_learned = _study.learned(b, references, "frechet_distance", True)
    separated = not _study.overlap(a, b)
    v = ("supported" if a_learned and separated and np.mean(_study.finite(a) or [math.inf]) < np.mean(_study.finite(b) or [math.inf])
         else "not decided at this budget")
    out.append(("learning_rate", v, f"at {HIGH_LR_FACTOR}× each variant's picked lr: FD {_study.mean_ci(a)} with BN in G "
                f"({'learned' if a_learned else 'not learned'}), {_study.mean_ci(b)} without "
                f"({'learned' if b_learned else 'not learned'}); picks {results['picks']['G only']:g} and "
                f"{results['picks']['none']:g}"))

    if mates:
        ratios = [m["train"] for m in mates]
        tr = [m["train_mode"] for m in results["mode_fd"]]
        ev = [m["eval_mode"] for m in results["mode_fd"]]
        quality = _study.compare(ev, {"train": tr}, lower_is_better=True)["train"]
        depends = _study.bounds(ratios)[0] > 0
        v = "supported" if depends and quality["verdict"] != _study.NO_DIFFERENCE else "not decided at this budget"
        out.append(("batch_mates", v, f"redrawing the 63 batch-mates moves a sample by {_study.mean_ci(ratios, '.3f')} "
                    f"of the distance between two samples (training mode; 0 in eval mode); FD of training-mode "
                    f"samples {_study.mean_ci(tr)} vs eval mode {_study.mean_ci(ev)} (paired p "
                    f"{_study.fmt_p(quality['p'])}: {quality['verdict']})"))

    bal, imb = imbalance["full set (the main runs)"], imbalance["imbalanced"]
    fd_b, fd_i = [m["frechet_distance"] for m in bal], [m["frechet_distance"] for m in imb]
    tv_b, tv_i = [m["class_tv"] for m in bal], [m["class_tv"] for m in imb]
    fd_cmp = _study.compare(fd_b, {"imbalanced": fd_i}, lower_is_better=True)["imbalanced"]
    both_learned = (_study.learned(fd_b, references, "frechet_distance", True)
                    and _study.learned(fd_i, references, "frechet_distance", True))
    v = ("not decided at this budget" if not both_learned or fd_cmp["verdict"] == _study.NO_DIFFERENCE else
         "supported for BN in G (no BN-free GAN is learned at this budget to compare)" if fd_cmp["verdict"] == "worse"
         else "contradicted")
    out.append(("imbalanced", v,
                f"BN in G: FD {_study.mean_ci(fd_i)} on the imbalanced set vs {_study.mean_ci(fd_b)} on the full set "
                f"(paired p {_study.fmt_p(fd_cmp['p'])}); class-share distance {_study.mean_ci(tv_i, '.3f')} vs "
                f"{_study.mean_ci(tv_b, '.3f')}; minority classes at "
                f"{_study.mean_ci([m['minority_ratio'] for m in imb])}× their share of the data"))
    return out


# ------------------------------------------------------------------------------- figure
def figure(results, references, extras, mates, args):
    plt = _study.plt
    fig, axes = plt.subplots(2, 2, figsize=(14, 9.5))
    axes = axes.ravel()
    chance = _study.chance_value(references, "frechet_distance", True)
    data = references["data"]["frechet_distance"]
    ax = axes[0]
    for i, (label, *_) in enumerate(VARIANTS):
        color = f"C{i}"
        for r in results[label]:
            ax.plot([e["step"] for e in r["evals"]], [e.get("frechet_distance") for e in r["evals"]],
                    color=color, lw=0.6, alpha=0.5)
        mean, _ = _study.band([[e.get("frechet_distance") for e in r["evals"]] for r in results[label]])
        steps = [e["step"] for e in max((r["evals"] for r in results[label]), key=len)]
        ax.plot(steps[:len(mean)], mean, color=color, lw=2, label=label)
    ax.axhline(chance, color="k", ls="--", lw=1, label="chance (Gaussian fit)")
    ax.axhline(data, color="k", ls=":", lw=1, label="data")
    ax.set(yscale="log", xlabel="training step", ylabel="Fréchet distance (classifier features; log scale)",
           title="FD over training: each seed thin, mean thick")
    ax.legend(fontsize=7)

    ax = axes[1]
    for i, (label, *_) in enumerate(VARIANTS):
        g_first, g_last = results[label][0]["weights"][0][0], results[label][0]["weights"][0][-1]
        for r in results[label]:
            ax.plot([log["step"] for log in r["logs"]],
                    [log["grad_norms"][g_first] / log["grad_norms"][g_last] for log in r["logs"]],
                    color=f"C{i}", lw=0.6, alpha=0.6, label=label if r is results[label][0] else None)
    ax.set(yscale="log", xlabel="training step", ylabel="‖∂L/∂W₁‖ / ‖∂L/∂W_last‖ of G",
           title="G's first-to-last layer gradient ratio, every seed")
    ax.legend(fontsize=7)

    ax = axes[2]
    labels, values = [], []
    for setting, by_label in extras.items():
        for label, runs in by_label.items():
            labels.append(f"{setting}\n{label}")
            values.append([fd(r) for r in runs])
    for i, v in enumerate(values):
        good = _study.finite(v)
        ax.plot(good, [i] * len(good), "o", ms=3, color="C0")
        n_bad = len(v) - len(good)
        if n_bad:
            ax.text(chance * 30, i, f"{n_bad} diverged", va="center", fontsize=7)
        if good:
            ax.plot([np.mean(good)], [i], "|", ms=14, color="k")
    ax.axvline(chance, color="k", ls="--", lw=1)
    ax.axvline(data, color="k", ls=":", lw=1)
    ax.set_yticks(range(len(labels)), labels, fontsize=6)
    ax.invert_yaxis()
    ax.set(xscale="log", xlabel="final Fréchet distance (log scale)",
           title="higher learning rate and poor initialisation:\nevery seed (dots), mean (bar); dashed chance, dotted data")

    ax = axes[3]
    if mates:
        ax.bar([0, 1], [np.mean([m["train"] for m in mates]), np.mean([m["eval"] for m in mates])], color=["C1", "C2"])
        for m in mates:
            ax.plot([0, 1], [m["train"], m["eval"]], "k.", ms=4)
        ax.set_xticks([0, 1], ["training mode\n(batch statistics)", "eval mode\n(running statistics)"])
    ax.set(ylabel="spread of G(z₀) over redrawn batch-mates\n/ distance between two samples (ratio)",
           title="BN in G: one sample's dependence on its batch-mates (every seed)")
    fig.tight_layout()
    return _study.save_figure(fig, args, "bn_in_gans")


# --------------------------------------------------------------------------------- main
def main(argv=None):
    args = _study.parser("bn_in_gans", __doc__).parse_args(argv)
    budget = QUICK if args.quick else FULL
    dataset = load_dataset(SPEC)
    n_eval = _study.eval_samples(dataset, args.quick)
    references = _study.reference_rows(dataset, n_eval)
    seeds = _study.seeds(args)
    labels = [label for label, *_ in VARIANTS]

    picks, pilots = {}, {}
    for label in labels:
        picks[label], pilots[label] = _study.pick_lr(
            LR_GRID, lambda lr, seed: fd(run(dataset, label, seed, lr, budget["pilot_steps"], budget, n_eval)), True)
        print(f"pilot {label}: {_study.fmt_pilot(LR_GRID, pilots[label], picks[label])}", flush=True)

    results = _study.across_seeds(labels, seeds, lambda label, seed: run(
        dataset, label, seed, picks[label], budget["steps"], budget, n_eval, keep=label == "G only"))
    results_picks = dict(picks)
    print("main runs: done", flush=True)

    extras = {}
    for scale in INIT_SCALES:
        extras[f"G weights ×{scale:g} at init"] = {label: [run(dataset, label, s, picks[label], budget["extra_steps"],
                                                               budget, n_eval, init_scale=scale) for s in seeds]
                                                    for label in ("none", "G only")}
    extras[f"lr ×{HIGH_LR_FACTOR}"] = {label: [run(dataset, label, s, HIGH_LR_FACTOR * picks[label],
                                                   budget["extra_steps"], budget, n_eval) for s in seeds]
                                       for label in ("none", "G only")}
    print("extra runs: done", flush=True)

    trained = [r["trainer"] for r in results["G only"] if "trainer" in r]
    mates = [batch_mates(t, budget["mates_draws"]) for t in trained]
    mode_fd = [train_mode_fd(t, dataset, n_eval) for t in trained]
    classifier = get_classifier(dataset)
    skewed = imbalanced(dataset)
    imbalance = {"full set (the main runs)": [class_metrics(t.sample(n_eval, seed=[s, 99]), dataset, classifier)
                                              for s, t in zip(seeds, trained)], "imbalanced": []}
    for s in seeds:
        trainer = make_trainer(skewed, "G only", s, picks["G only"], budget["steps"])
        _study.train(trainer, budget["steps"])
        imbalance["imbalanced"].append(class_metrics(trainer.sample(n_eval, seed=[s, 99]), skewed, classifier))
    for r in results["G only"]:
        r.pop("trainer", None)
    print("imbalance runs: done", flush=True)
    timings = step_times(dataset, picks, budget["timing_rounds"])

    results_for_verdicts = {**results, "picks": results_picks, "mode_fd": mode_fd}
    comparison, comparisons = comparison_table(results, references, budget)
    claims = [f"**{key}**\n\n" + _study.claim(*CLAIMS[key]) for key in CLAIMS]
    found = verdicts(results_for_verdicts, comparisons, extras, references, mates, imbalance, budget)
    n_imb = len(skewed.x)
    sections = [
        f"## BatchNorm in GANs — digits, {len(seeds)} seeds, {budget['steps']} steps"
        + ("  (--quick)" if args.quick else ""),
        "### Claims under test", *claims,
        f"### Reference rows ({n_eval} samples each)", _study.reference_table(references, dataset),
        "### Learning-rate pilots (final FD; seeds " + ", ".join(map(str, _study.PILOT_SEEDS))
        + f"; {budget['pilot_steps']} steps; the pick in bold)",
        _study.markdown_table(["BN in", "lr: FD per pilot seed"],
                              [[label, _study.fmt_pilot(LR_GRID, pilots[label], picks[label], ".1f")] for label in labels]),
        f"### Quality at the end ({n_eval} eval-mode samples of the weight average; mean ± 95 % CI over seeds)",
        quality_table(results, references, picks),
        "### Comparisons (paired over seeds; Holm across each column; a finding needs p < 0.05 or disjoint intervals)",
        "Steps to the chance FD count a run that never got there at the budget (a lower bound).",
        comparison,
        "### Gradient norms ‖∂L/∂W‖ per Dense layer (median over logged steps; mean ± 95 % CI over seeds)",
        gradient_table(results),
        f"### Higher learning rate and poor initialisation ({budget['extra_steps']} steps; {len(seeds)} seeds)",
        extra_table(extras, references),
        "### A sample's dependence on its batch-mates (BN in G, final generators)",
        _study.markdown_table(["mode", "spread of G(z₀) / distance between samples", "FD of samples"], [
            ["training (batch statistics)", _study.mean_ci([m["train"] for m in mates], ".3f"),
             _study.mean_ci([m["train_mode"] for m in mode_fd])],
            ["eval (running statistics)", _study.mean_ci([m["eval"] for m in mates], ".3f"),
             _study.mean_ci([m["eval_mode"] for m in mode_fd])]]),
        f"### Imbalanced data (classes {', '.join(map(str, IMBALANCE['classes']))} cut to "
        f"{IMBALANCE['keep']:.0%}: {n_imb} images; BN in G, {budget['steps']} steps; scored by the full set's classifier)",
        _study.markdown_table(["data", "FD against that data", "class-share distance (TV)", "minority share / data's"], [
            [name, _study.mean_ci([m["frechet_distance"] for m in ms]), _study.mean_ci([m["class_tv"] for m in ms], ".3f"),
             _study.mean_ci([m["minority_ratio"] for m in ms])] for name, ms in imbalance.items()]),
        "### Cost of a step (median of round-robin timings, one step of each variant in turn; one thread)",
        cost_table(timings),
        "### Verdicts",
        _study.markdown_table(["claim", "verdict", "the number that decides it"], found),
    ]
    _study.write_report(args, "bn_in_gans", sections)
    figure(results, references, extras, mates, args)


if __name__ == "__main__":
    main()
