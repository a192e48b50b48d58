"""The static training step (minigan.gan.static_step): the eager step's numbers, bit for bit, over arrays
allocated once; no array allocated after the warm-up step; what it cannot run refused by name."""

import json
import tracemalloc

import numpy as np
import pytest

from minigan.data import load_dataset
from minigan.gan import static_step
from minigan.gan.step import TrainingDiverged, TrainingStep
from minigan.gan.trainer import TrainConfig, Trainer

SMALL = dict(g_hidden=(48, 32), d_hidden=(40, 24))
CONFIGS = {
    "seed GAN, float32": dict(data="digits", **SMALL),
    "float64, BN in D, packs, minimax, smoothing": dict(data="digits", dtype="float64", d_norm="batch", pack=2,
                                                        loss="minimax", label_smoothing=0.1, **SMALL),
    "RMSprop, lr decay, d_steps 2, G_ema": dict(data="ring8", optimizer="rmsprop", lr_decay="linear", d_steps=2,
                                                g_ema=0.99),
    "SGD momentum, tanh and ReLU": dict(data="ring8", optimizer="sgd", g_activation="tanh", d_activation="relu"),
    "sigmoid units, BN in both, G_ema": dict(data="ring8", g_activation="sigmoid", d_norm="batch", g_ema=0.9),
    "no normalisation in G": dict(data="ring8", g_norm="none", batch_size=30),
}


def _state(trainer):
    return {k: np.asarray(v) for k, v in trainer.state().items() if hasattr(v, "shape")}


def _run(kw, static, steps=7):
    trainer = Trainer(TrainConfig(steps=steps, static_step=static, **kw), load_dataset(kw["data"], seed=0),
                      progress=False)
    records = [trainer.step(grad_norms=i % 3 == 0) for i in range(steps)]
    return trainer, records


def _assert_same_state(a, b):
    sa, sb = _state(a), _state(b)
    assert sa.keys() == sb.keys()
    for key in sa:
        if key != "config":
            assert np.array_equal(sa[key], sb[key]), key


@pytest.fixture
def eager_calls(monkeypatch):
    """How many steps ran eagerly (the warm-ups)."""
    calls = []
    run = TrainingStep.__call__

    def counted(self, *args, **kwargs):
        calls.append(args[0])
        return run(self, *args, **kwargs)

    monkeypatch.setattr(TrainingStep, "__call__", counted)
    return calls


@pytest.mark.parametrize("name", CONFIGS)
def test_static_step_gives_the_eager_numbers_bit_for_bit(name, eager_calls):
    eager, eager_records = _run(CONFIGS[name], static=False)
    del eager_calls[:]
    static, static_records = _run(CONFIGS[name], static=True)
    assert eager_calls == [1]  # the warm-up; the six later steps ran static
    assert static_records == eager_records  # losses, D's outputs and gradient norms, to the last bit
    _assert_same_state(static, eager)  # weights, optimizer state, running statistics, G_ema, random state


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_randn_into_draws_what_randn_draws(dtype):
    from minigan import random

    random.seed(3)
    expected = random.randn(5, 4, dtype=dtype.__name__).data
    after = random.generator().standard_normal(3)
    random.seed(3)
    out = np.empty((5, 4), dtype)
    assert random.randn_into(out, np.empty((5, 4))) is out
    assert np.array_equal(out, expected)
    assert np.array_equal(random.generator().standard_normal(3), after)  # the stream moved alike


def test_parameter_gradients_are_views_of_the_optimizers_flat_array():
    trainer, _ = _run(CONFIGS["seed GAN, float32"], static=True, steps=3)
    for opt in (trainer.G_opt, trainer.D_opt):
        for p in opt.params:
            assert np.shares_memory(p.grad, opt._flat["grad"])


