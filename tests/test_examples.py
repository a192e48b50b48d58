"""Smoke tests of the studies in examples/: each runs with ``--quick`` and writes its table and figure.

Each example runs once, in its own process (as a user runs it: its matplotlib backend, minigan's
random state and backend are its own), into a temporary directory, with minigan's classifier cache in
a temporary directory shared by the tests of this file. No number from a quick run is asserted except
where the example itself is a check (the walkthrough's finite differences, gradcheck's verdicts).
"""

import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# the first cells (labels) of the table rows each example must print, and other text it must contain
EXPECTED = {
    "bn_in_gans": {"rows": ["chance: Gaussian fitted to the pixels", "chance: one sample repeated",
                            "calibration: one image per class", "data"]
                   + ["none", "G only", "D only", "both", "both, mixed batch"] * 4
                   + ["G only vs none", "both vs G only", "training (batch statistics)", "eval (running statistics)",
                      "full set (the main runs)", "imbalanced", "G weights ×0.1 at init", "lr ×5", "faster",
                      "performance (BN in G)", "performance (BN in D)", "unstable", "initialisation",
                      "learning_rate", "batch_mates"],
                   "text": ["### Verdicts", "提高模型的收敛速度", "Learning-rate pilots"]},
    "optimizers": {"rows": ["full-batch GD", "SGD", "SGD + momentum 0.9", "Adagrad", "Adam"] * 5
                   + ["chance: uniform over the data's square", "data"] * 3
                   + ["full-batch GD may cause mode collapse", "full-batch GD converges slowly (at equal wall time)",
                      "SGD improves training speed and performance over full-batch GD",
                      "Adagrad improves training speed and performance over full-batch GD"],
                   "text": ["### Verdicts", "Equal wall time", "Equal gradient evaluations", "模式崩溃"]},
    "stability": {"rows": ["chance: uniform over the data's square", "data"]
                  + ["baseline", "one-sided label smoothing (real 0.9)", "two-sided label smoothing (real 0.9, fake 0.1)",
                     "feature matching", "minibatch discrimination (5 kernels)", "historical averaging 1e-3",
                     "batch norm in G", "instance norm in G", "packing 2", "all combined (no instance norm)"] * 9
                  + ["high-quality fraction, equal steps", "特征匹配: better results",
                     "PacGAN (Lin et al., 2018): packing reduces mode collapse"],
                  "text": ["### Verdicts", "小批量判别"]},
    "efficiency": {"rows": ["chance: Gaussian fitted to the pixels", "chance: one sample repeated",
                            "calibration: one image per class", "data", "batch 64", "batch 256",
                            "no BN in G, batch 64", "16", "64", "digits, batch 64", "784-pixel, batch 64", "64 × 500"],
                   "text": ["GPU: ", "Graph replay", "minigan/nn/dense.py", "### Verdicts"]},
    "vanishing_gradients": {"rows": ["chance: Gaussian fitted to the pixels", "data"]
                            + ["LeakyReLU 0.2", "LeakyReLU 0.2 + BN", "ReLU", "ReLU + BN", "sigmoid", "sigmoid + BN",
                               "tanh", "tanh + BN"] * 5
                            + ["sigmoid vs LeakyReLU 0.2", "tanh + BN vs tanh"] * 2
                            + ["003: sigmoid makes gradients vanish towards the first layers (vs LeakyReLU 0.2)",
                               "002: BN cannot solve vanishing gradients (sigmoid)"],
                            "text": ["### Verdicts", "Relative gradients at initialisation"]},
    "objectives": {"rows": ["chance: uniform over the data's square", "data"] * 4
                   + ["chance: Gaussian fitted to the pixels", "chance: one sample repeated", "data"] * 2
                   + ["non-saturating", "least squares", "WGAN, weight clipping", "WGAN-GP", "hinge + spectral norm",
                      "non-saturating + R1"] * 9
                   + ["non-saturating + R1: γ", "non-saturating + R1: lr"] * 2
                   + ["least squares vs non-saturating", "WGAN-GP vs WGAN, weight clipping",
                      "hinge + spectral norm vs WGAN-GP"] * 6
                   + ["(timing) Wasserstein loss, no constraint", "(timing) hinge loss, no spectral norm"] * 3
                   + ["003: GANs sometimes suffer mode collapse (ring8)", "003: on some data sets a GAN never converges",
                      "Mao et al.: least squares beats the non-saturating GAN",
                      "Arjovsky et al.: WGAN (clipping) reduces mode collapse (ring8)",
                      "Gulrajani et al.: the gradient penalty beats weight clipping",
                      "Miyato et al.: spectral norm is cheaper than the gradient penalty",
                      "Miyato et al.: spectral norm gives better or equal samples than WGAN-GP",
                      "Mescheder et al.: R1 makes training converge (less late relative fluctuation)"],
                   "text": ["### Verdicts", "模式崩溃", "从未收敛", "equal wall time", "equal gradient evaluations"]},
    "conditional": {"rows": ["chance: Gaussian fitted to the pixels", "chance: one sample repeated",
                             "calibration: one image per class", "data"] * 5
                    + ["unconditional", "concat", "projection", "AC-GAN", "InfoGAN (10-value code)"] * 4
                    + ["no packing", "packing m = 2"] * 4
                    + ["000: G's output is a function of noise and a label",
                       "003: a GAN learns the data's structure without labels (InfoGAN's code vs the digit classes)",
                       "Chen et al.: the code recovers the classes with 5 % error (accuracy 95 %)",
                       "Miyato & Koyama: projection gives better class-conditional samples than concat (per-class FD)",
                       "Odena et al.: AC-GAN's samples are more recognisable as their class than concat's "
                       "(label agreement)",
                       "Lin et al. (PacGAN): packing reduces mode collapse (stacked digits, KL to uniform)"],
                    "text": ["### Verdicts", "条件信息", "InfoGANs", "无监督", "equal wall time",
                             "equal gradient evaluations", "InfoGAN's code against the digit classes",
                             "001: conditional GANs and InfoGAN solve some of the GAN's problems"]},
    "backprop_walkthrough": {"rows": ["b2", "W2", "β", "γ", "b1", "W1", "x", "h", "y", "a", "z", "ℓ", "L",
                                      "∂L/∂x̂ᵢ", "∂L/∂σ²", "∂L/∂μ", "∂L/∂xᵢ", "∂L/∂γ", "∂L/∂β"],
                             "text": ["%8 = batch_norm(%7, %3, %2)"]},
    "custom_layer_gradcheck": {"rows": ["1. softplus", "2. softplus, slip: σ' for σ", "3. Swish layer",
                                        "4. Swish layer, β-gradient forgets g", "5. softplus, float32 input",
                                        "6. softplus, backward reads x.data", "7. softplus, first-order interface",
                                        "softplus(x)", "d/dx", "d²/dx²", "d³/dx³"],
                               "text": ["is float32, but finite differences need float64",
                                        "op 'my_softplus_first_order' was recorded with a backward on arrays only"]},
    "second_order": {"rows": ["∇L at θ₀", "H at θ₀", "H at θ₀", "eigenvalues of H at θ₀", "H v at θ₀, v random",
                              "∇ₓD(x̂), LeakyReLU 0.2 critic", "∂P/∂θ, LeakyReLU 0.2 critic",
                              "∇ₓD(x̂), softplus critic", "∂P/∂θ, softplus critic"],
                     "text": ["%0 = leaf θ", "scatter_add(", "def hessian_by_rows(", "minigan.grad((g * e_i).sum()"]},
}
FIGURES = {"stability": ["stability", "stability_samples"], "objectives": ["objectives", "objectives_samples"],
           "conditional": ["conditional", "conditional_samples"],
           "backprop_walkthrough": ["backprop_walkthrough", "backprop_walkthrough_graph"]}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """``quick_run(name)`` → (stdout, output directory) of ``examples/NAME.py --quick``, run once per name."""
    cache_dir = tmp_path_factory.mktemp("minigan-cache")
    done = {}

    def run(name):
        if name not in done:
            out = tmp_path_factory.mktemp(name)
            env = {**os.environ, "MINIGAN_CACHE_DIR": str(cache_dir), "OPENBLAS_NUM_THREADS": "1"}
            result = subprocess.run([sys.executable, os.path.join(ROOT, "examples", f"{name}.py"), "--quick",
                                     "--out", str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
            assert result.returncode == 0, result.stdout + result.stderr
            done[name] = (result.stdout, out)
        return done[name]

    return run


def table_rows(markdown):
    """The cells of every markdown table row, headers included (separator rows excluded)."""
    rows = []
    for line in markdown.splitlines():
        if line.startswith("| ") and not line.startswith("| ---"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split(" | ")])
    return rows


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs_quick_and_writes_its_table_and_figure(name, quick_run):
    stdout, out = quick_run(name)
    table = (out / f"{name}.md").read_text()
    assert table.strip() and table.strip() in stdout  # the table printed is the table saved
    labels = [row[0] for row in table_rows(table)]
    for label in EXPECTED[name]["rows"]:
        assert label in labels, f"{name}: no table row for {label!r}"
        labels.remove(label)
    for text in EXPECTED[name]["text"]:
        assert text in table
    for figure in FIGURES.get(name, [name]):
        assert (out / f"{figure}.png").read_bytes().startswith(PNG_MAGIC)


TRAINING_STUDIES = ("bn_in_gans", "optimizers", "stability", "efficiency", "vanishing_gradients", "objectives",
                    "conditional")
VERDICT_WORDS = ("supported", "contradicted", "not decided at this budget")


@pytest.mark.parametrize("name", TRAINING_STUDIES)
def test_training_study_reports_reference_rows_intervals_and_verdicts(name, quick_run):
    """The study standard (STUDIES.md): chance and data rows scored like the generators, 95 % intervals,
    learning-rate pilots, quoted claims, and a verdict on every claim in the three allowed words."""
    _, out = quick_run(name)
    text = (out / f"{name}.md").read_text()
    labels = [row[0] for row in table_rows(text)]
    assert any(label.startswith("chance") for label in labels), f"{name}: no chance row"
    assert "data" in labels, f"{name}: no data row"
    assert "95 %" in text and " ± " in text
    assert "> " in text and "shared/reference/" in text  # a quoted claim with its source
    assert "### Verdicts" in text, f"{name}: no verdicts section"
    section = text.split("### Verdicts", 1)[1].split("\n#", 1)[0]
    header, *rows = table_rows(section)
    assert "verdict" in header and rows, f"{name}: the verdicts section has no table with a verdict column"
    for row in rows:
        verdict = row[header.index("verdict")]
        assert verdict.startswith(VERDICT_WORDS), f"{name}: verdict {verdict!r} is not one of {VERDICT_WORDS}"


def test_walkthrough_gradients_match_finite_differences(quick_run):
    _, out = quick_run("backprop_walkthrough")
    gaps = [float(cell) for row in table_rows((out / "backprop_walkthrough.md").read_text())
            for cell in row[-2:] if re.fullmatch(r"\d\.\de[+-]\d\d", cell)]
    assert len(gaps) == 13 + 6 + 3  # every tape node; every BN term against FD, three against minigan
    assert max(gaps) < 1e-6


def test_gradcheck_example_catches_exactly_the_wrong_backwards(quick_run):
    _, out = quick_run("custom_layer_gradcheck")
    first_table = (out / "custom_layer_gradcheck.md").read_text().split("\n\n| ")[1]
    verdicts = {row[0]: tuple(row[2:]) for row in table_rows("| " + first_table)[1:]}
    assert verdicts == {
        "1. softplus": ("passed", "passed", "yes"),
        "2. softplus, slip: σ' for σ": ("failed: input 0", "failed: input 0", "yes"),
        "3. Swish layer": ("passed", "passed", "yes"),
        "4. Swish layer, β-gradient forgets g": ("failed: input 1", "passed", "yes"),
        "5. softplus, float32 input": ("raised DTypeError", "raised DTypeError", "yes"),
        "6. softplus, backward reads x.data": ("passed", "failed: input 0", "yes"),
        "7. softplus, first-order interface": ("passed", "raised GraphError", "yes"),
    }


def test_gradcheck_example_softplus_matches_the_builtin_to_third_order_and_the_cut_one_does_not(quick_run):
    _, out = quick_run("custom_layer_gradcheck")
    rows = table_rows((out / "custom_layer_gradcheck.md").read_text())
    gaps = {row[0]: (float(row[2]), float(row[3])) for row in rows if row[0] in ("softplus(x)", "d/dx", "d²/dx²", "d³/dx³")}
    assert len(gaps) == 4
    assert max(ours for ours, _ in gaps.values()) < 1e-14
    assert gaps["d/dx"][1] < 1e-14 and gaps["d²/dx²"][1] > 0.2  # the cut one: right once, 0 twice


def test_second_order_lesson_checks_pass_and_newton_converges(quick_run):
    _, out = quick_run("second_order")
    text = (out / "second_order.md").read_text()
    checks = [row for row in table_rows(text) if len(row) == 7 and row[-1] in ("yes", "NO")]
    assert len(checks) >= 14  # ∇L, H, its eigenvalues, H v, symmetry at two points; ∇ₓD and ∂P/∂θ, two critics
    assert all(row[-1] == "yes" for row in checks)
    assert max(float(row[3]) for row in checks if row[1] != "Hᵀ (symmetry)") < 1e-6
    assert max(float(row[3]) for row in checks if row[1] == "Hᵀ (symmetry)") < 1e-12
    newton = {row[0]: row[2] for row in table_rows(text) if len(row) == 5 and row[0].isdigit()}
    assert newton["3"] == "< 1e-15 (rounding)"  # quadratic convergence: three steps to rounding level
