"""The README's "Looking inside" lines run as written (with the names they assume defined here)."""

import os
import re

import numpy as np

import minigan
from minigan import nn
from minigan.gan.trainer import TrainConfig, Trainer
from minigan.data import load_dataset

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")


def looking_inside_block():
    text = open(README, encoding="utf-8").read()
    section = text[text.index("## Looking inside"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_looking_inside_lines_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = TrainConfig(data="ring8", steps=2, batch_size=16, n_data=256)
    trainer = Trainer(config, load_dataset("ring8", n_samples=256, seed=0), progress=False)
    layer = nn.Sequential(nn.Dense(3, 4), nn.BatchNorm1d(4), nn.LeakyReLU(0.2), nn.Dense(4, 1))
    x = minigan.tensor(np.random.default_rng(0).normal(size=(5, 3)), requires_grad=True, dtype="float64")
    w = minigan.tensor(np.ones((3, 1)), requires_grad=True, dtype="float64")
    loss = ((x @ w).tanh() ** 2).mean()
    it = iter([np.zeros(3)])
    namespace = {"minigan": minigan, "trainer": trainer, "layer": layer, "x": x, "loss": loss, "it": it}
    exec(compile(looking_inside_block(), README, "exec"), namespace)
    assert os.path.exists(tmp_path / "graph.png")
    assert "forward ms" in str(namespace["prof"])
    assert layer[0].weight.dtype == np.float64
