"""The GAN losses and D's regularisers (minigan/gan/objectives.py), and the trainer's options for them."""

import numpy as np
import pytest

import minigan
from minigan import nn, random
from minigan.cli import main as cli_main
from minigan.gan.objectives import (LOSSES, R1, R2, GradientPenalty, Hinge, LeastSquares, Minimax, NonSaturating,
                                    Wasserstein, clip_weights, input_gradient)
from minigan.gan.trainer import TrainConfig, Trainer
from tests.test_trainer import assert_resume_equals_uninterrupted, tiny_points

R = np.array([[0.5], [-1.5], [2.0]])
F_ = np.array([[-0.3], [1.2], [0.1]])


def t(values, grad=False):
    return minigan.tensor(np.asarray(values, dtype=np.float64), requires_grad=grad)


def softplus(x):
    return np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0)


@pytest.mark.parametrize("loss, d_expected, g_expected", [
    (Minimax(0.1), np.mean(0.9 * softplus(-R) + 0.1 * softplus(R)) + np.mean(softplus(F_)), -np.mean(softplus(F_))),
    (NonSaturating(), np.mean(softplus(-R)) + np.mean(softplus(F_)), np.mean(softplus(-F_))),
    (LeastSquares(), 0.5 * np.mean((R - 1) ** 2) + 0.5 * np.mean(F_ ** 2), 0.5 * np.mean((F_ - 1) ** 2)),
    (Wasserstein(), np.mean(F_) - np.mean(R), -np.mean(F_)),
    (Hinge(), np.mean(np.maximum(0, 1 - R)) + np.mean(np.maximum(0, 1 + F_)), -np.mean(F_)),
])
def test_each_loss_matches_its_closed_form(loss, d_expected, g_expected):
    assert loss.d_loss(t(R), t(F_)).item() == pytest.approx(d_expected, rel=1e-12)
    assert loss.g_loss(t(F_)).item() == pytest.approx(g_expected, rel=1e-12)


def test_losses_are_found_by_name():
    assert set(LOSSES) == {"minimax", "nonsaturating", "least_squares", "wasserstein", "hinge"}
    assert LOSSES["hinge"]().probabilities is False and LOSSES["nonsaturating"]().probabilities is True


def test_critic_losses_report_mean_scores_and_probability_losses_mean_probabilities():
    scores = t([[2.0], [-4.0]])
    assert Wasserstein().report(scores) == pytest.approx(-1.0)
    assert NonSaturating().report(scores) == pytest.approx(np.mean(1 / (1 + np.exp(-np.array([2.0, -4.0])))))


@pytest.mark.parametrize("loss", ["wasserstein", "hinge"])
def test_critic_loss_gradients_against_finite_differences(loss):
    objective = LOSSES[loss]()
    minigan.gradcheck(lambda r, f: objective.d_loss(r, f), (t(R + 0.05, True), t(F_ + 0.05, True)))
    minigan.gradcheck(lambda f: objective.g_loss(f), (t(F_, True),))


# ------------------------------------------------------------------------------------------- penalties
def linear_critic(w, b=0.3):
    D = nn.Dense(len(w), 1, dtype="float64")
    D.weight.data[:] = np.asarray(w, dtype=np.float64).reshape(-1, 1)
    D.bias.data[:] = b
    return D


def mlp_critic(seed=0, in_dim=3):
    minigan.random.seed(seed)
    return nn.Sequential(nn.Dense(in_dim, 6, dtype="float64"), nn.Tanh(), nn.Dense(6, 1, dtype="float64"))


def batch(seed, n=5, d=3):
    return t(np.random.default_rng(seed).normal(size=(n, d)))


def test_penalties_on_a_linear_critic_have_their_closed_forms():
    w = np.array([0.6, -1.2, 0.4])
    D = linear_critic(w)
    real, fake = batch(1), batch(2)
    norm = np.linalg.norm(w)
    assert GradientPenalty(10.0)(D, real, fake, None, None).item() == pytest.approx(10 * (norm - 1) ** 2, rel=1e-12)
    assert R1(2.0)(D, real, fake, None, None).item() == pytest.approx(norm ** 2, rel=1e-12)
    assert R2(4.0)(D, real, fake, None, None).item() == pytest.approx(2 * norm ** 2, rel=1e-12)


def test_input_gradient_is_each_rows_gradient():
    D = mlp_critic()
    x = batch(3)
    g = input_gradient(D, x).data
    for i in range(x.shape[0]):
        row = t(x.data[i:i + 1], True)
        D(row).sum().backward()
        np.testing.assert_allclose(g[i], row.grad[0], rtol=1e-12)


@pytest.mark.parametrize("make", [lambda: GradientPenalty(10.0), lambda: R1(1.5), lambda: R2(0.7)])
def test_penalty_gradient_with_respect_to_the_weights_against_finite_differences(make):
    D = mlp_critic()
    real, fake = batch(4), batch(5)
    penalty = make()
    random.seed(7)
    state = random.get_state()

    def f(*weights):
        random.set_state(state)  # the same interpolation points at every evaluation
        return penalty(D, real, fake, None, None)

    minigan.gradcheck(f, D.parameters())


