"""Time ONE training step of the seed GAN: minigan vs PyTorch eager vs a hand-written NumPy floor.

    python -m benchmarks.step [--backend numpy|cupy] [--batch-sizes 64,256,1024,4096] [--repeats N]
                              [--warmup N] [--budget-s S] [--threads N] [--gap-ms MS] [--out DIR]
                              [--json PATH] [--check] [--no-torch] [--profile N]

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

The systems: (a) minigan's ``Trainer.step()``; (b) PyTorch eager, on the CPU with
``torch.set_num_threads(<cores>)`` (or CUDA with ``--backend cupy``), when PyTorch imports — otherwise
skipped with the reason (``pip install "minigan[bench]"``); (c) :class:`benchmarks.numpy_floor.FloorGAN`.
``--check`` first verifies in float64 that the floor computes the same step as minigan
(:func:`benchmarks.numpy_floor.check_floor_matches_minigan`).

Output: a table per batch size and a summary, a JSON file of everything (``--json``, else
``DIR/step_<backend>.json`` with ``--out``, else in the temporary directory; the path is printed), and
with ``--out`` a Markdown table ``DIR/step_<backend>.md``. ``--profile N`` also runs cProfile over N
minigan steps at the first batch size and prints the top functions by own time. No timing is asserted.

Smoke test (a few seconds, no PyTorch needed):
``python -m benchmarks.step --batch-sizes 8 --repeats 2 --warmup 1 --check --no-torch``.
"""

import argparse
import io
import os
import pstats
import sys

from benchmarks import _common
from benchmarks._systems import SEED_GAN, MiniganStep, benchmark_data, build_systems
from benchmarks.numpy_floor import check_floor_matches_minigan


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.step", description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("numpy", "cupy"), default="numpy",
                        help="numpy: minigan and floor on NumPy vs PyTorch CPU; cupy: on CuPy vs PyTorch CUDA")
    parser.add_argument("--batch-sizes", default="64,256,1024,4096", help="comma-separated (default %(default)s)")
    parser.add_argument("--repeats", type=int, default=30, help="timed rounds per batch size (default %(default)s)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps per system first (default %(default)s)")
    parser.add_argument("--budget-s", type=float, default=None,
                        help="lower the rounds so each batch size takes about this long (min 5 rounds)")
    parser.add_argument("--out", help="directory for the JSON and the Markdown table")
    parser.add_argument("--json", help="path of the JSON results (default: DIR/step_<backend>.json or a temp file)")
    parser.add_argument("--check", action="store_true", help="verify the floor against minigan (float64) first")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for NumPy's BLAS and for PyTorch alike (default: all cores)")
    parser.add_argument("--gap-ms", type=float, default=None,
                        help="untimed pause before each timed step (default: 120 with >1 thread and PyTorch, else 0)")
    parser.add_argument("--no-torch", action="store_true", help="do not compare with PyTorch even if installed")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="cProfile N minigan steps at the first batch size and print the top functions")
    parser.add_argument("--profile-top", type=int, default=15, help="functions to list (default %(default)s)")
    args = parser.parse_args(argv)
    try:
        args.batch_sizes = [int(b) for b in args.batch_sizes.split(",") if b.strip()]
    except ValueError:
        parser.error(f"--batch-sizes must be comma-separated integers, got {args.batch_sizes!r}")
    if not args.batch_sizes or min(args.batch_sizes) < 2:
        parser.error("--batch-sizes: BatchNorm needs batches of at least 2")
    if args.repeats < 1 or args.warmup < 0:
        parser.error("--repeats must be ≥ 1 and --warmup ≥ 0")
    return args


def measure_batch_size(data, batch_size, args, torch, torch_reason):
    """Build the systems for one batch size, time them interleaved, measure memory; return a dict."""
    systems, skipped = build_systems(data, batch_size, args.backend, torch, torch_reason, threads=args.threads)
    items = [_common.Timed(s.label, s.step, s.sync) for s in systems]
    times = _common.time_interleaved(items, args.repeats, args.warmup, args.budget_s, gap_s=args.gap_s)
    result = {"batch_size": batch_size, "rounds": len(next(iter(times.values()))), "warmup": args.warmup,
              "systems": {}, "skipped": skipped, "ratios": {}}
    for system in systems:
        peak, method = system.peak_memory()
        summary = _common.summarize(times[system.label])
        result["systems"][system.label] = {
            "name": system.name, "median_ms": summary["median"], "p25_ms": summary["p25"], "p75_ms": summary["p75"],
            "min_ms": summary["min"], "times_ms": [t * 1e3 for t in times[system.label]],
            "peak_bytes": peak, "memory_method": method,
        }
    s = result["systems"]
    for other in ("pytorch", "floor"):
        if "minigan" in s and other in s:
            result["ratios"][f"minigan/{other}"] = s["minigan"]["median_ms"] / s[other]["median_ms"]
    return result


