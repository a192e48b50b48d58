"""Conditional GANs (concat, projection, AC-GAN) and InfoGAN: the math of each, exact resume, sampling for a
label, the CLI, and every bad input refused before anything is written."""

import json
from types import SimpleNamespace

import numpy as np
import pytest

import minigan
from minigan import gradcheck, gradgradcheck
from minigan.cli import main as cli_main
from minigan.gan.conditioning import Codes, Condition, one_hot
from minigan.gan.models import Discriminator
from minigan.gan.trainer import TrainConfig, Trainer
from minigan.tensor import Tensor
from tests.test_objectives import tiny_config as objectives_config
from tests.test_trainer import assert_resume_equals_uninterrupted

MODES = ("concat", "projection", "acgan")


def labelled_points(n=256, seed=0, k=3):
    """k tight modes on a line, each point labelled by its mode."""
    rng = np.random.default_rng(seed)
    modes = np.stack([np.linspace(-2.0, 2.0, k), np.zeros(k)], axis=1)
    labels = rng.integers(0, k, n)
    x = modes[labels] + 0.05 * rng.standard_normal((n, 2))
    return SimpleNamespace(x=x.astype("float32"), labels=labels.astype(np.int64), image_shape=None, modes=modes,
                           mode_std=0.05, name="line3")


def labelled_images(n=64, seed=0):
    rng = np.random.default_rng(seed)
    return SimpleNamespace(x=rng.random((n, 16)).astype("float32"), labels=rng.integers(0, 4, n).astype(np.int64),
                           image_shape=(4, 4), modes=None, mode_std=None, name="tiny")


def unlabelled_points(n=64):
    data = labelled_points(n)
    data.labels = None
    return data


def tiny_config(**changes):
    return objectives_config(**{"z_dim": 3, "eval_samples": 60, **changes})


def losses_of(trainer, steps):
    return [(r["d_loss"], r["g_loss"], r.get("d_aux_loss"), r.get("g_aux_loss"), r.get("d_penalty"))
            for r in (trainer.step() for _ in range(steps))]


# ------------------------------------------------------------------------------------ the discriminator
def float64_d(mode, k=3, q=0, seed=0, **kwargs):
    minigan.random.seed(seed)
    return Discriminator(2, (5, 4), conditional=mode, n_classes=k, q_outputs=q, dtype="float64", **kwargs)


def test_projection_score_is_the_head_plus_the_labels_embedding_dotted_with_the_features():
    D = float64_d("projection")
    x = Tensor(np.random.default_rng(1).standard_normal((6, 2)))
    labels = np.array([0, 1, 2, 2, 1, 0])
    h = D.features(x).numpy()
    head = h @ D.head.weight.data + D.head.bias.data
    v = D.embed.weight.data  # (K, width): row y is v_y
    expected = head[:, 0] + np.einsum("nw,nw->n", v[labels], h)
    got = D(x, one_hot(labels, 3, "float64")).numpy()[:, 0]
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_concat_discriminator_reads_the_one_hot_label_as_extra_input_columns():
    D = float64_d("concat")
    assert D.body[0].weight.shape == (2 + 3, 5)
    x = Tensor(np.random.default_rng(1).standard_normal((4, 2)))
    labels = np.array([0, 1, 2, 0])
    expected = D.body(Tensor(np.concatenate([x.numpy(), np.eye(3)[labels]], axis=1))).numpy()
    np.testing.assert_allclose(D.features(x, one_hot(labels, 3, "float64")).numpy(), expected, rtol=1e-12)
    scores = [D(x, one_hot(np.full(4, k), 3, "float64")).numpy() for k in range(3)]
    assert not np.allclose(scores[0], scores[1])


@pytest.mark.parametrize("mode", ["concat", "projection"])
def test_conditional_discriminator_gradients_and_second_derivatives(mode):
    D = float64_d(mode)
    y = one_hot(np.array([2, 0, 1]), 3, "float64")
    x = Tensor(np.random.default_rng(2).standard_normal((3, 2)), requires_grad=True)

    def score(x, *params):
        return D(x, y)

    params = D.parameters()
    assert gradcheck(score, [x] + params)
    assert gradgradcheck(score, [x] + params)  # what a gradient penalty on a conditional D differentiates


