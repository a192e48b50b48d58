"""The ``minigan`` command line. ``minigan --help`` lists the commands."""

import argparse
import os
import sys

from minigan.errors import MiniganError


def _gradcheck(args):
    from minigan.builtin_checks import LAYER_CASES, OP_CASES, run_op_checks

    failures = 0
    width = max(len(case[0]) for case in OP_CASES + LAYER_CASES)
    print(f"{'case':<{width}} {'inputs':>6}  {'max abs err':>11}  {'max rel err':>11}  result")
    if args.order == 2:
        print("second derivatives: each case's double backward against finite differences of its first")
    for name, report in run_op_checks(seed=args.seed, order=args.order):
        abs_err = max(c.max_abs_error for c in report.inputs)
        rel_err = max(c.max_rel_error for c in report.inputs)
        print(f"{name:<{width}} {len(report.inputs):>6}  {abs_err:>11.3e}  {rel_err:>11.3e}  "
              f"{'pass' if report.passed else 'FAIL'}")
        if args.verbose or not report.passed:
            print("    " + str(report).replace("\n", "\n    "))
        failures += not report.passed
    what = "second-derivative" if args.order == 2 else "gradient"
    print(f"\n{failures} of the checks failed." if failures else f"\nAll {what} checks passed (float64).")
    return 1 if failures else 0


def _tuple_of_ints(text):
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated widths like 500,500, got {text!r}") from None


