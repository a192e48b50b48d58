"""The GAN trainer: exact resume, NaN stop, atomic checkpoints, every switch runs, the CLI end to end."""

import json
import os
from types import SimpleNamespace

import numpy as np
import pytest

import minigan
from minigan.gan.trainer import Trainer, TrainConfig, TrainingDiverged
from minigan.serialization import load_npz


def tiny_images(n=64, seed=0):
    rng = np.random.default_rng(seed)
    return SimpleNamespace(x=rng.random((n, 16)).astype("float32"), labels=None, image_shape=(4, 4),
                           modes=None, mode_std=None, name="tiny")


def tiny_points(n=256, seed=0):
    rng = np.random.default_rng(seed)
    modes = np.array([[1.0, 0.0], [-1.0, 0.0]])
    x = modes[rng.integers(0, 2, n)] + 0.05 * rng.standard_normal((n, 2))
    return SimpleNamespace(x=x.astype("float32"), labels=None, image_shape=None, modes=modes, mode_std=0.05,
                           name="two")


def tiny_config(**changes):
    base = dict(steps=6, batch_size=8, z_dim=4, g_hidden=(16,), d_hidden=(16,), log_every=2, sample_every=3,
                checkpoint_every=3)
    base.update(changes)
    return TrainConfig(**base)


def losses_of(trainer, steps):
    return [(r["d_loss"], r["g_loss"]) for r in (trainer.step() for _ in range(steps))]


@pytest.mark.parametrize("changes", [
    {},
    {"historical_averaging": 0.1, "label_smoothing": 0.1},
    {"optimizer": "sgd", "pack": 2, "minibatch_kernels": 3},
    {"g_ema": 0.9, "lr_decay": "linear", "d_lr": 1e-3, "steps": 8},
])
def test_resumed_run_equals_uninterrupted_run_bit_for_bit(tmp_path, changes):
    assert_resume_equals_uninterrupted(tmp_path, tiny_config(**changes), tiny_images)


def assert_resume_equals_uninterrupted(tmp_path, config, make_data, losses=losses_of):
    """Eight steps in one go against four, a checkpoint, a resume (after the global random state moved)
    and four more: the same ``losses(trainer, steps)``, and the same weights of G, D and G's average.
    Returns the losses of the interrupted run."""
    uninterrupted = Trainer(config, make_data(), progress=False)
    expected = losses(uninterrupted, 8)

    first = Trainer(config, make_data(), run_dir=str(tmp_path), progress=False)
    got = losses(first, 4)
    first.save_checkpoint()
    minigan.random.seed(12345)  # whatever happens in between must not matter
    resumed = Trainer.from_checkpoint(first.checkpoint_path, dataset=make_data(), progress=False)
    got += losses(resumed, 4)

    assert got == expected
    for a, b in zip(uninterrupted.G.parameters() + uninterrupted.D.parameters(),
                    resumed.G.parameters() + resumed.D.parameters()):
        assert np.array_equal(a.data, b.data)
    for a, b in zip(uninterrupted.D.state_dict().values(), resumed.D.state_dict().values()):
        assert np.array_equal(a, b)  # buffers too (spectral norm's u)
    if uninterrupted.G_ema is not None:
        for a, b in zip(uninterrupted.G_ema.parameters(), resumed.G_ema.parameters()):
            assert np.array_equal(a.data, b.data)
    return got