def print_batch_size(result):
    print(f"\nbatch {result['batch_size']}: median of {result['rounds']} interleaved rounds, "
          f"after {result['warmup']} warm-up steps per system")
    rows = []
    for entry in result["systems"].values():
        rows.append([entry["name"], _common.fmt_ms(entry["median_ms"]),
                     f"{_common.fmt_ms(entry['p25_ms'])}–{_common.fmt_ms(entry['p75_ms'])}",
                     _common.fmt_ms(entry["min_ms"]), _common.fmt_mb(entry["peak_bytes"]), entry["memory_method"]])
    print(_common.text_table(["system", "ms/step", "p25–p75", "min", "peak MB", "peak memory measured by"], rows))
    ratios = ", ".join(f"{k} = {_common.fmt_ratio(v)}" for k, v in result["ratios"].items())
    if ratios:
        print(f"ratios of medians: {ratios}")
    for label, reason in result["skipped"].items():
        print(f"{label}: skipped — {reason}")


def summary_rows(results):
    header = ["batch", "minigan ms", "PyTorch ms", "floor ms", "minigan/PyTorch", "minigan/floor",
              "minigan MB", "PyTorch MB", "floor MB"]
    rows = []
    for r in results:
        s = r["systems"]

        def get(label, key):
            return s[label][key] if label in s else None

        rows.append([r["batch_size"], _common.fmt_ms(get("minigan", "median_ms")),
                     _common.fmt_ms(get("pytorch", "median_ms")), _common.fmt_ms(get("floor", "median_ms")),
                     _common.fmt_ratio(r["ratios"].get("minigan/pytorch")),
                     _common.fmt_ratio(r["ratios"].get("minigan/floor")), _common.fmt_mb(get("minigan", "peak_bytes")),
                     _common.fmt_mb(get("pytorch", "peak_bytes")), _common.fmt_mb(get("floor", "peak_bytes"))])
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
    threads = _common.configure_threads(args.threads, torch if args.backend == "numpy" else None)
    args.gap_s = _common.default_gap_s(args.gap_ms, threads["threads"],
                                       mixed=torch is not None and args.backend == "numpy")
    payload["threads"] = threads
    payload["gap_s"] = args.gap_s

    payload["machine"] = _common.machine_info(torch, cupy)
    print(f"machine: {_common.describe_machine(payload['machine'])}")
    print(f"date: {payload['machine']['date']}")
    print(f"threads: {threads['description']}; pause before each timed step: {args.gap_s * 1e3:.0f} ms")
    if threads.get("warning"):
        print(f"warning: {threads['warning']}")
    data = benchmark_data()
    results = []
    for batch_size in args.batch_sizes:
        result = measure_batch_size(data, batch_size, args, torch, torch_reason)
        print_batch_size(result)
        results.append(result)
        sys.stdout.flush()

    header, rows = summary_rows(results)
    print("\nsummary (medians; ratios > 1 mean minigan is slower):")
    print(_common.text_table(header, rows))
    if args.profile:
        report = profile_minigan(data, args.batch_sizes[0], args.backend, args.profile, args.profile_top)
        payload["profile"] = report
        print("\n" + report)
    _finish(args, payload, results)
    return 0


def _finish(args, payload, results):
    payload["results"] = results
    json_path = args.json or (os.path.join(args.out, f"step_{args.backend}.json") if args.out
                              else _common.default_output_path(f"minigan_step_{args.backend}.json"))
    _common.write_json(json_path, payload)
    print(f"\nJSON: {json_path}")
    if args.out and results:
        header, rows = summary_rows(results)
        methods = {}
        for r in results:
            for entry in r["systems"].values():
                methods.setdefault(entry["name"], entry["memory_method"])
        lines = [f"# One training step of the seed GAN ({args.backend})", "",
                 f"Command: `{payload['command']}`  ", f"Date: {payload['machine']['date']}  ",
                 f"Machine: {_common.describe_machine(payload['machine'])}", "",
                 _common.markdown_table(header, rows), "",
                 "Medians of interleaved rounds; ms per step. Peak MB: memory newly allocated during one step, "
                 "at its peak, measured by:", ""]
        lines += [f"- {name}: {method}" for name, method in methods.items()]
        skipped = {k: v for r in results for k, v in r["skipped"].items()}
        lines += [f"- {k}: skipped — {v}" for k, v in skipped.items()]
        md_path = os.path.join(args.out, f"step_{args.backend}.md")
        with open(md_path, "w") as f:
            f.write("\n".join(lines) + "\n")
        print(f"Markdown: {md_path}")


if __name__ == "__main__":
    sys.exit(main())
