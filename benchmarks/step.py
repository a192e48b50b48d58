"""Time ONE training step of the seed GAN: minigan (eager and static step) vs PyTorch eager vs JAX's jitted
step vs a hand-written NumPy floor.

    python -m benchmarks.step [--backend numpy|cupy] [--batch-sizes 64,256,1024,4096] [--repeats N]
                              [--warmup N] [--budget-s S] [--threads N] [--gap-ms MS] [--out DIR]
                              [--json PATH] [--check] [--no-torch] [--no-jax] [--profile N]

The workload (:mod:`benchmarks._systems`): G = Dense(100→500)–BN–LeakyReLU(0.2)–Dense(500→500)–
BN–LeakyReLU–Dense(500→784)–sigmoid, D = Dense(784→500)–LeakyReLU–Dense(500→500)–LeakyReLU–
Dense(500→1); one D update on a real and a fake batch (BCE with logits), one G update
(non-saturating BCE), Adam(lr 2e-4, betas (0.5, 0.999)), float32, on 10,000 rows uniform on [0, 1)
generated once. One
"step" is exactly what ``minigan.gan.trainer.Trainer.step()`` does, including drawing the batch and
the noise and reading back the losses, D's mean outputs and the weight-gradient norms.

Measured, per batch size, in one process:

- **threads**: ``--threads N`` (default: all cores) is given to NumPy's BLAS and to PyTorch alike.
  On a machine that other processes keep busy, more threads than free cores can make multi-threaded
  BLAS calls wait for descheduled worker threads (a step can take tens of times longer); the output
  warns when the load average suggests this, and ``--threads 1`` is then the robust choice.
- **time**: every system is built and warmed up (``--warmup`` steps), then ``--repeats`` rounds run,
  each round timing one step of every system with ``time.perf_counter`` (after a device
  synchronisation on the GPU; on the CPU with more than one thread and PyTorch in the race, after an
  untimed 120 ms pause, ``--gap-ms``, see :func:`benchmarks._common.default_gap_s`), in an order that
  rotates from round to round so that drift hits all systems alike. Reported: the median ms/step, the
  25th–75th percentiles and the minimum; ratios are of medians. ``--budget-s`` lowers the number of
  rounds at large batches (never below 5) to keep each batch size near that time.
- **peak memory** of one further step of each system, measured as :mod:`benchmarks._common` says (the
  method is printed next to each number): memory newly allocated during the step, at its peak.

The systems: (a) minigan's ``Trainer.step()``; (a') the same with ``static_step=True`` (NumPy only:
:mod:`minigan.gan.static_step`, the same numbers over arrays allocated once); (b) PyTorch eager, on the
CPU with ``torch.set_num_threads(<threads>)`` (or CUDA with ``--backend cupy``), when PyTorch imports —
otherwise skipped with the reason (``pip install "minigan[bench]"``); (c) JAX, the whole step one
``jax.jit`` function (:class:`benchmarks._systems.JaxStep`; CPU only; its XLA thread pool sized to
``--threads`` by starting it under that many cores), when JAX imports; (d)
:class:`benchmarks.numpy_floor.FloorGAN`. ``--check`` first verifies in float64 that the floor computes
the same step as minigan (:func:`benchmarks.numpy_floor.check_floor_matches_minigan`) and, with JAX, in
float32 that the JAX step does (:func:`benchmarks._systems.check_jax_matches_minigan`); (e) the step's
matrix products alone (:class:`benchmarks._systems.GemmStep`), the bound no implementation can go under.

Output: a table per batch size and a summary, a JSON file of everything (``--json``, else
``DIR/step_<backend>.json`` with ``--out``, else in the temporary directory; the path is printed), and
with ``--out`` a Markdown table ``DIR/step_<backend>.md``. ``--profile N`` also runs cProfile over N
minigan steps at the first batch size and prints the top functions by own time. No timing is asserted.

Smoke test (a few seconds, no PyTorch needed):
``python -m benchmarks.step --batch-sizes 8 --repeats 2 --warmup 1 --check --no-torch``.
"""

import argparse
import io
import pstats
import sys

from benchmarks import _common
from benchmarks._systems import SEED_GAN, MiniganStep, benchmark_data, build_systems, check_jax_matches_minigan
from benchmarks.numpy_floor import check_floor_matches_minigan


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.step", description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("numpy", "cupy"), default="numpy",
                        help="numpy: minigan and floor on NumPy vs PyTorch CPU; cupy: on CuPy vs PyTorch CUDA")
    _common.add_timing_arguments(parser, "64,256,1024,4096", "step_<backend>.json",
                                 check_help="verify the floor against minigan (float64) first",
                                 profile_help="cProfile N minigan steps at the first batch size and print the top functions")
    parser.add_argument("--no-jax", action="store_true", help="leave out the JAX peer (CPU only)")
    return _common.parse_timing_arguments(parser, argv, smallest_batch=2, why="BatchNorm needs batches of at least 2")