def _add_train_options(parser):
    from minigan.gan.conditioning import CONDITIONAL_MODES
    from minigan.gan.models import ACTIVATIONS
    from minigan.gan.trainer import LOSSES, OPTIMIZERS, TrainConfig

    d = TrainConfig()
    a = parser.add_argument
    a("--data", default=d.data, help="ring8 | grid25 | digits | stacked-digits | mnist:DIR | npz:PATH | npy:PATH (default digits)")
    a("--steps", type=int, default=None,
      help=f"training steps in all (default {d.steps}; with --resume, the run's own)")
    a("--batch-size", type=int, default=d.batch_size, help=f"samples per batch (default {d.batch_size})")
    a("--z-dim", type=int, default=None, help="noise size (default 100 for images, 2 for 2-D sets)")
    a("--g-hidden", type=_tuple_of_ints, default=None, help="G hidden widths, e.g. 500,500")
    a("--d-hidden", type=_tuple_of_ints, default=None, help="D hidden widths, e.g. 500,500")
    a("--g-norm", choices=("none", "batch", "instance"), default=None, help="normalisation in G (default batch)")
    a("--d-norm", choices=("none", "batch", "instance"), default=d.d_norm, help="normalisation in D (default none)")
    a("--loss", choices=LOSSES, default=d.loss,
      help=f"GAN loss: {' | '.join(LOSSES)} (wasserstein and hinge: D outputs unbounded scores; default {d.loss})")
    a("--d-steps", type=int, default=d.d_steps, help="discriminator updates per generator update (k)")
    a("--optimizer", choices=OPTIMIZERS, default=d.optimizer,
      help="adam | sgd (with momentum) | adagrad | rmsprop | gd (full-batch gradient descent)")
    a("--lr", type=float, default=d.lr, help=f"learning rate (default {d.lr}); G's when --d-lr is given")
    a("--d-lr", type=float, default=None, help="D's learning rate (default: the same as --lr)")
    a("--g-activation", choices=ACTIVATIONS, default=d.g_activation,
      help="G's hidden activation (default leaky_relu, slope 0.2)")
    a("--d-activation", choices=ACTIVATIONS, default=d.d_activation,
      help="D's hidden activation (default leaky_relu, slope 0.2)")
    a("--beta1", type=float, default=d.betas[0], help="Adam beta1 (default 0.5)")
    a("--momentum", type=float, default=d.momentum, help="SGD momentum (default 0.9)")
    a("--label-smoothing", type=float, default=0.0, help="one-sided: real targets become 1 - this (e.g. 0.1)")
    a("--feature-matching", action="store_true", help="G matches D's mean hidden features instead")
    a("--minibatch-kernels", type=int, default=0, help="add minibatch discrimination with this many kernels")
    a("--historical-averaging", type=float, default=0.0, help="weight of the historical-averaging penalty")
    a("--pack", type=int, default=1, help="PacGAN packing degree m (D judges m samples at once)")
    a("--clip", type=float, default=d.clip, metavar="C",
      help="WGAN weight clipping: D's weights into [-C, C] after each D step (needs --loss wasserstein)")
    a("--gp", type=float, default=d.gp, metavar="LAMBDA",
      help="WGAN-GP: add LAMBDA (|grad D(x_hat)| - 1)^2 at random interpolates of real and fake (e.g. 10)")
    a("--r1", type=float, default=d.r1, metavar="GAMMA", help="R1 penalty GAMMA/2 E|grad D(x)|^2 on real samples")
    a("--r2", type=float, default=d.r2, metavar="GAMMA", help="R2 penalty GAMMA/2 E|grad D(x)|^2 on fake samples")
    a("--spectral-norm", action="store_true", help="spectral normalisation of D's dense layers (Miyato et al.)")
    a("--rmsprop-alpha", type=float, default=d.rmsprop_alpha, help="RMSprop's smoothing constant (default 0.99)")
    a("--rmsprop-momentum", type=float, default=d.rmsprop_momentum, help="RMSprop's momentum (default 0)")
    a("--lr-decay", choices=("none", "linear"), default=d.lr_decay,
      help="learning-rate schedule: none, or linear decay to 0 at the last step (default none)")
    a("--g-ema", type=float, default=d.g_ema,
      help="sample from an exponential moving average of G's weights with this decay, e.g. 0.999 (default 0: off)")
    a("--conditional", choices=CONDITIONAL_MODES, default=d.conditional,
      help="condition G (and D) on the data's labels: concat (one-hot label joins z and D's input), projection "
           "(D adds <embed(y), features(x)>), acgan (D gets an auxiliary classifier); default none")
    a("--acgan-weight", type=float, default=d.acgan_weight,
      help=f"AC-GAN: weight of the classifier's cross-entropy terms (default {d.acgan_weight})")
    a("--info-cat", type=int, default=d.info_cat, metavar="K",
      help="InfoGAN: a categorical code of K values (K >= 2) that a head Q on D must recover (default 0: none)")
    a("--info-cont", type=int, default=d.info_cont, metavar="M",
      help="InfoGAN: M continuous codes, uniform on [-1, 1] (default 0: none)")
    a("--info-weight", type=float, default=d.info_weight, metavar="LAMBDA",
      help=f"InfoGAN: weight of the mutual-information term (default {d.info_weight})")
    a("--init", choices=("uniform", "glorot", "normal"), default=d.init, help="weight initialisation")
    a("--seed", type=int, default=d.seed, help="random seed (default 0)")
    a("--backend", choices=("numpy", "cupy"), default=d.backend, help="array backend (default numpy)")
    a("--dtype", choices=("float32", "float64"), default=d.dtype,
      help=f"floating-point type of the networks and data (default {d.dtype}; float64 for exactness checks)")
    step = parser.add_mutually_exclusive_group()
    step.add_argument("--static-step", dest="static_step", action="store_const", const=True, default=None,
                      help="always run each step over arrays allocated once, without a graph (the same numbers bit "
                           "for bit), or stop with an error where it cannot (minigan.gan.static_step). By default "
                           "it runs wherever it can, and the eager step elsewhere; with --resume, either flag "
                           "replaces the run's saved choice")
    step.add_argument("--eager-step", dest="static_step", action="store_const", const=False,
                      help="always build and walk the graph each step (the static step never runs)")
    a("--distributed", action="store_true",
      help="data-parallel training over the ranks that `mpiexec -n R` starts (needs minigan[mpi]); --batch-size "
           "is the global batch, split across the ranks; rank 0 writes the run directory")
    a("--distributed-timeout", type=float, default=None, metavar="SECONDS",
      help="with --distributed: how long a rank waits for the others in a collective before it stops with an "
           "error (default 300; rank 0's evaluations and pictures must fit in it)")
    a("--n-data", type=int, default=None, help="samples drawn for the synthetic 2-D sets")
    a("--log-every", type=int, default=d.log_every,
      help=f"append losses, D outputs and gradient norms to metrics.jsonl every N steps (default {d.log_every})")
    a("--sample-every", type=int, default=d.sample_every,
      help=f"save a sample picture every N steps (default {d.sample_every}); it does not change the training")
    a("--checkpoint-every", type=int, default=d.checkpoint_every,
      help=f"save the checkpoint every N steps (default {d.checkpoint_every}); the last good one is kept")
    a("--eval-samples", type=int, default=None,
      help="samples drawn for the final evaluation (default 2500; 26000 on stacked-digits, its protocol's)")
    a("--out", default=None, help="run directory (default runs/<data>-<time>)")
    a("--resume", default=None, metavar="CHECKPOINT", help="continue the run saved in CHECKPOINT")
    a("--quiet", action="store_true", help="no progress bar")
    a("--profile", type=int, default=None, metavar="N",
      help="instead of a run: time N training steps op by op (after --profile-warmup steps) and print the "
           "table of minigan.profile(); with --out, also write the figures to OUT/profile.json")
    a("--profile-warmup", type=int, default=3, metavar="W", help="untimed steps before --profile's (default 3)")


