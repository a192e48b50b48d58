"""Smoke test of the benchmark suite: it runs, its hand-fused NumPy floor equals minigan's step, so does
its JAX peer (when JAX is installed), and the WGAN-GP critic step of benchmarks.gradient_penalty equals PyTorch's (when PyTorch is installed).

No timing is asserted anywhere: speed is measured by ``python -m benchmarks.step`` and recorded in
benchmarks/RESULTS.md.
"""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_step_benchmark_runs_and_its_floor_matches_minigan(tmp_path):
    out = tmp_path / "step.json"
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.step", "--batch-sizes", "8", "--repeats", "2", "--warmup", "1",
         "--check", "--no-torch", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "minigan/floor" in result.stdout
    assert out.exists() and json.loads(out.read_text())


def test_whole_suite_runs_from_one_command_and_writes_tables_and_plot(tmp_path):
    result = subprocess.run([sys.executable, "-m", "benchmarks", "--out", str(tmp_path), "--quick", "--no-torch", "--no-jax"],
                            cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    written = set(os.listdir(tmp_path))
    assert {"step_numpy.md", "step_numpy.json", "ops.md", "ops.json", "scaling.png", "scaling.json"} <= written
    assert {"gradient_penalty.md", "gradient_penalty.json"} <= written
    assert (tmp_path / "scaling.png").stat().st_size > 1000


def test_ab_benchmark_interleaves_two_settings_of_one_tree(tmp_path):
    out = tmp_path / "ab.json"
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.ab", "--system", "eager", ".", "static_step=false", "--system", "plain", ".",
         "MINIGAN_KERNELS=0", "static_step=false", "--batch-sizes", "8", "--rounds", "3", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "eager" in result.stdout and "plain" in result.stdout
    payload = json.loads(out.read_text())
    assert {len(r["times_ms"]) for r in payload["results"]["8"].values()} == {3}


@pytest.mark.parametrize("values, message", [
    (["only-a-label"], "needs a LABEL and a TREE"),
    (["a", ROOT, "static_step"], "is not KEY=VALUE"),
    (["a", ROOT, "lr=fast"], "is not a JSON value"),
    (["a", "/nonexistent-tree"], "holds no minigan package"),
])
def test_ab_benchmark_refuses_a_bad_system_by_name(values, message):
    from benchmarks.ab import parse_system

    with pytest.raises(SystemExit, match=message):
        parse_system(values)


def test_ab_benchmark_reads_settings_as_environment_or_config():
    from benchmarks.ab import parse_system

    label, tree, environment, config = parse_system(["plain", ROOT, "MINIGAN_KERNELS=0", "static_step=false", "lr=1e-3"])
    assert (label, tree) == ("plain", ROOT)
    assert environment == {"MINIGAN_KERNELS": "0"} and config == {"static_step": False, "lr": 1e-3}


def test_breakdown_benchmark_runs(tmp_path):
    out = tmp_path / "breakdown.json"
    result = subprocess.run([sys.executable, "-m", "benchmarks.breakdown", "--batch-sizes", "8", "--steps", "2",
                             "--no-jax", "--json", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    parts = json.loads(out.read_text())["results"][0]["ms"]
    assert parts["matrix products"] > 0 and "the step's products alone, NumPy" in parts


def test_gradient_penalty_benchmark_runs_without_pytorch(tmp_path):
    out = tmp_path / "gradient_penalty.json"
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.gradient_penalty", "--batch-sizes", "8", "--repeats", "2", "--warmup", "1",
         "--check", "--no-torch", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "--check skipped" in result.stdout
    payload = json.loads(out.read_text())
    assert payload["results"][0]["systems"]["minigan"]["median_ms"] > 0


def test_the_jax_peer_computes_minigans_step():
    """The JAX peer of benchmarks.step (the whole step under jax.jit), from minigan's weights and on minigan's
    draws, gives minigan's statistics and updated weights to float32 rounding (skipped without JAX)."""
    pytest.importorskip("jax")
    from benchmarks import _common
    from benchmarks._systems import check_jax_matches_minigan

    jax, reason = _common.load_jax()
    assert jax is not None, reason
    worst = check_jax_matches_minigan(jax)
    assert set(worst) == {"statistics", "weight gradient norms", "weights", "running statistics"}


def test_the_jax_critic_computes_minigans_wgan_gp_gradients():
    pytest.importorskip("jax")
    from benchmarks import _common
    from benchmarks.gradient_penalty import check_matches_jax

    jax, reason = _common.load_jax()
    assert jax is not None, reason
    worst = check_matches_jax(jax)
    assert set(worst) == {"L", "gradients"} and max(worst.values()) <= 1e-4


@pytest.mark.torch
def test_gradient_penalty_critic_step_equals_pytorch_in_float64():
    torch = pytest.importorskip("torch")
    from benchmarks.gradient_penalty import check_matches_pytorch

    worst = check_matches_pytorch(torch, batch_size=16, steps=2, tolerance=1e-9, n_data=64)
    assert set(worst) == {"L", "gradients", "parameters"}
    assert max(worst.values()) <= 1e-9


def test_interleaved_timing_reads_the_cpu_clock_around_each_timed_run_in_rotating_order():
    """``time_interleaved_clocks``: each round runs every item once, starting one item later each round;
    the CPU clock is read once before and once after each run (a counting clock makes every CPU time
    exactly 1), and ``time_interleaved`` gives the same wall-clock lists without reading it."""
    from benchmarks import _common

    order, ticks = [], iter(range(10 ** 6))
    items = [_common.Timed(name, lambda name=name: order.append(name)) for name in "abc"]
    times = _common.time_interleaved_clocks(items, repeats=4, warmup=1, cpu_clock=lambda: float(next(ticks)))
    assert order == list("abc") + list("abc") + list("bca") + list("cab") + list("abc")  # warm-up, 4 rounds
    assert set(times) == set("abc")
    for t in times.values():
        assert t["cpu"] == [1.0] * 4 and len(t["wall"]) == 4 and min(t["wall"]) >= 0
    wall_only = _common.time_interleaved(items, repeats=3, warmup=0)
    assert {name: len(t) for name, t in wall_only.items()} == {"a": 3, "b": 3, "c": 3}
