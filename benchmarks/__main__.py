"""The whole suite in one command: the training step, the per-op table, the scaling plot and the
WGAN-GP critic step.

    python -m benchmarks --out DIR [--threads N] [--backend numpy|cupy] [--no-torch] [--quick]

runs, one after the other and with the same thread count,

1. ``benchmarks.step --check`` at batch 64, 256, 1024 and 4096 (``DIR/step_<backend>.md``/``.json``);
2. ``benchmarks.ops`` (``DIR/ops.md``/``.json``; NumPy backend only);
3. ``benchmarks.scaling`` (``DIR/scaling.png``/``.json``; NumPy backend only);
4. ``benchmarks.gradient_penalty --check`` at batch 64, 256 and 1024: one WGAN-GP critic step
   (``DIR/gradient_penalty.md``/``.json``; NumPy backend only).

``--quick`` shrinks every part to a few seconds (tiny batches, 2 rounds): a smoke run, not figures.
Each part prints its own table; the options of each part are documented in its module.
"""

import argparse

from benchmarks import gradient_penalty, ops, scaling, step


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="directory for every table, JSON file and the plot")
    parser.add_argument("--threads", type=int, default=None, help="BLAS / PyTorch threads (default: all cores)")
    parser.add_argument("--backend", choices=("numpy", "cupy"), default="numpy")
    parser.add_argument("--no-torch", action="store_true", help="do not compare with PyTorch even if installed")
    parser.add_argument("--no-jax", action="store_true", help="do not compare with JAX even if installed")
    parser.add_argument("--quick", action="store_true", help="a few seconds in all: a smoke run, not figures")
    return parser.parse_args(argv)


def commands(args):
    """The argument lists given to each part's ``main``."""
    common = ["--out", args.out] + (["--threads", str(args.threads)] if args.threads else []) + (
        ["--no-torch"] if args.no_torch else [])
    if args.quick:
        parts = [(step, ["--batch-sizes", "8", "--repeats", "2", "--warmup", "1", "--check"]),
                 (ops, ["--batch-sizes", "8", "--width", "16", "--repeats", "3"]),
                 (scaling, ["--batch-sizes", "8,16", "--widths", "8,16", "--width-batch", "8", "--repeats", "2",
                            "--warmup", "1", "--budget-s", "1"]),
                 (gradient_penalty, ["--batch-sizes", "8", "--repeats", "2", "--warmup", "1", "--check"])]
    else:
        parts = [(step, ["--batch-sizes", "64,256,1024,4096", "--check", "--budget-s", "15"]),
                 (ops, []),
                 (scaling, []),
                 (gradient_penalty, ["--check", "--budget-s", "15"])]
    if args.backend == "cupy":
        parts = [(module, argv + ["--backend", "cupy"]) for module, argv in parts if module is step]
    no_jax = ["--no-jax"] if args.no_jax else []
    return [(module, argv + common + no_jax) for module, argv in parts]


def main(argv=None):
    args = parse_args(argv)
    status = 0
    for module, module_argv in commands(args):
        print(f"\n=== python -m {module.__name__} {' '.join(module_argv)}\n", flush=True)
        status = max(status, module.main(module_argv) or 0)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