def test_acgan_class_loss_is_the_weighted_cross_entropy_of_the_auxiliary_head():
    config = tiny_config(conditional="acgan", acgan_weight=0.7, n_classes=3, dtype="float64")
    cond = Condition(config, np.arange(3))
    D = float64_d("acgan")
    h = Tensor(np.random.default_rng(3).standard_normal((5, 4)), requires_grad=True)
    labels = np.array([0, 2, 1, 1, 0])
    logits = h.numpy() @ D.classifier.weight.data + D.classifier.bias.data
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    expected = -0.7 * log_p[np.arange(5), labels].mean()
    assert cond.class_loss(D, h, labels).item() == pytest.approx(expected, rel=1e-12)
    assert gradcheck(lambda h: cond.class_loss(D, h, labels), [h])


def test_info_loss_is_cross_entropy_plus_half_squared_error_and_its_gradient_checks():
    config = tiny_config(info_cat=3, info_cont=2, info_weight=0.5, dtype="float64")
    cond = Condition(config)
    D = float64_d("none", q=5)
    rng = np.random.default_rng(4)
    h = Tensor(rng.standard_normal((6, 4)), requires_grad=True)
    cat = np.array([0, 1, 2, 2, 1, 0])
    cont = rng.uniform(-1, 1, (6, 2))
    codes = Codes(cat, Tensor(cont))
    hidden = h.numpy() @ D.q[0].weight.data + D.q[0].bias.data
    hidden = np.where(hidden > 0, hidden, 0.2 * hidden)
    q = hidden @ D.q[2].weight.data + D.q[2].bias.data
    log_p = q[:, :3] - np.log(np.exp(q[:, :3]).sum(axis=1, keepdims=True))
    expected = 0.5 * (-log_p[np.arange(6), cat].mean() + 0.5 * ((cont - q[:, 3:]) ** 2).sum(axis=1).mean())
    assert cond.info_loss(D, h, codes).item() == pytest.approx(expected, rel=1e-12)
    assert gradcheck(lambda h, *p: cond.info_loss(D, h, codes), [h] + D.q.parameters())
    assert gradgradcheck(lambda h, *p: cond.info_loss(D, h, codes), [h] + D.q.parameters())


def test_generator_input_is_noise_then_label_then_codes():
    config = tiny_config(conditional="concat", n_classes=3, info_cat=2, info_cont=1, dtype="float64")
    cond = Condition(config, np.arange(3))
    z = Tensor(np.full((2, 3), 0.5))
    got = cond.generator_input(z, np.array([2, 0]), Codes(np.array([1, 0]), Tensor(np.array([[0.25], [-1.0]])))).numpy()
    np.testing.assert_array_equal(got, [[0.5] * 3 + [0, 0, 1] + [0, 1] + [0.25], [0.5] * 3 + [1, 0, 0] + [1, 0] + [-1.0]])
    assert Condition(tiny_config()).generator_input(z) is z  # unconditional: z untouched


# ------------------------------------------------------------------------------------------- the trainer
RUNS = [
    {"conditional": "concat"},
    {"conditional": "projection", "spectral_norm": True, "loss": "hinge"},
    {"conditional": "acgan", "g_ema": 0.9},
    {"conditional": "concat", "loss": "wasserstein", "gp": 10.0, "d_steps": 2},
    {"conditional": "projection", "r1": 1.0, "feature_matching": True},
    {"info_cat": 3, "info_cont": 2},
    {"conditional": "acgan", "info_cat": 2, "info_cont": 1, "loss": "least_squares"},
]


@pytest.mark.parametrize("changes", RUNS)
def test_each_conditioning_resumes_bit_for_bit(tmp_path, changes):
    got = assert_resume_equals_uninterrupted(tmp_path, tiny_config(**changes), labelled_points, losses_of)
    has_aux = changes.get("conditional") == "acgan" or "info_cat" in changes
    assert all((d is not None and g is not None) == has_aux for _, _, d, g, _ in got)