def _config_from_args(args):
    from minigan.gan.trainer import TrainConfig

    return TrainConfig(
        data=args.data, steps=args.steps or TrainConfig.steps, batch_size=args.batch_size, z_dim=args.z_dim, g_hidden=args.g_hidden,
        d_hidden=args.d_hidden, g_norm=args.g_norm, d_norm=args.d_norm, loss=args.loss, d_steps=args.d_steps,
        optimizer=args.optimizer, lr=args.lr, d_lr=args.d_lr, g_activation=args.g_activation,
        d_activation=args.d_activation, betas=(args.beta1, 0.999), momentum=args.momentum,
        label_smoothing=args.label_smoothing, feature_matching=args.feature_matching,
        minibatch_kernels=args.minibatch_kernels, historical_averaging=args.historical_averaging, pack=args.pack,
        clip=args.clip, gp=args.gp, r1=args.r1, r2=args.r2, spectral_norm=args.spectral_norm,
        rmsprop_alpha=args.rmsprop_alpha, rmsprop_momentum=args.rmsprop_momentum,
        lr_decay=args.lr_decay, g_ema=args.g_ema, conditional=args.conditional, acgan_weight=args.acgan_weight,
        info_cat=args.info_cat, info_cont=args.info_cont, info_weight=args.info_weight,
        init=args.init, seed=args.seed, backend=args.backend, dtype=args.dtype, n_data=args.n_data,
        static_step=args.static_step, log_every=args.log_every,
        sample_every=args.sample_every, checkpoint_every=args.checkpoint_every, eval_samples=args.eval_samples)


def _print_metrics(result):
    for key, value in result.items():
        if isinstance(value, float):
            print(f"  {key:<24} {value:.4f}")
        elif isinstance(value, list) and len(value) <= 25 and any(isinstance(v, float) for v in value):
            shown = ", ".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in value)
            print(f"  {key:<24} [{shown}]")
        elif not isinstance(value, list) or len(value) <= 25:
            print(f"  {key:<24} {value}")


_LAUNCHER_SIZES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE")  # set by mpiexec (MPICH, Open MPI, PMIx)


def _launched_ranks():
    """How many ranks an MPI launcher says it started (1 when none did)."""
    for name in _LAUNCHER_SIZES:
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name])
    return 1


def _start_distributed(args):
    """Join the ranks for ``--distributed``, or say what to run instead."""
    from minigan import distributed
    from minigan.errors import DistributedError

    if args.profile is not None:
        raise ValueError("--profile times one process; run it without mpiexec and --distributed")
    if not distributed.mpi_available():
        raise DistributedError(
            "--distributed needs mpi4py and an MPI library: pip install 'minigan[mpi]' (mpi4py and the mpich wheel, "
            "which brings mpiexec), then start the ranks with: mpiexec -n 2 minigan train --distributed ...")
    if distributed.init(timeout=args.distributed_timeout) == 1 and _launched_ranks() > 1:
        raise DistributedError(
            f"--distributed: the launcher started {_launched_ranks()} ranks, but MPI sees this process alone: "
            f"the mpiexec that started them does not belong to the MPI library mpi4py was built with (use the "
            f"mpiexec of the mpich wheel that 'minigan[mpi]' installs, or rebuild mpi4py for your MPI)")
    if distributed.world_size() == 1:
        raise DistributedError(
            "--distributed: this process is the only rank. Start R >= 2 ranks with: mpiexec -n 2 minigan train "
            "--distributed ... (or leave out --distributed for a run in one process)")


def _train(args):
    if args.distributed_timeout is not None and not args.distributed:
        raise ValueError("--distributed-timeout goes with --distributed")
    if not args.distributed:
        if _launched_ranks() > 1:
            raise ValueError(
                f"started as one of {_launched_ranks()} ranks by mpiexec, but without --distributed: each rank "
                f"would train the whole run alone and write the same files. Add --distributed")
        return _train_run(args)
    _start_distributed(args)
    from minigan import distributed

    with distributed.guard():
        return _train_run(args)