@pytest.mark.gpu
@pytest.mark.parametrize("make", [tiny_images, tiny_points])
def test_training_on_cupy_follows_numpy_and_resumes_bit_for_bit(tmp_path, make):
    changes = {"g_norm": "batch", "g_ema": 0.9, "pack": 2, "lr_decay": "linear", "steps": 8}
    try:
        on_numpy = losses_of(Trainer(tiny_config(**changes), make(), progress=False), 8)
        uninterrupted = Trainer(tiny_config(backend="cupy", **changes), make(), progress=False)
        expected = losses_of(uninterrupted, 8)
        # One seed, the same batches and noise (drawn on the host): the backends agree up to float32 rounding.
        np.testing.assert_allclose(expected, on_numpy, rtol=1e-3, atol=1e-5)

        first = Trainer(tiny_config(backend="cupy", **changes), make(), run_dir=str(tmp_path), progress=False)
        got = losses_of(first, 4)
        first.save_checkpoint()
        resumed = Trainer.from_checkpoint(first.checkpoint_path, dataset=make(), progress=False)
        got += losses_of(resumed, 4)
        assert got == expected  # no atomics in minigan's kernels: a CuPy run repeats itself exactly
        assert type(resumed.G.parameters()[0].data).__module__.startswith("cupy")
        samples = resumed.sample(16, seed=1)
        assert type(samples) is np.ndarray and np.isfinite(samples).all()
        assert resumed.evaluate(100) == uninterrupted.evaluate(100)
    finally:
        minigan.set_backend("numpy")  # the trainer switched the process to CuPy


@pytest.mark.parametrize("changes", [
    {"loss": "minimax"}, {"loss": "least_squares"}, {"feature_matching": True}, {"d_steps": 2},
    {"optimizer": "adagrad", "lr": 0.01}, {"optimizer": "gd", "lr": 0.05}, {"g_norm": "instance"},
    {"g_norm": "none", "d_norm": "batch"}, {"pack": 4}, {"minibatch_kernels": 4},
    {"g_activation": "relu", "d_activation": "relu"}, {"g_activation": "sigmoid", "d_activation": "tanh"},
    {"g_activation": "tanh", "d_activation": "sigmoid"}, {"g_ema": 0.99}, {"lr_decay": "linear"}, {"d_lr": 1e-3},
])
def test_every_training_switch_runs_and_gives_finite_losses(changes):
    trainer = Trainer(tiny_config(**changes), tiny_images(), progress=False)
    for d_loss, g_loss in losses_of(trainer, 3):
        assert np.isfinite(d_loss) and np.isfinite(g_loss)


@pytest.mark.parametrize("name, layer", [("leaky_relu", "LeakyReLU"), ("relu", "ReLU"), ("sigmoid", "Sigmoid"),
                                         ("tanh", "Tanh")])
def test_hidden_activation_choice_puts_that_layer_after_every_hidden_dense_layer(name, layer):
    trainer = Trainer(tiny_config(g_activation=name, d_activation=name), tiny_images(), progress=False)
    for stack in (trainer.G, trainer.D.body):  # G ends with its output Dense (+ sigmoid); D's body is hidden only
        kinds = [type(m).__name__ for m in stack.modules() if m is not stack and type(m).__name__ != "BatchNorm1d"]
        after_dense = [kinds[i + 1] for i, kind in enumerate(kinds[:-1]) if kind == "Dense"]
        if stack is trainer.G:
            after_dense = after_dense[:-1]  # the output layer's Dense
        assert after_dense and set(after_dense) == {layer}


def test_generator_average_is_the_exponential_moving_average_of_the_weights():
    decay = 0.75
    trainer = Trainer(tiny_config(g_ema=decay, g_norm="none"), tiny_images(), progress=False)
    expected = [p.numpy().astype(np.float64) for p in trainer.G.parameters()]  # the average starts at G
    for _ in range(3):
        trainer.step()
        expected = [decay * e + (1 - decay) * p.numpy() for e, p in zip(expected, trainer.G.parameters())]
    for e, p in zip(expected, trainer.G_ema.parameters()):
        np.testing.assert_allclose(p.numpy(), e, rtol=1e-5, atol=1e-7)
        assert not p.requires_grad
    z = minigan.Tensor(np.random.default_rng(7).standard_normal((5, trainer.config.z_dim)).astype(np.float32))
    with minigan.no_grad():
        averaged = trainer.G_ema(z).numpy()
        trained = trainer.G(z).numpy()
    np.testing.assert_array_equal(trainer.sample(5, seed=7), averaged)  # sample() uses the average
    np.testing.assert_array_equal(trainer.sample(5, average=False, seed=7), trained)
    assert not np.array_equal(averaged, trained)