def test_a_step_after_its_warm_up_allocates_no_array():
    """tracemalloc over ``run`` (the step's arithmetic, after ``prepare`` drew its inputs): the traced peak
    stays under 3 KiB above the start while every array of this model is 4 KiB or more (batch 512 and
    widths 512 in float64; D's outputs (512, 1)). NumPy's ufuncs allocate an iterator buffer of
    ``bufsize`` elements for broadcast operands (freed at once, the eager step's ops too): shrunk to 16
    elements here so that it does not hide an array."""
    kw = dict(data="ring8", batch_size=512, g_hidden=(512, 512), d_hidden=(512, 512), dtype="float64",
              d_norm="batch", g_ema=0.9, d_steps=2)
    trainer, _ = _run(kw, static=True, steps=2)
    st = trainer._run_step
    smallest = min(a.nbytes for a in _arrays_of(st) if a.ndim >= 1 and a.size > 2)
    assert smallest >= 4096
    old = np.setbufsize(16)
    tracemalloc.start()
    try:
        peaks, growth = [], []
        for step in (3, 4, 5):
            st.prepare(step)
            start = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            st.run(step, grad_norms=False)
            now, peak = tracemalloc.get_traced_memory()
            peaks.append(peak - start)
            growth.append(now - start)
    finally:
        tracemalloc.stop()
        np.setbufsize(old)
    assert max(peaks) < 3072, peaks
    assert growth[-1] <= 0, growth


def _arrays_of(st):
    """Every array the static step allocated (its inputs, layer buffers, losses)."""
    arrays = list(st.reals) + list(st.zs) + [st.noise64, st.report]
    for slots in (st.g_slots, st.d_real_slots, st.d_fake_slots):
        for slot in slots:
            arrays += [a for a in vars(slot).values()]
    for loss in (st.real_loss, st.fake_loss, st.g_loss):
        arrays += [loss.loss, loss.scratch, loss.grad]
    return arrays


def test_prepare_allocates_only_the_real_batch_index():
    """Generator.integers has no out=: each real batch's index vector (B int64) is the step's one array."""
    kw = dict(data="ring8", batch_size=1024, g_hidden=(64,), d_hidden=(64,), dtype="float64")
    trainer, _ = _run(kw, static=True, steps=2)
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        trainer._run_step.prepare(3)
        peak = tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()
    assert 1024 * 8 <= peak < 1024 * 8 + 3072


def test_a_resumed_static_run_continues_exactly(tmp_path):
    kw = CONFIGS["float64, BN in D, packs, minimax, smoothing"]
    straight, records = _run(kw, static=False, steps=8)
    first, _ = _run(kw, static=True, steps=4)
    first.save_checkpoint(str(tmp_path / "c.npz"))
    resumed = Trainer.from_checkpoint(str(tmp_path / "c.npz"), progress=False)
    assert resumed.config.static_step
    later = [resumed.step(grad_norms=i % 3 == 0) for i in range(4, 8)]
    assert later == records[4:]
    _assert_same_state(resumed, straight)


def test_replacing_the_arrays_mid_run_rebuilds_the_buffers(eager_calls):
    """A state loaded into the same trainer replaces the parameters' and optimizers' arrays: the next
    step warms up again (eagerly) on the new arrays, and the run goes on as an eager one does."""
    kw = CONFIGS["RMSprop, lr decay, d_steps 2, G_ema"]
    runs = []
    for static in (False, True):
        trainer, _ = _run(kw, static=static, steps=3)
        saved = trainer.state()
        trainer.step()
        trainer.load_state(saved)
        runs.append([trainer.step(grad_norms=False) for _ in range(3)])
        runs.append(_state(trainer))
    assert runs[2] == runs[0]
    assert 4 in eager_calls[-3:]  # the static run's step 4 warmed up again
    assert all(np.array_equal(runs[3][k], runs[1][k]) for k in runs[1] if k != "config")


def test_a_nan_loss_stops_the_static_step():
    trainer, _ = _run(CONFIGS["seed GAN, float32"], static=True, steps=2)
    trainer.D.head.weight.data[...] = np.nan
    with pytest.raises(TrainingDiverged, match="step 3: the discriminator loss is nan"):
        trainer.step()


def test_by_default_the_trainer_runs_the_static_step_where_it_can(eager_calls):
    kw = CONFIGS["seed GAN, float32"]
    trainer = Trainer(TrainConfig(steps=4, **kw), load_dataset("digits", seed=0), progress=False)
    assert trainer.config.static_step is None
    for _ in range(4):
        trainer.step()
    assert eager_calls == [1]
    del eager_calls[:]
    other = Trainer(TrainConfig(steps=3, loss="wasserstein", clip=0.01, data="ring8"), load_dataset("ring8", seed=0),
                    progress=False)
    for _ in range(3):
        other.step()
    assert eager_calls == [1, 2, 3]  # a configuration it does not run: the eager step, no error