def _train_run(args):
    import time

    from minigan import distributed
    from minigan.data import load_dataset
    from minigan.gan.trainer import Trainer, TrainingDiverged

    if args.profile is not None:
        return _profile_training(args)
    main_rank = distributed.rank() == 0
    progress = not args.quiet and main_rank
    if args.resume:
        run_dir = args.out or os.path.dirname(os.path.abspath(args.resume))
        trainer = Trainer.from_checkpoint(args.resume, run_dir=run_dir if main_rank else None, progress=progress,
                                          distributed=args.distributed,
                                          static_step="saved" if args.static_step is None else args.static_step)
        steps = args.steps or trainer.config.steps
    else:
        config = _config_from_args(args)
        dataset = load_dataset(config.data, n_samples=config.n_data, seed=config.seed)
        name = config.data.split(":")[0]
        run_dir = args.out or os.path.join("runs", f"{name}-{time.strftime('%Y%m%d-%H%M%S')}")
        trainer = Trainer(config, dataset, run_dir=run_dir if main_rank else None, progress=progress,
                          distributed=args.distributed)
        steps = config.steps
    try:
        result = trainer.train(steps)
    except TrainingDiverged as exc:
        if args.distributed:
            raise
        print(f"minigan train: {exc}", file=sys.stderr)
        return 3
    if not main_rank:
        return 0
    run = trainer.run_dir
    print(f"\nrun directory: {run}")
    print(f"  samples:     {os.path.join(run, 'samples')}")
    print(f"  curves:      {os.path.join(run, 'curves.png')}")
    print(f"  metrics:     {os.path.join(run, 'metrics.jsonl')}, {os.path.join(run, 'evaluation.json')}")
    print(f"  checkpoint:  {trainer.checkpoint_path}")
    print("evaluation:")
    _print_metrics(result)
    return 0


def _profile_training(args):
    """``minigan train --profile N``: N steps of the configured run under minigan.profile(), nothing written
    but the optional OUT/profile.json."""
    import json

    from minigan.data import load_dataset
    from minigan.gan.trainer import Trainer
    from minigan.profiler import profile
    from minigan.serialization import atomic_write_bytes

    if args.profile < 1 or args.profile_warmup < 0:
        raise ValueError(f"--profile needs N >= 1 steps and --profile-warmup W >= 0, got N={args.profile}, "
                         f"W={args.profile_warmup}")
    if args.resume:
        trainer = Trainer.from_checkpoint(args.resume, run_dir=None, progress=False)
    else:
        config = _config_from_args(args)
        trainer = Trainer(config, load_dataset(config.data, n_samples=config.n_data, seed=config.seed), progress=False)
    for _ in range(args.profile_warmup):
        trainer.step(grad_norms=False)
    with profile() as prof:
        for _ in range(args.profile):
            trainer.step(grad_norms=False)
    c = trainer.config
    print(f"minigan.profile() of {args.profile} training steps after {args.profile_warmup} warm-up steps: "
          f"data {c.data}, batch {c.batch_size}, {c.backend}, {c.dtype}, loss {c.loss}, d_steps {c.d_steps}")
    print(f"{1e3 * prof.wall_s / args.profile:.3f} ms per step\n")
    print(prof)
    if args.out:
        path = os.path.join(args.out, "profile.json")
        figures = dict(prof.to_dict(), steps=args.profile, warmup=args.profile_warmup)
        atomic_write_bytes(path, lambda f: f.write(json.dumps(figures, indent=2).encode()))
        print(f"\nfigures: {path}")
    return 0


def _load_trainer(path):
    from minigan.gan.trainer import Trainer

    return Trainer.from_checkpoint(path, progress=False)