def test_generator_average_keeps_batchnorm_statistics_of_its_own_weights():
    trainer = Trainer(tiny_config(g_ema=0.5, g_norm="batch"), tiny_images(), progress=False)
    drawn = []
    draw = trainer.training_step.noise
    trainer.training_step.noise = lambda n: drawn.append(draw(n)) or drawn[-1]
    before = trainer.G_ema[1].running_mean.numpy()
    trainer.step()
    z = drawn[-1]  # the G update's noise, the last draw of the step
    dense = trainer.G_ema[0]
    with minigan.no_grad():
        h = dense(z).numpy()
    np.testing.assert_allclose(trainer.G_ema[1].running_mean.numpy(), 0.9 * before + 0.1 * h.mean(axis=0),
                               rtol=1e-5, atol=1e-7)
    assert not np.allclose(trainer.G_ema[1].running_mean.numpy(), trainer.G[1].running_mean.numpy())
    assert not trainer.G_ema.training


def test_linear_decay_scales_both_learning_rates_down_to_zero():
    trainer = Trainer(tiny_config(steps=4, lr=0.4, d_lr=0.8, lr_decay="linear"), tiny_images(), progress=False)
    seen = []
    for _ in range(4):
        trainer.step()
        seen.append((trainer.G_opt.lr, trainer.D_opt.lr))
    assert seen == [(0.4, 0.8), (0.4 * 0.75, 0.8 * 0.75), (0.4 * 0.5, 0.8 * 0.5), (0.4 * 0.25, 0.8 * 0.25)]
    constant = Trainer(tiny_config(lr=0.4), tiny_images(), progress=False)
    constant.step()
    assert constant.G_opt.lr == constant.D_opt.lr == 0.4


def test_full_batch_gd_uses_the_whole_data_set_per_step():
    data = tiny_images(n=40)
    trainer = Trainer(tiny_config(optimizer="gd"), data, progress=False)
    assert trainer.config.batch_size == 40
    batch = trainer.real_batch(trainer.config.batch_size).numpy()
    np.testing.assert_array_equal(batch, data.x.astype(np.float32))  # every sample once, not a draw


def test_full_batch_gd_with_packing_uses_each_sample_at_most_once_in_fresh_packs():
    data = tiny_images(n=41)
    trainer = Trainer(tiny_config(optimizer="gd", pack=2), data, progress=False)
    assert trainer.config.batch_size == 40  # the 41st sample cannot fill a pack
    rows = data.x.astype(np.float32)
    first, second = (trainer.real_batch(40).numpy() for _ in range(2))
    for batch in (first, second):
        index = [int(np.flatnonzero((rows == row).all(axis=1))[0]) for row in batch]
        assert len(set(index)) == 40
    assert not np.array_equal(first, second)  # a new order, hence new pairs, each time


@pytest.mark.parametrize("average", [True, False])
def test_sampling_in_training_mode_uses_batch_statistics_but_keeps_the_running_ones(average):
    trainer = Trainer(tiny_config(g_norm="batch", g_ema=0.9), tiny_images(), progress=False)
    trainer.step()
    G = trainer.G_ema if average else trainer.G
    before = [b.numpy().copy() for b in G.buffers()]
    assert before
    trainer.sample(32, train_mode=True, average=average)
    assert [b.numpy().tolist() for b in G.buffers()] == [b.tolist() for b in before]
    batch_mode = trainer.sample(32, train_mode=True, average=average, seed=123)
    eval_mode = trainer.sample(32, train_mode=False, average=average, seed=123)
    assert not np.allclose(batch_mode, eval_mode)  # the two modes really differ


