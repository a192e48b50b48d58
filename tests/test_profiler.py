"""minigan.profile(): per-op calls, forward and backward time and memory made; record() regions; the op
trace (MINIGAN_DEBUG=1); ``minigan train --profile N``."""

import io
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

import minigan
from minigan import autograd, nn
from minigan.nn import functional as F
from minigan.cli import main as cli_main
from minigan.optim import Adam

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def small_gan_step(G, D, G_opt, D_opt, n=16):
    """One D update and one G update of a tiny GAN, as the trainer does them."""
    real = minigan.tensor(np.random.default_rng(0).normal(size=(n, 2)))
    fake = G(minigan.randn(n, 3, dtype="float64"))
    loss_d = F.binary_cross_entropy_with_logits(D(real), minigan.ones(n, 1, dtype="float64")) + \
        F.binary_cross_entropy_with_logits(D(fake.detach()), minigan.zeros(n, 1, dtype="float64"))
    D_opt.zero_grad()
    loss_d.backward()
    D_opt.step()
    loss_g = F.binary_cross_entropy_with_logits(D(fake), minigan.ones(n, 1, dtype="float64"))
    G_opt.zero_grad()
    loss_g.backward()
    G_opt.step()


@pytest.fixture
def gan():
    minigan.random.seed(0)
    G = nn.Sequential(nn.Dense(3, 8, dtype="float64"), nn.BatchNorm1d(8, dtype="float64"), nn.LeakyReLU(0.2),
                      nn.Dense(8, 2, dtype="float64"))
    D = nn.Sequential(nn.Dense(2, 8, dtype="float64"), nn.LeakyReLU(0.2), nn.Dense(8, 1, dtype="float64"))
    return G, D, Adam(G.parameters(), lr=1e-3), Adam(D.parameters(), lr=1e-3)


def test_a_training_step_counts_every_op_call_forward_and_backward(gan):
    with minigan.profile() as prof:
        small_gan_step(*gan)
    ops = prof.to_dict()["ops"]
    # G runs once (2 linear), D three times (2 linear each): 8 forward calls. Backward: the D loss runs
    # back through D twice (4) and the G loss through D and G (2 + 2).
    assert ops["linear"]["forward_calls"] == 8 and ops["linear"]["backward_calls"] == 8
    assert ops["batch_norm"]["forward_calls"] == 1 and ops["batch_norm"]["backward_calls"] == 1
    assert ops["bce_with_logits"]["forward_calls"] == 3 and ops["bce_with_logits"]["backward_calls"] == 3
    assert ops["leaky_relu"]["forward_calls"] == 4
    regions = prof.to_dict()["regions"]
    assert regions["Adam.step"]["region_calls"] == 2
    for figures in list(ops.values()) + list(regions.values()):
        assert figures["forward_s"] >= 0 and figures["backward_s"] >= 0 and figures["region_s"] >= 0
    assert not autograd._watching  # detached on leaving the block


def test_the_table_is_sorted_by_total_time_and_names_every_op(gan):
    with minigan.profile() as prof:
        small_gan_step(*gan)
    text = str(prof)
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["op", "calls", "forward"]
    rows = lines[2:lines.index(lines[1], 2)]
    totals = [float(row.split()[-3]) for row in rows]
    assert totals == sorted(totals, reverse=True)
    for name in ("linear", "batch_norm", "leaky_relu", "bce_with_logits", "[Adam.step]"):
        assert any(row.startswith(name) for row in rows), name
    assert "wall time" in text and "CuPy" not in text
    by_name = prof.table(sort_by="name", limit=2).splitlines()
    assert len(by_name) == 2 + 2 + 3


def test_times_add_up_to_no_more_than_the_wall_time(gan):
    with minigan.profile() as prof:
        for _ in range(3):
            small_gan_step(*gan)
    figures = prof.to_dict()
    assert 0 < figures["tracked_s"] <= figures["wall_s"] * (1 + 1e-9)


def test_memory_made_counts_outputs_and_gradients_but_not_views():
    x = minigan.tensor(np.ones((4, 5)), requires_grad=True)
    w = minigan.tensor(np.ones((5, 3)), requires_grad=True)
    with minigan.profile() as prof:
        y = (x @ w).reshape(12)
        y.sum().backward()
    ops = prof.to_dict()["ops"]
    assert ops["matmul"]["forward_bytes"] == 4 * 3 * 8
    assert ops["matmul"]["backward_bytes"] == (4 * 5 + 5 * 3) * 8
    assert ops["reshape"]["forward_bytes"] == 0


def test_a_record_region_keeps_its_time_out_of_the_next_op():
    x = minigan.tensor(np.ones(3), requires_grad=True)
    with minigan.profile() as prof:
        with minigan.record("sleep"):
            time.sleep(0.05)
        (x * 2).sum().backward()
    figures = prof.to_dict()
    assert figures["regions"]["sleep"]["region_s"] >= 0.05
    assert figures["ops"]["mul"]["forward_s"] < 0.05