def test_gradient_penalty_interpolates_per_row_with_one_draw_each():
    D = linear_critic([1.0, 0.0, 0.0])
    real, fake = t(np.zeros((4, 3))), t(np.ones((4, 3)))
    random.seed(3)
    expected = np.random.default_rng()  # unused: the draw below must come from minigan.random
    del expected
    before = random.get_state()
    GradientPenalty(1.0)(D, real, fake, None, None)
    random.set_state(before)
    eps = random.uniform(0.0, 1.0, (4, 1), dtype="float64").data
    assert eps.shape == (4, 1) and len(np.unique(eps)) == 4


def test_weight_clipping_puts_every_parameter_of_d_into_the_interval():
    D = mlp_critic()
    for p in D.parameters():
        p.data *= 10
    clip_weights(D, 0.05)
    assert all(np.abs(p.data).max() <= 0.05 for p in D.parameters())
    assert any(np.abs(p.data).max() == 0.05 for p in D.parameters())


# ------------------------------------------------------------------------------------------- the trainer
def tiny_config(**changes):
    base = dict(steps=8, batch_size=8, z_dim=2, g_hidden=(16,), d_hidden=(16,), log_every=2, sample_every=4,
                checkpoint_every=4, eval_samples=200)
    base.update(changes)
    return TrainConfig(**base)


def losses_of(trainer, steps):
    return [(r["d_loss"], r["g_loss"], r.get("d_penalty")) for r in (trainer.step() for _ in range(steps))]


OBJECTIVES = [
    {"loss": "wasserstein", "clip": 0.01, "optimizer": "rmsprop", "lr": 5e-5, "d_steps": 3},
    {"loss": "wasserstein", "gp": 10.0, "d_steps": 2, "pack": 2},
    {"loss": "hinge", "spectral_norm": True},
    {"loss": "nonsaturating", "r1": 1.0, "d_norm": "batch"},
    {"loss": "least_squares", "r2": 0.5, "optimizer": "rmsprop", "rmsprop_momentum": 0.5},
]


@pytest.mark.parametrize("changes", OBJECTIVES)
def test_each_objective_resumes_bit_for_bit(tmp_path, changes):
    got = assert_resume_equals_uninterrupted(tmp_path, tiny_config(**changes), tiny_points, losses_of)
    if changes.get("gp") or changes.get("r1") or changes.get("r2"):
        assert all(p is not None and p > 0 for _, _, p in got)


def test_clipped_critic_stays_clipped_through_training():
    trainer = Trainer(tiny_config(loss="wasserstein", clip=0.02, optimizer="rmsprop", lr=1e-3), tiny_points(),
                      progress=False)
    for _ in range(3):
        trainer.step()
        assert all(np.abs(p.data).max() <= np.float32(0.02) for p in trainer.D.parameters())


@pytest.mark.parametrize("bad, match", [
    ({"gp": -1.0}, "gp must be ≥ 0"), ({"r1": -0.1}, "r1 must be ≥ 0"), ({"r2": -2.0}, "r2 must be ≥ 0"),
    ({"clip": -0.01, "loss": "wasserstein"}, "clip must be ≥ 0"),
    ({"clip": 0.01}, "clip .* needs loss 'wasserstein'"),
    ({"clip": 0.01, "gp": 10.0, "loss": "wasserstein"}, "choose one"),
    ({"label_smoothing": 0.1, "loss": "hinge"}, "label_smoothing applies to the BCE losses"),
    ({"rmsprop_alpha": 1.5}, "rmsprop_alpha"), ({"rmsprop_momentum": -0.5}, "rmsprop_momentum"),
])
def test_bad_objective_settings_are_refused_before_training(bad, match):
    with pytest.raises(ValueError, match=match):
        Trainer(tiny_config(**bad), tiny_points(), progress=False)


def test_cli_options_reach_the_saved_config(tmp_path, capsys):
    import json

    out = tmp_path / "run"
    assert cli_main(["train", "--data", "ring8", "--n-data", "256", "--steps", "2", "--batch-size", "8",
                     "--loss", "wasserstein", "--gp", "5", "--r1", "0.5", "--r2", "0.25", "--spectral-norm",
                     "--optimizer", "rmsprop", "--rmsprop-alpha", "0.9", "--rmsprop-momentum", "0.1",
                     "--d-steps", "2", "--eval-samples", "200", "--quiet", "--out", str(out)]) == 0
    saved = json.loads((out / "config.json").read_text())
    assert (saved["loss"], saved["gp"], saved["r1"], saved["r2"], saved["spectral_norm"], saved["optimizer"],
            saved["rmsprop_alpha"], saved["rmsprop_momentum"], saved["d_steps"], saved["eval_samples"]) == \
        ("wasserstein", 5.0, 0.5, 0.25, True, "rmsprop", 0.9, 0.1, 2, 200)
    assert cli_main(["train", "--data", "ring8", "--clip", "0.01", "--steps", "1", "--quiet",
                     "--out", str(tmp_path / "bad")]) == 2
    assert "needs loss 'wasserstein'" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()