def _sample(args):
    import numpy as np

    from minigan.gan import plots

    if args.label is not None and args.labels is not None:
        raise ValueError("give --label K (all samples of one class) or --labels K1,K2,... (a row per class), not both")
    if args.n is not None and args.n < 1:
        raise ValueError(f"--n must be at least 1, got {args.n}")
    trainer = _load_trainer(args.checkpoint)
    cond = trainer.condition
    if (args.label is not None or args.labels is not None) and not cond.conditional:
        raise ValueError(f"--label/--labels: {args.checkpoint} was trained without conditioning "
                         f"(conditional='none'); train with --conditional concat, projection or acgan")
    rows = None  # the labels of a picture's rows, one class a row
    if args.label is not None:
        n, labels = args.n or 64, args.label
    elif cond.conditional:
        from minigan.gan.trainer import class_rows

        rows = list(args.labels) if args.labels is not None else [int(k) for k in class_rows(cond.n_classes)]
        per_label = args.n or 10
        n, labels = per_label * len(rows), np.repeat(np.asarray(rows, dtype=np.int64), per_label)
    else:
        n, labels = args.n or 64, None
    samples = trainer.sample(n, train_mode=args.train_mode, seed=args.seed, labels=labels)
    if args.out.endswith(".png"):
        if trainer.dataset.image_shape is not None:
            columns = n // len(rows) if rows else 8
            title = f"one row per class: {', '.join(map(str, rows))}" if rows else None
            plots.save_sample_grid(args.out, samples, trainer.dataset.image_shape, title=title, columns=columns)
        else:
            plots.save_scatter(args.out, samples, trainer.dataset.x[:2000], trainer.dataset.modes,
                               labels=None if labels is None else np.broadcast_to(labels, (n,)))
    else:
        from minigan.serialization import save_npz

        arrays = {"x": np.asarray(samples)}
        if labels is not None:
            arrays["labels"] = np.broadcast_to(np.asarray(labels, dtype=np.int64), (n,)).copy()
        save_npz(args.out, arrays)
    print(f"wrote {n} samples to {args.out}" + (f" ({n // len(rows)} per class)" if rows else ""))
    return 0


def _eval(args):
    trainer = _load_trainer(args.checkpoint)
    print(f"evaluation of {args.checkpoint} (step {trainer.step_count}, {args.n} samples):")
    _print_metrics(trainer.evaluate(args.n))
    return 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog="minigan", description="minigan: a small autodiff engine over NumPy/CuPy, and GANs on it.",
        epilog="Bad input (an option's value, a missing or malformed file, no usable GPU) ends with one line on "
               "stderr and exit code 2; set MINIGAN_TRACEBACK=1 to see the traceback too.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    check = commands.add_parser(
        "gradcheck", help="check every built-in op's and layer's backward against finite differences (float64)",
        description="Run minigan.gradcheck (or, with --order 2, minigan.gradgradcheck) over each built-in op "
                    "and layer and print a report table.")
    check.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")
    check.add_argument("--order", type=int, choices=(1, 2), default=1,
                       help="1: first derivatives (gradcheck); 2: second derivatives, the double backward "
                            "(gradgradcheck) (default 1)")
    check.add_argument("--verbose", action="store_true", help="print each case's full report")
    check.set_defaults(run=_gradcheck)

    train = commands.add_parser(
        "train", help="train a GAN (default: the seed GAN on the bundled digits, on the CPU)",
        description="Train a GAN and write samples, curves, metrics and checkpoints to a run directory.")
    _add_train_options(train)
    train.set_defaults(run=_train)

    sample = commands.add_parser("sample", help="draw samples from a checkpoint",
                                 description="Draw samples from a trained generator.")
    sample.add_argument("--checkpoint", required=True, help="checkpoint.npz written by minigan train")
    sample.add_argument("--n", type=int, default=None,
                        help="number of samples (default 64); for a conditional run without --label, per class "
                             "(default 10)")
    sample.add_argument("--label", type=int, default=None, metavar="K",
                        help="a conditional run: every sample of class K")
    sample.add_argument("--labels", type=_tuple_of_ints, default=None, metavar="K1,K2,...",
                        help="a conditional run: --n samples of each class, one row per class in the picture "
                             "(default: every class, up to 10 rows)")
    sample.add_argument("--out", default="samples.png", help="a .png picture or a .npz array (default samples.png)")
    sample.add_argument("--train-mode", action="store_true",
                        help="BatchNorm with batch statistics (default: running statistics, eval mode)")
    sample.add_argument("--seed", type=int, default=None,
                        help="seed of the noise z (default: the run's own sampling stream, the same each time)")
    sample.set_defaults(run=_sample)

    evaluate = commands.add_parser("eval", help="quality metrics of a checkpoint's generator",
                                   description="Evaluate a trained generator with the data set's metrics.")
    evaluate.add_argument("--checkpoint", required=True, help="checkpoint.npz written by minigan train")
    evaluate.add_argument("--n", type=int, default=2500, help="number of samples (default 2500)")
    evaluate.set_defaults(run=_eval)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return args.run(args)
    except (ValueError, OSError, MiniganError) as exc:
        # Bad input (an option's value, a missing or malformed file, no usable GPU): one line that says
        # what, not a traceback. MINIGAN_TRACEBACK=1 shows the traceback as well.
        if os.environ.get("MINIGAN_TRACEBACK"):
            raise
        print(f"minigan {args.command}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