def test_ops_inside_a_region_are_ops_and_not_counted_twice():
    x = minigan.tensor(np.ones(1000), requires_grad=True)
    with minigan.profile() as prof:
        with minigan.record("outer"):
            for _ in range(50):
                (x * 2).sum()
    figures = prof.to_dict()
    assert figures["ops"]["mul"]["forward_calls"] == 50
    assert figures["tracked_s"] <= figures["wall_s"]


def test_a_double_backward_lists_the_backwards_ops_as_forward_calls_without_double_counting():
    x = minigan.tensor(np.linspace(0.5, 2.0, 5), requires_grad=True)
    with minigan.profile() as prof:
        (g,) = minigan.grad((x.sin() * x).sum(), x, create_graph=True)
        g.sum().backward()
    figures = prof.to_dict()
    assert figures["ops"]["cos"]["forward_calls"] >= 1  # the backward of sin, recorded as an op
    assert figures["ops"]["sin"]["backward_calls"] == 2  # once per pass: g's graph holds sin's node too
    assert figures["tracked_s"] <= figures["wall_s"]


def test_to_dict_is_json_ready():
    with minigan.profile() as prof:
        (minigan.tensor([1.0], requires_grad=True) * 2).sum().backward()
    assert json.loads(json.dumps(prof.to_dict()))["ops"]["mul"]["forward_calls"] == 1


def test_a_profile_cannot_be_entered_twice_and_bad_sort_keys_are_refused():
    prof = minigan.profile()
    with prof:
        pass
    with pytest.raises(RuntimeError, match="already used"):
        with prof:
            pass
    with pytest.raises(ValueError, match="sort_by must be one of"):
        prof.table(sort_by="speed")


def test_an_error_inside_a_profile_detaches_it():
    with pytest.raises(ZeroDivisionError):
        with minigan.profile():
            (minigan.tensor([1.0], requires_grad=True) * 2).sum()
            1 / 0
    assert not autograd._watching


def test_trace_ops_prints_each_op_and_each_backward_with_shapes_and_time():
    out = io.StringIO()
    x = minigan.tensor(np.ones((2, 3)), requires_grad=True)
    with minigan.trace_ops(file=out):
        (x * 2).sum().backward()
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("[minigan] mul") and "(2, 3)" in lines[0] and "float64" in lines[0]
    assert lines[0].endswith(" ms")
    assert any(line.startswith("[minigan] sum backward") for line in lines)
    assert any(line.startswith("[minigan] mul backward") for line in lines)


def _run_python(code, env_value):
    env = dict(os.environ, MINIGAN_DEBUG=env_value, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)


def test_minigan_debug_1_traces_every_op_on_stderr():
    result = _run_python("import minigan; x = minigan.tensor([1.0, 2.0], requires_grad=True); "
                         "(x * x).sum().backward()", "1")
    assert result.returncode == 0, result.stderr
    assert "[minigan] mul" in result.stderr and "[minigan] sum backward" in result.stderr
    quiet = _run_python("import minigan; (minigan.tensor([1.0], requires_grad=True) * 2).sum()", "0")
    assert quiet.returncode == 0 and "[minigan]" not in quiet.stderr


def test_minigan_debug_that_is_not_a_number_is_a_clear_error():
    result = _run_python("import minigan", "yes")
    assert result.returncode != 0 and "MINIGAN_DEBUG must be an integer" in result.stderr


def test_train_profile_prints_the_table_and_writes_only_profile_json(tmp_path, capsys):
    out = tmp_path / "run"
    code = cli_main(["train", "--data", "ring8", "--profile", "2", "--profile-warmup", "1", "--batch-size", "32",
                     "--out", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    assert "minigan.profile() of 2 training steps after 1 warm-up steps" in text
    assert "linear" in text and "[Adam.step]" in text and "[real batch]" in text and "ms per step" in text
    assert sorted(os.listdir(out)) == ["profile.json"]
    figures = json.loads((out / "profile.json").read_text())
    assert figures["steps"] == 2 and figures["ops"]["linear"]["forward_calls"] > 0


def test_train_profile_refuses_zero_steps(capsys):
    assert cli_main(["train", "--data", "ring8", "--profile", "0"]) == 2
    assert "--profile needs N >= 1" in capsys.readouterr().err


@pytest.mark.gpu
def test_on_cupy_the_times_are_synchronised_and_the_table_says_so():
    with minigan.backend("cupy"):
        x = minigan.tensor(np.ones((256, 256)), requires_grad=True)
        with minigan.profile() as prof:
            (x @ x).sum().backward()
    assert prof.to_dict()["synchronised"]
    assert "synchronised" in str(prof) and "CUDA event" in str(prof)