def test_gradient_norms_are_those_of_the_dense_weight_matrices_only():
    trainer = Trainer(tiny_config(g_norm="batch"), tiny_images(), progress=False)
    norms = trainer.step()["grad_norms"]
    dense = {f"{prefix}.{name}.weight": m.weight for prefix, model in (("G", trainer.G), ("D", trainer.D))
             for name, m in model.named_modules() if isinstance(m, minigan.nn.Dense)}
    assert set(norms) == set(dense)  # no BatchNorm γ among them
    for key, weight in dense.items():
        assert norms[key] == pytest.approx(np.linalg.norm(weight.grad.astype(np.float64)), rel=1e-12)


def test_looking_at_a_run_does_not_change_what_it_learns(tmp_path):
    quiet = Trainer(tiny_config(g_ema=0.9), tiny_points(), progress=False)
    for _ in range(4):
        quiet.step()
    watched = Trainer(tiny_config(g_ema=0.9), tiny_points(), progress=False)  # training draws from minigan.random,
    for _ in range(4):                                                         # one stream: one run at a time
        watched.step()
        watched.sample(10)
        watched.sample(10, train_mode=True, average=False)
        watched.evaluate(50)
        watched.save_samples(str(tmp_path / "s.png"))
    for a, b in zip(quiet.G.parameters() + quiet.D.parameters(), watched.G.parameters() + watched.D.parameters()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert quiet.last == watched.last


def test_samples_with_a_seed_repeat_and_evaluations_of_the_same_weights_agree():
    trainer = Trainer(tiny_config(), tiny_points(), progress=False)
    trainer.step()
    np.testing.assert_array_equal(trainer.sample(8, seed=3), trainer.sample(8, seed=3))
    assert not np.array_equal(trainer.sample(8), trainer.sample(8))  # the unseeded stream moves on
    assert trainer.evaluate(200) == trainer.evaluate(200)


def test_evaluating_a_checkpoint_gives_the_figures_the_run_gave_at_that_step(tmp_path):
    data = tiny_points()
    data.mode_std = 0.5  # wide modes: most samples of a barely trained G count, so the figures vary
    trainer = Trainer(tiny_config(), data, run_dir=str(tmp_path), progress=False)
    trainer.train()
    first = trainer.evaluate(500)
    assert 0 < first["high_quality_fraction"] < 1
    restored = Trainer.from_checkpoint(trainer.checkpoint_path, dataset=data, progress=False)
    restored.sample(100)  # samples drawn in between change nothing
    assert restored.evaluate(500) == first
    assert restored.evaluate(500, seed=1) != first


def test_frozen_discriminator_gets_no_gradient_in_the_generator_update():
    trainer = Trainer(tiny_config(), tiny_images(), progress=False)
    trainer.step()
    # D's gradients are those of its own update: computing G's loss must not add to them or clear them.
    assert all(p.requires_grad for p in trainer.D.parameters())
    assert all(p.grad is not None for p in trainer.D.parameters())


def test_nan_loss_stops_with_step_and_loss_named_and_keeps_last_good_checkpoint(tmp_path):
    trainer = Trainer(tiny_config(steps=20, checkpoint_every=2), tiny_images(), run_dir=str(tmp_path), progress=False)
    original_step = trainer.step

    def poisoned_step(**kwargs):
        if trainer.step_count == 5:
            trainer.D.head.weight.data[...] = np.nan
        return original_step(**kwargs)

    trainer.step = poisoned_step
    with pytest.raises(TrainingDiverged, match=r"step 6: the discriminator loss is nan.*checkpoint\.npz"):
        trainer.train()
    saved = load_npz(trainer.checkpoint_path)
    assert int(saved["step"]) == 4
    assert all(np.isfinite(v).all() for k, v in saved.items() if v.dtype.kind == "f")


def test_checkpoint_write_is_atomic_and_a_failed_write_keeps_the_previous_one(tmp_path, monkeypatch):
    trainer = Trainer(tiny_config(), tiny_images(), run_dir=str(tmp_path), progress=False)
    trainer.step()
    trainer.save_checkpoint()
    before = load_npz(trainer.checkpoint_path)
    trainer.step()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(OSError, match="disk full"):
        trainer.save_checkpoint()
    after = load_npz(trainer.checkpoint_path)
    assert int(after["step"]) == 1
    assert all(np.array_equal(before[k], after[k]) for k in before)
    assert sorted(os.listdir(tmp_path)) == ["checkpoint.npz"]


def test_training_on_points_writes_run_directory_and_mode_metrics(tmp_path):
    trainer = Trainer(tiny_config(steps=4, eval_samples=200), tiny_points(), run_dir=str(tmp_path), progress=False)
    result = trainer.train()
    assert set(os.listdir(tmp_path)) >= {"config.json", "metrics.jsonl", "checkpoint.npz", "samples", "curves.png",
                                          "evaluation.json"}
    records = [json.loads(line) for line in open(tmp_path / "metrics.jsonl")]
    assert [r["step"] for r in records] == [2, 4]
    assert {"d_loss", "g_loss", "d_real", "d_fake", "grad_norms"} <= set(records[0])
    assert any(name.startswith("G.") for name in records[0]["grad_norms"])
    assert "modes_captured" in result


def test_bad_config_values_are_refused():
    with pytest.raises(ValueError, match="loss"):
        Trainer(tiny_config(loss="wgan"), tiny_images(), progress=False)
    with pytest.raises(ValueError, match="pack"):
        Trainer(tiny_config(pack=3), tiny_images(), progress=False)
    for bad, match in (({"g_ema": 1.0}, "g_ema"), ({"lr_decay": "cosine"}, "lr_decay"), ({"d_lr": 0.0}, "d_lr"),
                       ({"g_activation": "gelu"}, "g_activation"), ({"d_activation": "softsign"}, "d_activation"),
                       ({"log_every": 0}, "log_every"), ({"checkpoint_every": 0}, "checkpoint_every"),
                       ({"eval_samples": 0}, "eval_samples")):
        with pytest.raises(ValueError, match=match):
            Trainer(tiny_config(**bad), tiny_images(), progress=False)


def test_config_and_evaluation_json_are_written_atomically(tmp_path, monkeypatch):
    run = tmp_path / "run"
    trainer = Trainer(tiny_config(steps=2), tiny_images(), run_dir=str(run), progress=False)
    trainer.train()
    kept = {name: (run / name).read_bytes() for name in ("config.json", "evaluation.json")}
    real_replace = os.replace

    def crash_on_json(source, target):
        if str(target).endswith(".json"):
            raise OSError("disk full")
        return real_replace(source, target)

    monkeypatch.setattr(os, "replace", crash_on_json)
    with pytest.raises(OSError, match="disk full"):
        Trainer(tiny_config(steps=4), tiny_images(), run_dir=str(run), progress=False).train()
    for name, content in kept.items():
        assert (run / name).read_bytes() == content  # the old file, whole
    assert not [p for p in os.listdir(run) if p.startswith(".tmp-")]


def test_two_d_runs_evaluate_at_each_picture_step_for_the_curves(tmp_path):
    run = tmp_path / "run"
    trainer = Trainer(tiny_config(steps=6, sample_every=3, eval_samples=200), tiny_points(), run_dir=str(run),
                      progress=False)
    final = trainer.train()
    lines = [json.loads(line) for line in (run / "evaluations.jsonl").read_text().splitlines()]
    assert [e["step"] for e in lines] == [3, 6]
    assert {"high_quality_fraction", "w2", "w2_data", "w2_ratio", "spread_ratio"} <= set(lines[0])
    assert lines[-1]["high_quality_fraction"] == final["high_quality_fraction"]  # the same samples
    assert "w2_ratio" in final and (run / "curves.png").exists()
