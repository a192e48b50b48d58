"""minigan's benchmark suite: how fast one GAN training step is, and where the time goes.

Modules (each runnable with ``python -m benchmarks.<name> --help``):

- :mod:`benchmarks.step` — wall-clock time and peak memory of ONE training step of the seed GAN
  (G: 100→500→500→784 with BatchNorm, D: 784→500→500→1, Adam, float32) for minigan's
  ``Trainer.step()``, PyTorch eager (if installed) and a hand-written NumPy floor, interleaved;
  ``--check`` verifies the floor against minigan in float64 first.
- :mod:`benchmarks.numpy_floor` — that floor: the same step written out by hand (explicit matmuls,
  closed-form BatchNorm backward, fused flat-buffer Adam), no autograd. It is the reference that the
  engine's overhead is measured against.
- :mod:`benchmarks.ops` — forward+backward time of single ops (linear, BatchNorm1d, LeakyReLU,
  BCE-with-logits) and of one Adam step, minigan vs PyTorch vs raw NumPy.
- :mod:`benchmarks.scaling` — ms/step against batch size and against layer width, as a PNG.

Nothing here asserts a timing: these are measurements to read, not tests. PyTorch is optional (the
``bench`` extra: ``pip install "minigan[bench]"``); without it the PyTorch columns are skipped and the
reason is printed. Results of a run on the development machine are in ``benchmarks/RESULTS.md``.
"""
