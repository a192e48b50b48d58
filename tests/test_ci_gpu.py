"""``.ci/gpu``, the one command that verifies the GPU path on an NVIDIA machine, checked here where no GPU
is: it parses, its dry run lists every part the GPU issue asks for with a time limit each, and the limits
add up to less than its 9-minute budget; the dry run writes nothing."""

import os
import re
import subprocess

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(REPO_ROOT, ".ci", "gpu")


def dry_run(tmp_path):
    result = subprocess.run(["bash", SCRIPT, "--dry-run", str(tmp_path / "logs")], capture_output=True, text=True,
                            timeout=60, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_script_parses():
    assert subprocess.run(["bash", "-n", SCRIPT], capture_output=True, timeout=30).returncode == 0


def test_dry_run_lists_every_part_with_its_time_limit_within_nine_minutes(tmp_path):
    listing = dry_run(tmp_path)
    parts = dict(re.findall(r"^  ([a-z-]+)\s+(\d+) s  ", listing, flags=re.M))
    assert set(parts) == {"probe", "tests-gpu", "tests-kernels-off", "train-cupy", "bench-kernels-on",
                          "bench-kernels-off"}
    assert sum(int(v) for v in parts.values()) <= 540
    assert "nvidia-smi" in listing and "cupy.__version__" in listing
    assert "MINIGAN_KERNELS=0 python3 -m pytest" in listing and "-m gpu" in listing
    assert "minigan train --backend cupy --steps 1000" in listing
    assert "--batch-sizes 64,1024,8192" in listing and "--warmup 3" in listing  # compilation not timed


def test_dry_run_writes_nothing(tmp_path):
    dry_run(tmp_path)
    assert not (tmp_path / "logs").exists()
