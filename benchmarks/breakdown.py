"""Where the static step's time goes, part by part, and how the step's matrix products compare with XLA's.

    python -m benchmarks.breakdown [--batch-sizes 64,256,1024] [--steps N] [--threads N] [--no-jax] [--json PATH]

For each batch size, minigan's seed-GAN step with ``static_step=True`` (the numbers of ``Trainer.step``,
over arrays allocated once) runs ``--steps`` steps with its parts timed by wrappers around them:

- **matrix products**: every ``matmul`` of its Dense layers (the static step's layers call the array
  module held in their ``xp``; the wrapper is put there);
- **Dense, bias + LeakyReLU, BatchNorm, activations, loss**: each layer kind's forward and backward
  without its matrix products (bias adds, the fused passes, BatchNorm's passes, sigmoid, the loss);
- **optimizers**: both Adam updates; **draws**: the batch and the noise (``prepare``);
- **the rest**: the step's total minus the parts — the weight-gradient norms the record holds, Python's
  calls between the parts, the record.

The wrappers cost a few microseconds per call, added to the parts. Then, with JAX, each distinct matrix
product of the step (its shapes and transpositions, with the count of each) is timed alone in NumPy
(``matmul(out=)``) and under ``jax.jit``, each on inputs of its own, and summed with its count: the
GEMM time each library's step cannot go under. Medians over ``--steps`` (the step) and 30 calls (each
product). No timing is asserted; the figures go to ``benchmarks/RESULTS.md``.
"""

import argparse
import collections
import sys
import time

import numpy as np

from benchmarks import _common
from benchmarks._systems import SEED_GAN, MiniganStep, benchmark_data


class _Clock:
    """Time per part, each part's own: a matrix product is counted as "matrix products", not in the layer
    that called it."""

    def __init__(self):
        self.times, self.shapes, self.part = collections.Counter(), collections.Counter(), None

    def wrap(self, obj, name, part):
        method = getattr(obj, name)

        def timed(*args, **kwargs):
            outer, self.part = self.part, part
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self.times[part] += time.perf_counter() - start
                self.part = outer

        setattr(obj, name, timed)


class _TimedMatmul:
    """The array module, with ``matmul`` timed: what the static layers call through their ``xp``."""

    def __init__(self, xp, clock):
        self._xp, self._clock = xp, clock

    def __getattr__(self, name):
        return getattr(self._xp, name)

    def matmul(self, a, b, out=None):
        start = time.perf_counter()
        result = self._xp.matmul(a, b, out=out)
        elapsed = time.perf_counter() - start
        clock = self._clock
        clock.times["matrix products"] += elapsed
        clock.times[clock.part] -= elapsed
        clock.shapes[(a.shape, not a.flags.c_contiguous, b.shape, not b.flags.c_contiguous)] += 1
        return result


def breakdown(batch_size, steps):
    """{part: ms per step} of the static step at ``batch_size`` (with "step", its median), and
    {product: count per step}."""
    from minigan.gan import static_step as S

    system = MiniganStep(benchmark_data(), batch_size, static=True, **SEED_GAN)
    for _ in range(3):
        system.step()
    st = system.trainer._run_step
    clock = _Clock()
    matmul = _TimedMatmul(st.xp, clock)
    parts = {S._Dense: "Dense layers (bias, bias gradient)", S._DenseLeakyReLU: "bias + LeakyReLU (fused)",
             S._DenseBatchNormLeakyReLU: "bias + BatchNorm + LeakyReLU (fused)", S._BatchNorm: "BatchNorm",
             S._Activation: "activations not fused (G's sigmoid)"}
    for network in (st.G, st.D):
        for layer in network.layers:
            layer.xp = matmul
            for name in ("forward", "backward"):
                clock.wrap(layer, name, parts[type(layer)])
    for loss in (st.real_loss, st.fake_loss, st.g_loss):
        for name in ("forward", "backward"):
            clock.wrap(loss, name, "losses")
    clock.wrap(st, "_optimizer_step", "optimizers (both Adam updates)")
    clock.wrap(st, "prepare", "draws (batch, noise)")
    totals = []
    for _ in range(steps):
        start = time.perf_counter()
        system.step()
        totals.append(time.perf_counter() - start)
    result = {"step": float(np.median(totals)) * 1e3}
    result.update({part: seconds / steps * 1e3 for part, seconds in clock.times.most_common()})
    result["the rest (gradient norms, Python between the parts)"] = (
        float(np.mean(totals)) * 1e3 - sum(clock.times.values()) / steps * 1e3)
    return result, {k: v // steps for k, v in clock.shapes.items()}


def gemm_times(shapes, jax=None, calls=30):
    """(NumPy ms, XLA ms or None) per step: each distinct product timed alone, times its count."""
    rng = np.random.default_rng(0)
    total_numpy, total_xla = 0.0, 0.0 if jax is not None else None
    for (a_shape, a_t, b_shape, b_t), count in shapes.items():
        a = rng.standard_normal(a_shape[::-1] if a_t else a_shape).astype(np.float32)
        b = rng.standard_normal(b_shape[::-1] if b_t else b_shape).astype(np.float32)
        a, b = (a.T if a_t else a), (b.T if b_t else b)
        out = np.empty((a.shape[0], b.shape[1]), np.float32)
        total_numpy += count * _median_ms(lambda: np.matmul(a, b, out=out), calls)
        if jax is not None:
            ja, jb = jax.numpy.asarray(a.T if a_t else a), jax.numpy.asarray(b.T if b_t else b)
            f = jax.jit((lambda x, y: x.T @ y) if a_t else (lambda x, y: x @ y.T) if b_t else (lambda x, y: x @ y))
            jax.block_until_ready(f(ja, jb))
            total_xla += count * _median_ms(lambda: jax.block_until_ready(f(ja, jb)), calls)
    return total_numpy, total_xla


def _median_ms(fn, calls):
    samples = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return float(np.median(samples)) * 1e3


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.breakdown", description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-sizes", default="64,256,1024")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-jax", action="store_true")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    jax, _ = _common.requested_jax(args, "XLA's products")
    threads = _common.configure_threads(args.threads)
    print(f"threads: {threads['description']}")
    from minigan import cpu

    print(f"fused CPU kernels: {cpu.status()}")
    payload = {"benchmark": "benchmarks.breakdown", "command": _common.command_line(), "threads": threads,
               "machine": _common.machine_info(), "results": []}
    for batch_size in [int(b) for b in args.batch_sizes.split(",")]:
        parts, shapes = breakdown(batch_size, args.steps)
        numpy_gemm, xla_gemm = gemm_times(shapes, jax)
        parts["the step's products alone, NumPy"] = numpy_gemm
        if xla_gemm is not None:
            parts["the step's products alone, XLA"] = xla_gemm
        payload["results"].append({"batch_size": batch_size, "ms": parts,
                                   "products": {str(k): v for k, v in shapes.items()}})
        print(f"\nbatch {batch_size}: static step {parts['step']:.1f} ms (median of {args.steps})")
        print(_common.text_table(["part", "ms per step"], [[k, f"{v:.2f}"] for k, v in parts.items() if k != "step"]))
    path = args.json or _common.default_output_path("minigan_breakdown.json")
    _common.write_json(path, payload)
    print(f"\nJSON: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
