"""A run's checkpoint: everything needed to continue it exactly, as one flat ``.npz``.

Entries: ``G/<name>``, ``D/<name>`` and ``G_ema/<name>`` (each network's state dict: parameters and
buffers — BatchNorm's running statistics, spectral norm's u and v), ``G_opt/...`` and ``D_opt/...`` (the
optimizers' flat states), ``average/G/<i>`` and ``average/D/<i>`` (historical averaging's θ̄), ``step``,
``rng`` (minigan.random's generator state, JSON) and ``config`` (the run's :class:`TrainConfig`, JSON).
Written atomically (:func:`minigan.serialization.save_npz`): a crash leaves the previous checkpoint.
"""

import dataclasses
import json

import numpy as np

from minigan import backends, random
from minigan.gan.config import TrainConfig
from minigan.serialization import load_npz, save_npz


def training_state(trainer):
    """The flat dict of arrays that :func:`restore` reads back."""
    flat = {}
    modules = (("G", trainer.G), ("D", trainer.D)) + ((("G_ema", trainer.G_ema),) if trainer.G_ema is not None else ())
    for prefix, module in modules:
        for k, v in module.state_dict().items():
            flat[f"{prefix}/{k}"] = v
    for prefix, opt in (("G_opt", trainer.G_opt), ("D_opt", trainer.D_opt)):
        for k, v in opt.flat_state().items():
            flat[f"{prefix}/{k}"] = v
    for prefix in ("G", "D"):
        for i, a in enumerate(trainer.averages[prefix]):
            flat[f"average/{prefix}/{i}"] = a
    flat["step"] = np.asarray(trainer.step_count)
    flat["rng"] = np.frombuffer(json.dumps(random.get_state()).encode(), dtype=np.uint8)
    flat["config"] = np.frombuffer(json.dumps(dataclasses.asdict(trainer.config)).encode(), dtype=np.uint8)
    return flat


def save(trainer, path):
    save_npz(path, training_state(trainer))


def restore(trainer, flat, source="checkpoint"):
    """Put a state from :func:`training_state` back into ``trainer`` (built with the same config)."""
    def part(prefix):
        return {k[len(prefix) + 1:]: v for k, v in flat.items() if k.startswith(prefix + "/")}

    trainer.G.load_state_dict(part("G"))
    trainer.D.load_state_dict(part("D"))
    if trainer.G_ema is not None:
        trainer.G_ema.load_state_dict(part("G_ema"))
    trainer.G_opt.load_flat_state(part("G_opt"), source)
    trainer.D_opt.load_flat_state(part("D_opt"), source)
    xp = backends.current_module()
    for prefix in ("G", "D"):
        stored = part(f"average/{prefix}")
        trainer.averages[prefix] = [xp.asarray(stored[str(i)]) for i in range(len(trainer.averages[prefix]))]
    trainer.step_count = int(flat["step"])
    random.set_state(json.loads(bytes(flat["rng"]).decode()))


def load(path):
    """The flat state in ``path`` and the run's config, checked to be a training checkpoint."""
    flat = load_npz(path)
    if "config" not in flat:
        raise ValueError(f"{path} is not a minigan training checkpoint (no 'config' entry)")
    return flat, TrainConfig(**json.loads(bytes(flat["config"]).decode()))
