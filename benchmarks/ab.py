"""A/B: the seed-GAN trainer step of several code trees (or settings), interleaved step by step.

    python -m benchmarks.ab --system old /path/to/old/checkout \\
                            --system plain . MINIGAN_KERNELS=0 static_step=false \\
                            --system new . [--batch-sizes 64,256,1024] [--rounds 30] [--json PATH]

Each ``--system LABEL TREE [SETTING ...]`` is one worker process that imports minigan from checkout TREE
(its root, put first on ``PYTHONPATH``) and builds ``Trainer`` for the workload of
:mod:`benchmarks.step` (:func:`benchmarks._systems.benchmark_data`, the seed GAN, float32, batch B).
A SETTING in capitals is an environment variable of the worker (``MINIGAN_KERNELS=0``); in lower case a
``TrainConfig`` field, its value read as JSON (``static_step=false``; a tree whose ``TrainConfig`` has
no such field refuses it). Every worker runs 3 untimed steps and one step under tracemalloc (its peak
memory), then the coordinator asks each in turn for one timed step, ``--rounds`` times, the order
rotating every round: drift on a busy machine hits every system alike, which timing the trees one after
the other does not give (runs of minutes apart differed by 30 % on the 2-core machine). One BLAS thread
(``OPENBLAS_NUM_THREADS=1`` and its kin) in every worker. Printed and written: the median ms per system
and its ratio to the first system's, and the peak MB.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

_WORKER = r"""
import json, sys, time, tracemalloc
batch, config = int(sys.argv[1]), json.loads(sys.argv[2])
from benchmarks._systems import benchmark_data
from minigan.data import Dataset
from minigan.gan.trainer import TrainConfig, Trainer
data = Dataset(x=benchmark_data(), name="uniform", value_range=(0.0, 1.0), image_shape=(28, 28))
trainer = Trainer(TrainConfig(data="uniform", steps=10**9, batch_size=batch, g_norm="batch", dtype="float32",
                              seed=0, lr=2e-4, betas=(0.5, 0.999), **config), data, progress=False)
for _ in range(3):
    trainer.step()
tracemalloc.start()
start = tracemalloc.get_traced_memory()[0]
trainer.step()
print("ready", tracemalloc.get_traced_memory()[1] - start, flush=True)
tracemalloc.stop()
for line in sys.stdin:
    if line.strip() != "step":
        break
    begin = time.perf_counter()
    trainer.step()
    print(1e3 * (time.perf_counter() - begin), flush=True)
"""

_ONE_THREAD = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def parse_system(values):
    """(label, tree, environment, config) of one ``--system`` option."""
    if len(values) < 2:
        raise SystemExit("--system needs a LABEL and a TREE, then settings")
    label, tree, settings = values[0], os.path.abspath(values[1]), values[2:]
    environment, config = {}, {}
    for setting in settings:
        key, sep, value = setting.partition("=")
        if not sep or not key:
            raise SystemExit(f"--system {label}: setting {setting!r} is not KEY=VALUE")
        if key.isupper():
            environment[key] = value
        else:
            try:
                config[key] = json.loads(value)
            except json.JSONDecodeError:
                raise SystemExit(f"--system {label}: {key}={value!r} is not a JSON value (false, 1e-3, \"adam\")")
    if not os.path.isdir(os.path.join(tree, "minigan")):
        raise SystemExit(f"--system {label}: {tree} holds no minigan package (give a checkout's root)")
    return label, tree, environment, config


def run(systems, batch_size, rounds):
    """{label: {"median_ms", "peak_bytes"}} for one batch size."""
    workers = {}
    try:
        for label, tree, environment, config in systems:
            env = dict(os.environ, PYTHONPATH=tree, **dict.fromkeys(_ONE_THREAD, "1"), **environment)
            workers[label] = subprocess.Popen([sys.executable, "-c", _WORKER, str(batch_size), json.dumps(config)],
                                              cwd=tree, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                              text=True)
        peaks = {}
        for label, worker in workers.items():
            line = worker.stdout.readline().split()
            if not line or line[0] != "ready":
                raise SystemExit(f"system {label} did not start (see its error above)")
            peaks[label] = int(line[1])
        labels, times = list(workers), {label: [] for label in workers}
        for r in range(rounds):
            for label in labels[r % len(labels):] + labels[:r % len(labels)]:
                workers[label].stdin.write("step\n")
                workers[label].stdin.flush()
                times[label].append(float(workers[label].stdout.readline()))
        return {label: {"median_ms": statistics.median(times[label]), "peak_bytes": peaks[label],
                        "times_ms": times[label]} for label in labels}
    finally:
        for worker in workers.values():
            if worker.poll() is None:
                worker.stdin.close()
                worker.wait()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ab", description=__doc__.split("\n\n")[0])
    parser.add_argument("--system", nargs="+", action="append", required=True, metavar="LABEL TREE [SETTING",
                        help="a system: its label, its checkout, then KEY=VALUE settings")
    parser.add_argument("--batch-sizes", default="64,256,1024")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    systems = [parse_system(values) for values in args.system]
    first = systems[0][0]
    results = {}
    for batch_size in [int(b) for b in args.batch_sizes.split(",")]:
        result = results[batch_size] = run(systems, batch_size, args.rounds)
        reference = result[first]["median_ms"]
        print(f"batch {batch_size}: " + ", ".join(
            f"{label} {r['median_ms']:.1f} ms ({r['median_ms'] / reference:.3f}×, {r['peak_bytes'] / 2**20:.2f} MB)"
            for label, r in result.items()), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"command": " ".join(sys.argv), "systems": [s[:2] + (s[2], s[3]) for s in systems],
                       "rounds": args.rounds, "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
