"""A float32 training step stays in float32: no op output, no gradient and no state is float64.

NumPy promotes silently (a float64 scalar or array in an expression makes the result float64, and the
tape would then cast the gradient back): such an upcast doubles the memory traffic of the op without
changing a single printed number. The check wraps every op as it is recorded on the tape and records
the dtype of its output and of every gradient its backward returns, before any cast.
"""

import numpy as np
import pytest

from minigan.data import load_dataset
from minigan.gan.trainer import TrainConfig, Trainer
from minigan.tensor import Tensor

CONFIGS = {
    "seed GAN (BN in G)": dict(data="digits"),
    "2-D, packing, feature matching, minibatch discrimination": dict(
        data="ring8", pack=2, feature_matching=True, minibatch_kernels=4, g_norm="none", d_norm="batch"),
    "least squares, instance norm, historical averaging, EMA": dict(
        data="ring8", loss="least_squares", g_norm="instance", historical_averaging=0.1, g_ema=0.99,
        label_smoothing=0.1),
}


@pytest.fixture
def recorded_dtypes(monkeypatch):
    """Every (op, what, dtype) seen while the fixture is active."""
    seen = []
    original = Tensor._from_op.__func__

    def from_op(cls, data, parents, backward, op, saved=None):
        seen.append((op, "output", np.dtype(data.dtype)))
        if backward is None:
            return original(cls, data, parents, backward, op, saved)

        def checked_backward(g, *args):
            grads = backward(g, *args)
            for i, grad in enumerate(grads):
                if grad is not None:
                    seen.append((op, f"gradient {i}", np.dtype(grad.dtype)))
            return grads

        return original(cls, data, parents, checked_backward, op, saved)

    monkeypatch.setattr(Tensor, "_from_op", classmethod(from_op))
    return seen


@pytest.mark.parametrize("name", CONFIGS)
def test_a_float32_training_step_creates_no_float64_array(recorded_dtypes, name):
    config = TrainConfig(batch_size=16, dtype="float32", log_every=10**9, **CONFIGS[name])
    trainer = Trainer(config, load_dataset(config.data, n_samples=256), progress=False)
    for _ in range(2):
        trainer.step(grad_norms=False)

    assert recorded_dtypes, "the instrumentation saw no op"
    upcast = sorted({(op, what) for op, what, dtype in recorded_dtypes if dtype != np.float32})
    assert not upcast, f"float64 arrays in a float32 step: {upcast}"
    arrays = [p.data for m in (trainer.G, trainer.D) for p in m.parameters()]
    arrays += [p.grad for m in (trainer.G, trainer.D) for p in m.parameters() if p.grad is not None]
    arrays += [b.data for m in (trainer.G, trainer.D) for b in m.buffers()]
    arrays += [v for opt in (trainer.G_opt, trainer.D_opt) for s in opt.state for k, v in s.items() if k != "step"]
    assert {a.dtype for a in arrays} == {np.dtype(np.float32)}