def test_images_train_conditioned_and_write_one_row_per_class(tmp_path):
    trainer = Trainer(tiny_config(conditional="projection", info_cat=2, info_cont=1, steps=4), labelled_images(),
                      run_dir=str(tmp_path), progress=False)
    trainer.train()
    assert (tmp_path / "samples" / "step_000004.png").exists() and (tmp_path / "info_codes.png").exists()
    saved = json.loads((tmp_path / "config.json").read_text())
    assert (saved["conditional"], saved["n_classes"], saved["info_cat"], saved["info_cont"]) == ("projection", 4, 2, 1)


def test_sampling_for_labels_and_codes():
    trainer = Trainer(tiny_config(conditional="concat", info_cat=3, info_cont=1), labelled_points(),
                      progress=False)
    for _ in range(3):
        trainer.step()
    a = trainer.sample(6, seed=1, labels=[0, 1, 2, 0, 1, 2], info_cat=0, info_cont=[0.5])
    b = trainer.sample(6, seed=1, labels=[0, 1, 2, 0, 1, 2], info_cat=0, info_cont=[0.5])
    np.testing.assert_array_equal(a, b)
    default = trainer.sample(6, seed=1, info_cat=0, info_cont=[0.5])  # labels in turn: 0, 1, 2, 0, 1, 2
    np.testing.assert_array_equal(a, default)
    assert not np.allclose(trainer.sample(6, seed=1, labels=2, info_cat=0, info_cont=[0.5]), a)
    assert not np.allclose(trainer.sample(6, seed=1, labels=[0, 1, 2, 0, 1, 2], info_cat=1, info_cont=[0.5]), a)


def test_unconditional_sampling_is_unchanged_by_the_conditioning_code():
    config = tiny_config()
    trainer = Trainer(config, labelled_points(), progress=False)
    trainer.step()
    z = np.random.default_rng(5).standard_normal((4, config.z_dim)).astype("float32")
    trainer.G.train(False)
    with minigan.no_grad():
        expected = trainer.G(Tensor(z)).numpy()
    trainer.G.train(True)
    np.testing.assert_array_equal(trainer.sample(4, seed=5), expected)


def test_a_conditional_gan_learns_to_put_each_label_on_its_own_mode():
    data = labelled_points(2048, k=3)
    config = TrainConfig(steps=600, batch_size=64, z_dim=2, g_hidden=(32, 32), d_hidden=(32, 32), lr=2e-3,
                         conditional="concat", eval_samples=600, seed=0)
    trainer = Trainer(config, data, progress=False)
    for _ in range(config.steps):
        trainer.step(grad_norms=False)
    result = trainer.evaluate()
    assert result["label_agreement"] > 0.9, result
    assert min(result["label_agreement_per_label"]) > 0.8, result


# ------------------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize("bad, make, match", [
    ({"conditional": "concat"}, unlabelled_points, "needs labelled data"),
    ({"info_cat": 3}, unlabelled_points, "needs labelled data"),
    ({"info_cat": 1}, labelled_points, "info_cat must be 0 .* or at least 2"),
    ({"info_cont": -1}, labelled_points, "info_cont must be ≥ 0"),
    ({"conditional": "sideways"}, labelled_points, "conditional must be one of"),
    ({"conditional": "concat", "pack": 2}, labelled_points, "use pack=1"),
    ({"conditional": "acgan", "acgan_weight": -1.0}, labelled_points, "acgan_weight must be ≥ 0"),
    ({"conditional": "concat", "n_classes": 2}, labelled_points, "labels up to 2, but the run was built for n_classes=2"),
])
def test_bad_conditioning_is_refused_before_training(tmp_path, bad, make, match):
    with pytest.raises(ValueError, match=match):
        Trainer(tiny_config(**bad), make(), run_dir=str(tmp_path / "run"), progress=False)
    assert not (tmp_path / "run").exists()


