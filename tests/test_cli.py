"""The command line end to end, on tiny configurations."""

import json
import os

import numpy as np
import pytest

from minigan.cli import main

TINY = ["--steps", "4", "--batch-size", "8", "--g-hidden", "8", "--d-hidden", "8", "--log-every", "2",
        "--sample-every", "2", "--checkpoint-every", "2", "--quiet"]


def test_train_then_resume_then_sample_then_eval_on_ring8(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--data", "ring8", "--n-data", "500", "--out", str(run), *TINY]) == 0
    printed = capsys.readouterr().out
    assert str(run) in printed and "modes_captured" in printed
    checkpoint = run / "checkpoint.npz"
    assert {"config.json", "metrics.jsonl", "evaluation.json", "curves.png", "samples"} <= set(os.listdir(run))

    assert main(["train", "--resume", str(checkpoint), "--steps", "6", "--quiet"]) == 0
    steps = [json.loads(line)["step"] for line in open(run / "metrics.jsonl")]
    assert steps == [2, 4, 6]

    assert main(["sample", "--checkpoint", str(checkpoint), "--n", "10", "--out", str(tmp_path / "s.npz")]) == 0
    assert np.load(tmp_path / "s.npz")["x"].shape == (10, 2)
    assert main(["sample", "--checkpoint", str(checkpoint), "--out", str(tmp_path / "s.png")]) == 0
    assert (tmp_path / "s.png").stat().st_size > 0
    for name in ("a", "b", "c"):
        seed = ["--seed", "5"] if name != "c" else ["--seed", "6"]
        assert main(["sample", "--checkpoint", str(checkpoint), "--n", "10", *seed,
                     "--out", str(tmp_path / f"{name}.npz")]) == 0
    a, b, c = (np.load(tmp_path / f"{name}.npz")["x"] for name in "abc")
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)

    capsys.readouterr()
    assert main(["eval", "--checkpoint", str(checkpoint), "--n", "2500"]) == 0
    printed = capsys.readouterr().out
    assert "step 6" in printed
    final = json.load(open(run / "evaluation.json"))  # the run's own evaluation of the same weights
    assert f"counts                   {final['counts']}" in printed


def test_every_train_option_reaches_the_saved_config(tmp_path):
    run = tmp_path / "run"
    options = ["--d-lr", "0.001", "--lr", "0.0005", "--g-activation", "relu", "--d-activation", "relu",
               "--lr-decay", "linear", "--g-ema", "0.9", "--pack", "2", "--label-smoothing", "0.1"]
    assert main(["train", "--data", "ring8", "--n-data", "200", "--out", str(run), *TINY, *options]) == 0
    config = json.load(open(run / "config.json"))
    assert (config["d_lr"], config["lr"], config["g_activation"], config["d_activation"], config["lr_decay"],
            config["g_ema"], config["pack"], config["label_smoothing"]) == (0.001, 0.0005, "relu", "relu", "linear",
                                                                           0.9, 2, 0.1)


def test_train_on_a_missing_data_file_fails_naming_it(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("MINIGAN_TRACEBACK", raising=False)
    args = ["train", "--data", f"npz:{tmp_path / 'nothing.npz'}", "--out", str(tmp_path / "run"), *TINY]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "minigan train: FileNotFoundError" in err and "nothing.npz" in err
    monkeypatch.setenv("MINIGAN_TRACEBACK", "1")
    with pytest.raises(FileNotFoundError, match="nothing.npz"):
        main(args)


@pytest.mark.parametrize("args, message", [
    (["train", *TINY, "--sample-every", "0"], "sample_every must be at least 1"),
    (["train", "--pack", "3", "--batch-size", "8", "--steps", "2"], "pack=3 must be ≥ 1 and divide batch_size=8"),
    (["eval", "--checkpoint", "no-such-checkpoint.npz"], "no-such-checkpoint.npz"),
    (["sample", "--checkpoint", "no-such-checkpoint.npz"], "no-such-checkpoint.npz"),
])
def test_bad_input_is_one_line_on_stderr_and_exit_code_2(args, message, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("MINIGAN_TRACEBACK", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"minigan {args[0]}: ") and message in err and "Traceback" not in err
    assert not (tmp_path / "runs").exists()  # refused before anything was written


@pytest.mark.parametrize("command", [[], ["train", "--help"], ["sample", "--help"], ["eval", "--help"],
                                     ["gradcheck", "--help"]])
def test_help_is_available_everywhere(command, capsys):
    with pytest.raises(SystemExit) if command else _no_exit():
        code = main(command)
        assert code == 2
    assert "usage" in capsys.readouterr().out


class _no_exit:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