def test_by_default_hooks_and_the_profiler_see_the_eager_step(eager_calls):
    """Chosen by default, the static step steps aside for hooks and minigan.profile(), and comes back after
    them; the numbers stay those of an eager run."""
    import minigan

    kw = CONFIGS["sigmoid units, BN in both, G_ema"]
    eager, records = _run(kw, static=False, steps=7)
    del eager_calls[:]
    trainer = Trainer(TrainConfig(steps=7, **kw), load_dataset("ring8", seed=0), progress=False)
    seen = []
    got = [trainer.step(grad_norms=False)]                          # 1: warm-up
    handle = trainer.D.head.register_forward_hook(lambda m, a, out: seen.append(out.shape))
    got.append(trainer.step(grad_norms=False))                     # 2: eager (a hook)
    handle.remove()
    got.append(trainer.step(grad_norms=False))                     # 3: warm-up again
    got.append(trainer.step(grad_norms=False))                     # 4: static
    with minigan.profile() as profile:
        got.append(trainer.step(grad_norms=False))                 # 5: eager (the profiler)
    got += [trainer.step(grad_norms=False) for _ in range(2)]      # 6: warm-up, 7: static
    assert eager_calls == [1, 2, 3, 5, 6]
    assert seen and "linear" in profile.to_dict()["ops"]
    assert [{k: v for k, v in r.items() if k != "grad_norms"} for r in got] == [
        {k: v for k, v in r.items() if k != "grad_norms"} for r in records]
    _assert_same_state(trainer, eager)


def test_static_step_false_never_runs_it(eager_calls):
    trainer, _ = _run(CONFIGS["seed GAN, float32"], static=False, steps=3)
    assert eager_calls == [1, 2, 3]


def _steps(trainer, n):
    return [trainer.step(grad_norms=False) for _ in range(n)]


def _paired(kw, change, steps_before=3, steps_after=3):
    """An eager run and a default (static where it can) run, each changed by ``change(trainer)`` after
    ``steps_before`` steps: their records and states."""
    runs = []
    for static in (False, None):
        trainer = Trainer(TrainConfig(steps=steps_before + steps_after, static_step=static, **kw),
                          load_dataset(kw["data"], seed=0), progress=False)
        records = _steps(trainer, steps_before)
        change(trainer)
        runs.append((records + _steps(trainer, steps_after), trainer))
    return runs


def _fortran(t):
    t.G_ema[3].weight.data = np.asfortranarray(t.G_ema[3].weight.data)


def _replace_activation(t):
    from minigan.nn import ReLU

    t.G._modules["2"] = ReLU()


CHANGES = [
    ("a frozen weight", lambda t: setattr(t.G[0].weight, "requires_grad", False), {}),
    ("d_steps raised", lambda t: setattr(t.config, "d_steps", 2), {}),
    ("d_steps lowered", lambda t: setattr(t.config, "d_steps", 1), dict(d_steps=3)),
    ("batch size", lambda t: setattr(t.config, "batch_size", 32), {}),
    ("G in eval mode", lambda t: t.G.eval(), {}),
    ("a hook on G_ema", lambda t: t.G_ema[0].register_forward_hook(lambda m, a, out: None), {}),
    ("the networks in float64", lambda t: (t.G.double(), t.D.double(), t.G_ema.double()), {}),
    ("a LeakyReLU's slope", lambda t: setattr(t.G[2], "negative_slope", 0.3), {}),
    ("a module replaced", _replace_activation, {}),
    ("the objective's label smoothing", lambda t: setattr(t.training_step.objective, "label_smoothing", 0.2), {}),
    ("the config's loss (the step keeps its objective)", lambda t: setattr(t.config, "loss", "minimax"), {}),
    ("weight decay", lambda t: t.D_opt.hyper.__setitem__("weight_decay", 0.01), {}),
    ("SGD's momentum switched on", lambda t: t.D_opt.hyper.__setitem__("momentum", 0.9),
     dict(optimizer="sgd", momentum=0.0)),
    ("BatchNorm's eps a NumPy scalar", lambda t: setattr(t.G[1], "eps", np.float64(1e-3)), {}),
    ("float64 running statistics", lambda t: setattr(t.G[1].running_var, "data", t.G[1].running_var.data.astype(
        np.float64)), {}),
    ("a G_ema weight not contiguous", _fortran, {}),
]