def test_bad_sampling_requests_are_refused():
    plain = Trainer(tiny_config(), labelled_points(), progress=False)
    with pytest.raises(ValueError, match="not conditional"):
        plain.sample(4, labels=1)
    with pytest.raises(ValueError, match="InfoGAN codes were given"):
        plain.sample(4, info_cat=1)
    cond = Trainer(tiny_config(conditional="concat", info_cat=2), labelled_points(), progress=False)
    with pytest.raises(ValueError, match=r"labels: every value must lie in \[0, 3\)"):
        cond.sample(4, labels=3)
    with pytest.raises(ValueError, match="expected one integer or 4 integers"):
        cond.sample(4, labels=[0, 1])
    with pytest.raises(ValueError, match=r"info_cat codes: every value must lie in \[0, 2\)"):
        cond.sample(4, info_cat=[0, 1, 2, 0])


# ------------------------------------------------------------------------------------------------ CLI
def test_cli_trains_conditioned_and_samples_by_label(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli_main(["train", "--data", "digits", "--steps", "2", "--batch-size", "8", "--g-hidden", "16",
                     "--d-hidden", "16", "--conditional", "acgan", "--acgan-weight", "0.5", "--info-cat", "3",
                     "--info-cont", "1", "--info-weight", "0.25", "--eval-samples", "200", "--quiet",
                     "--out", str(out)]) == 0
    saved = json.loads((out / "config.json").read_text())
    assert (saved["conditional"], saved["acgan_weight"], saved["info_cat"], saved["info_cont"], saved["info_weight"],
            saved["n_classes"]) == ("acgan", 0.5, 3, 1, 0.25, 10)
    checkpoint = str(out / "checkpoint.npz")
    assert cli_main(["sample", "--checkpoint", checkpoint, "--label", "3", "--n", "5",
                     "--out", str(tmp_path / "three.npz")]) == 0
    three = minigan.serialization.load_npz(str(tmp_path / "three.npz"))
    assert three["x"].shape == (5, 64) and list(three["labels"]) == [3] * 5
    assert cli_main(["sample", "--checkpoint", checkpoint, "--labels", "0,3,7", "--n", "4",
                     "--out", str(tmp_path / "rows.npz")]) == 0
    assert list(minigan.serialization.load_npz(str(tmp_path / "rows.npz"))["labels"]) == [0] * 4 + [3] * 4 + [7] * 4
    assert cli_main(["sample", "--checkpoint", checkpoint, "--out", str(tmp_path / "grid.png")]) == 0
    assert "(10 per class)" in capsys.readouterr().out
    assert cli_main(["sample", "--checkpoint", checkpoint, "--label", "10", "--out", str(tmp_path / "bad.png")]) == 2
    assert "every value must lie in [0, 10)" in capsys.readouterr().err
    assert not (tmp_path / "bad.png").exists()


def test_cli_refuses_a_label_for_an_unconditional_checkpoint_and_conditioning_without_labels(tmp_path, capsys):
    out = tmp_path / "plain"
    assert cli_main(["train", "--data", "digits", "--steps", "1", "--batch-size", "8", "--g-hidden", "16",
                     "--d-hidden", "16", "--eval-samples", "200", "--quiet", "--out", str(out)]) == 0
    assert cli_main(["sample", "--checkpoint", str(out / "checkpoint.npz"), "--label", "3",
                     "--out", str(tmp_path / "s.png")]) == 2
    assert "trained without conditioning" in capsys.readouterr().err
    assert not (tmp_path / "s.png").exists()
    np.save(tmp_path / "x.npy", np.random.default_rng(0).random((32, 4)).astype("float32"))
    for option in (["--conditional", "concat"], ["--info-cat", "4"]):
        assert cli_main(["train", "--data", f"npy:{tmp_path / 'x.npy'}", "--steps", "1", *option, "--quiet",
                         "--out", str(tmp_path / "nolabels")]) == 2
        assert "needs labelled data" in capsys.readouterr().err
        assert not (tmp_path / "nolabels").exists()
    assert cli_main(["train", "--data", "digits", "--info-cat", "1", "--steps", "1", "--quiet",
                     "--out", str(tmp_path / "one")]) == 2
    assert "at least 2" in capsys.readouterr().err
