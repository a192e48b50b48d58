"""ms per training step against batch size and against layer width: minigan (eager and static step) vs
PyTorch vs JAX vs the floor.

    python -m benchmarks.scaling --out DIR [--batch-sizes 64,...,4096] [--widths 128,256,512,1024]
                                 [--width-batch 256] [--repeats N] [--warmup N] [--budget-s S]
                                 [--threads N] [--no-torch] [--no-jax]

Two sweeps of the training step of :mod:`benchmarks.step` (same systems, same interleaved timing,
medians, float32 on the CPU):

- batch size, with the seed GAN (hidden widths 500, 500 in G and D);
- layer width w, with every hidden layer of G and D of width w (G: 100→w→w→784, D: 784→w→w→1), at
  batch ``--width-batch``.

Writes ``DIR/scaling.png`` (two log–log panels, matplotlib's Agg backend, no display needed) and
``DIR/scaling.json`` (every median, quartile and setting). ``--budget-s`` caps each point's timed
rounds (never fewer than 5) so that the large points stay affordable. No timing is asserted.
"""

import argparse
import os
import sys

from benchmarks import _common
from benchmarks._systems import benchmark_data, build_systems

STYLE = {"minigan": ("minigan, eager step", "C0", "o"), "minigan_static": ("minigan, static step", "C3", "D"),
         "pytorch": ("PyTorch eager", "C1", "s"), "jax": ("JAX jit", "C4", "v"), "floor": ("NumPy floor", "C2", "^")}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scaling", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="directory for scaling.png and scaling.json")
    parser.add_argument("--batch-sizes", default="64,128,256,512,1024,2048,4096")
    parser.add_argument("--widths", default="128,256,512,1024")
    parser.add_argument("--width-batch", type=int, default=256,
                        help="batch size of the width sweep (default %(default)s)")
    parser.add_argument("--repeats", type=int, default=9, help="timed rounds per point at most (default %(default)s)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per system (default %(default)s)")
    parser.add_argument("--budget-s", type=float, default=12.0,
                        help="about this many seconds of timed rounds per point (default %(default)s)")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for NumPy's BLAS and PyTorch (default: all cores)")
    parser.add_argument("--gap-ms", type=float, default=None,
                        help="untimed pause before each timed step (default: 120 with >1 thread and PyTorch, else 0)")
    parser.add_argument("--no-torch", action="store_true", help="do not compare with PyTorch even if installed")
    parser.add_argument("--no-jax", action="store_true", help="do not compare with JAX even if installed")
    args = parser.parse_args(argv)
    args.batch_sizes = [int(b) for b in args.batch_sizes.split(",") if b.strip()]
    args.widths = [int(w) for w in args.widths.split(",") if w.strip()]
    return args


def point(data, batch_size, width, args, torch, reason):
    systems, skipped = build_systems(data, batch_size, "numpy", torch, reason, include=tuple(STYLE),
                                     threads=args.threads, jax=args.jax, jax_reason=args.jax_reason,
                                     g_hidden=(width, width), d_hidden=(width, width))
    times = _common.time_interleaved([_common.Timed(s.label, s.step, s.sync) for s in systems], args.repeats,
                                     args.warmup, args.budget_s, gap_s=args.gap_s)
    out = {"batch_size": batch_size, "width": width, "skipped": skipped}
    for s in systems:
        out[s.label] = _common.summarize(times[s.label])
    line = ", ".join(f"{label} {out[label]['median']:.1f} ms" for label in STYLE if label in out)
    print(f"  batch {batch_size:5d}, width {width:5d}: {line}  ({out['minigan']['n']} rounds)")
    sys.stdout.flush()
    return out


def plot(path, by_batch, by_width, width_batch, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.3))
    for ax, points, key, xlabel in ((axes[0], by_batch, "batch_size", "batch size (hidden width 500)"),
                                    (axes[1], by_width, "width", f"hidden layer width (batch {width_batch})")):
        for label, (name, color, marker) in STYLE.items():
            xs = [p[key] for p in points if label in p]
            if not xs:
                continue
            med = [p[label]["median"] for p in points if label in p]
            lo = [p[label]["median"] - p[label]["p25"] for p in points if label in p]
            hi = [p[label]["p75"] - p[label]["median"] for p in points if label in p]
            ax.errorbar(xs, med, yerr=[lo, hi], label=name, color=color, marker=marker, capsize=3)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("ms per training step (median, p25–p75)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    torch, reason, threads, args.gap_s, machine = _common.start_comparison(args)
    args.jax, args.jax_reason = _common.requested_jax(args)
    data = benchmark_data()
    print("batch-size sweep (seed GAN, width 500):")
    by_batch = [point(data, n, 500, args, torch, reason) for n in args.batch_sizes]
    print(f"width sweep (batch {args.width_batch}):")
    by_width = [point(data, args.width_batch, w, args, torch, reason) for w in args.widths]

    os.makedirs(args.out, exist_ok=True)
    png = os.path.join(args.out, "scaling.png")
    title = (f"one GAN training step, float32 — {machine['cpu']}, {threads['threads']} thread(s), "
             f"{machine['date'][:10]}")
    plot(png, by_batch, by_width, args.width_batch, title)
    payload = {"benchmark": "benchmarks.scaling", "command": _common.command_line(), "machine": machine,
               "threads": threads, "gap_s": args.gap_s, "by_batch_size": by_batch, "by_width": by_width,
               "width_batch": args.width_batch, "pytorch_skipped": reason if torch is None else None}
    _common.write_json(os.path.join(args.out, "scaling.json"), payload)
    print(f"\nPNG: {png}\nJSON: {os.path.join(args.out, 'scaling.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
