"""Smoke test of the benchmark suite: it runs, and its hand-fused NumPy floor equals minigan's step.

No timing is asserted anywhere: speed is measured by ``python -m benchmarks.step`` and recorded in
benchmarks/RESULTS.md.
"""

import json
import os
import subprocess
import sys

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
    result = subprocess.run([sys.executable, "-m", "benchmarks", "--out", str(tmp_path), "--quick", "--no-torch"],
                            cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    written = set(os.listdir(tmp_path))
    assert {"step_numpy.md", "step_numpy.json", "ops.md", "ops.json", "scaling.png", "scaling.json"} <= written
    assert (tmp_path / "scaling.png").stat().st_size > 1000