SYSTEMS = ("minigan", "minigan_static", "pytorch", "jax", "floor", "gemm")


def measure_batch_size(data, batch_size, args, torch, torch_reason):
    """Build the systems for one batch size, time them interleaved, measure memory; return a dict."""
    systems, skipped = build_systems(data, batch_size, args.backend, torch, torch_reason, include=SYSTEMS,
                                     threads=args.threads, jax=args.jax, jax_reason=args.jax_reason)
    return _common.measure_systems(systems, skipped, batch_size, args, references=("pytorch", "jax", "floor", "gemm"))


def summary_rows(results):
    header = ["batch", "minigan ms", "static ms", "PyTorch ms", "JAX ms", "floor ms", "GEMMs ms", "minigan/PyTorch",
              "static/PyTorch", "minigan/JAX", "static/JAX", "minigan/GEMMs", "static/GEMMs", "minigan MB",
              "static MB", "PyTorch MB", "floor MB"]
    rows = []
    for r in results:
        s, ratios = r["systems"], r["ratios"]

        def get(label, key):
            return s[label][key] if label in s else None

        rows.append([r["batch_size"], *[_common.fmt_ms(get(label, "median_ms")) for label in SYSTEMS],
                     *[_common.fmt_ratio(ratios.get(k)) for k in ("minigan/pytorch", "minigan_static/pytorch",
                                                                   "minigan/jax", "minigan_static/jax",
                                                                   "minigan/gemm", "minigan_static/gemm")],
                     *[_common.fmt_mb(get(label, "peak_bytes")) for label in ("minigan", "minigan_static", "pytorch",
                                                                             "floor")]])
    return header, rows


def profile_minigan(data, batch_size, backend, steps, top, warmup=3):
    """cProfile ``steps`` of minigan's ``Trainer.step`` (after ``warmup``); the report as text."""
    profiler = _common.profile_steps(MiniganStep(data, batch_size, backend, **SEED_GAN), steps, warmup)
    stream = io.StringIO()
    stats = pstats.Stats(profiler, stream=stream)
    stats.sort_stats("tottime").print_stats(top)
    return (f"cProfile of {steps} minigan Trainer.step() calls, batch {batch_size}, backend {backend} "
            f"(sorted by own time, 'tottime'):\n" + stream.getvalue())


def main(argv=None):
    args = parse_args(argv)
    payload = {"benchmark": "benchmarks.step", "command": _common.command_line(), "backend": args.backend,
               "workload": {**SEED_GAN, "data": "10000 x 784 uniform [0, 1) float32", "dtype": "float32",
                            "optimizer": "Adam(lr=2e-4, betas=(0.5, 0.999))", "loss": "nonsaturating BCE with logits"},
               "repeats": args.repeats, "warmup": args.warmup, "budget_s": args.budget_s}

    if args.check:
        payload["check"] = {"tolerance": 1e-10, "worst_relative_errors": check_floor_matches_minigan()}

    cupy = None
    if args.backend == "cupy":
        cupy, reason = _common.load_cupy()
        if cupy is None:
            print(f"--backend cupy skipped: {reason}")
            payload["skipped"] = reason
            _finish(args, payload, [])
            return 0
    if args.no_torch:
        torch, torch_reason = None, "--no-torch was given"
    else:
        torch, torch_reason = _common.load_torch()
    if torch is None:
        print(f"PyTorch comparison skipped: {torch_reason}")
    args.jax, args.jax_reason = (_common.requested_jax(args) if args.backend == "numpy"
                                 else (None, "JAX is compared on the CPU only"))
    if args.check and args.jax is not None:
        payload["check_jax"] = {"tolerance": 2e-4, "worst_relative_errors": check_jax_matches_minigan(args.jax)}
        print(f"JAX peer = minigan's step from the same weights and draws: {payload['check_jax']}")
    threads = _common.configure_threads(args.threads, torch if args.backend == "numpy" else None)
    args.gap_s = _common.default_gap_s(args.gap_ms, threads["threads"],
                                       mixed=torch is not None and args.backend == "numpy")
    payload["threads"] = threads
    payload["gap_s"] = args.gap_s

    payload["machine"] = _common.machine_info(torch, cupy)
    _common.print_setup(payload, threads)
    data = benchmark_data()
    results = _common.measure_batch_sizes(data, args, measure_batch_size, summary_rows, torch, torch_reason)
    if args.profile:
        report = profile_minigan(data, args.batch_sizes[0], args.backend, args.profile, args.profile_top)
        payload["profile"] = report
        print("\n" + report)
    _finish(args, payload, results)
    return 0


def _finish(args, payload, results):
    _common.write_results(
        args, payload, results, f"step_{args.backend}", f"One training step of the seed GAN ({args.backend})",
        summary_rows, "Medians of interleaved rounds; ms per step. Peak MB: memory newly allocated during one "
        "step, at its peak, measured by:")


if __name__ == "__main__":
    sys.exit(main())