@pytest.mark.parametrize("name, change, extra", CHANGES, ids=[c[0] for c in CHANGES])
def test_by_default_what_the_eager_step_reads_afresh_is_followed(name, change, extra):
    """What a user changes between steps — a parameter frozen, the config, a network's modules, mode,
    dtype or hooks, the objective, the optimizer's hyper-parameters — the eager step reads each step: the
    default step follows it as the eager step does (by running the eager step where the static one cannot,
    and rebuilding where it can)."""
    kw = dict(data="ring8", g_ema=0.9, batch_size=64, **extra)
    (eager_records, eager), (records, trainer) = _paired(kw, change)
    assert records == eager_records, name
    _assert_same_state(trainer, eager)


def test_without_gradients_the_default_step_refuses_as_the_eager_step_does():
    import minigan
    from minigan.errors import GraphError

    trainer, _ = _run(CONFIGS["seed GAN, float32"], static=None, steps=2)
    with minigan.no_grad(), pytest.raises(GraphError):
        trainer.step()


def test_static_step_true_names_what_it_cannot_follow():
    trainer, _ = _run(CONFIGS["seed GAN, float32"], static=True, steps=2)
    trainer.G[0].weight.requires_grad = False
    with pytest.raises(ValueError, match=r"G's module '0' \(Dense\) has a frozen parameter"):
        trainer.step()


def test_width_one_layers_give_the_eager_numbers():
    """NumPy sums a one-column array pairwise: the kernels that sum over the batch step aside at C = 1."""
    kw = dict(data="ring8", g_hidden=(16, 1), d_hidden=(16, 1), d_norm="batch")
    eager, eager_records = _run(kw, static=False)
    static, static_records = _run(kw, static=True)
    assert static_records == eager_records
    _assert_same_state(static, eager)


def test_resuming_can_change_the_choice_of_step(tmp_path):
    trainer, _ = _run(CONFIGS["seed GAN, float32"], static=True, steps=2)
    trainer.save_checkpoint(str(tmp_path / "c.npz"))
    resumed = Trainer.from_checkpoint(str(tmp_path / "c.npz"), progress=False, static_step=False)
    assert resumed.config.static_step is False and resumed._run_step is resumed.training_step
    assert Trainer.from_checkpoint(str(tmp_path / "c.npz"), progress=False).config.static_step is True


def test_hooks_are_refused_by_name():
    kw = CONFIGS["seed GAN, float32"]
    trainer = Trainer(TrainConfig(steps=3, static_step=True, **kw), load_dataset("digits", seed=0), progress=False)
    trainer.G[0].register_forward_hook(lambda module, args, out: None)
    with pytest.raises(ValueError, match=r"G's module '0' \(Dense\) has hooks"):
        trainer.step()


@pytest.mark.parametrize("change, named", [
    (dict(loss="wasserstein", gp=10.0), ["loss='wasserstein'", "gp=10.0"]),
    (dict(optimizer="adagrad"), ["optimizer='adagrad'"]),
    (dict(g_norm="instance"), ["g_norm='instance'"]),
    (dict(conditional="concat"), ["conditional='concat'"]),
    (dict(feature_matching=True, minibatch_kernels=5), ["feature_matching=True", "minibatch_kernels=5"]),
    (dict(backend="cupy"), ["backend='cupy'"]),
])
def test_what_it_cannot_run_is_refused_before_the_run(change, named):
    config = TrainConfig(static_step=True, **change)
    with pytest.raises(ValueError) as caught:
        static_step.check_supported(config)
    for text in named:
        assert text in str(caught.value)
    assert "static_step=False" in str(caught.value)


def test_a_study_step_class_is_refused():
    class Study(TrainingStep):
        pass

    class StudyTrainer(Trainer):
        step_class = Study

    with pytest.raises(ValueError, match="step_class=Study"):
        StudyTrainer(TrainConfig(steps=2, static_step=True, data="ring8"), load_dataset("ring8", seed=0),
                     progress=False)


def test_a_bad_static_step_setting_is_refused():
    with pytest.raises(ValueError, match="static_step must be None"):
        TrainConfig(static_step="yes").check()


def test_the_cli_trains_with_static_step(tmp_path):
    from minigan.cli import main

    assert main(["train", "--data", "ring8", "--n-data", "200", "--steps", "4", "--static-step", "--quiet",
                 "--out", str(tmp_path / "run"), "--log-every", "2", "--eval-samples", "200"]) == 0

    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["static_step"] is True
    assert main(["train", "--data", "ring8", "--n-data", "200", "--steps", "2", "--eager-step", "--quiet",
                 "--out", str(tmp_path / "eager"), "--eval-samples", "200"]) == 0
    assert json.loads((tmp_path / "eager" / "config.json").read_text())["static_step"] is False
