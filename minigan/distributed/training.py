"""What data-parallel training adds to a model and its optimizer: equal start, averaged gradients, and a
start-up check that every rank runs the same thing.

- :func:`broadcast_parameters` — every rank starts from rank ``root``'s parameters and buffers.
- :func:`average_gradients` — from then on, each ``optimizer.step()`` first replaces every gradient by
  its mean over the ranks, with **one** all-reduce over the optimizer's flat gradient buffer (the
  parameters' gradients copied end to end: for the seed GAN, 1.33 M numbers in two steps, G's and D's),
  and then updates. Every rank then applies the same update to the same weights, so the weights stay
  equal without being sent again. Afterwards each ``p.grad`` is the averaged gradient, a view of that
  buffer (as after PyTorch's ``DistributedDataParallel``).
- :func:`check_consistent` — ranks started with different settings or code would train different models
  and average nonsense; this finds it at start-up and names the difference.
"""

import hashlib
import os

from minigan.distributed import collectives, world
from minigan.distributed.world import CommonFailure


def broadcast_parameters(module, root=0):
    """Overwrite every parameter and buffer of ``module`` (in place) with rank ``root``'s."""
    for _, p in module.named_parameters():
        collectives.broadcast(p.data, root)
    for _, b in module.named_buffers():
        if b is not None:
            collectives.broadcast(b.data, root)
    return module


def _average(flat_gradient):
    collectives.all_reduce(flat_gradient, "mean")


def average_gradients(optimizer):
    """Make every ``optimizer.step()`` average the gradients over the ranks first (one all-reduce per
    step; module docstring). Every rank must give gradients to the same parameters. Returns the
    optimizer. With one rank the step is unchanged.

    Unlike PyTorch's DDP, which averages during ``backward()``, the average happens in ``step()``:
    between the two, ``p.grad`` is still this rank's own gradient (clip or log after ``step()``, or
    average by hand with :func:`~minigan.distributed.all_reduce`)."""
    optimizer.reduce_gradients = _average if world.world_size() > 1 else None
    return optimizer


def code_fingerprint():
    """A SHA-256 of minigan's own source (the ``.py`` files and CUDA kernels of the installed package):
    ranks that import different code have different fingerprints."""
    import minigan

    root = os.path.dirname(os.path.abspath(minigan.__file__))
    digest = hashlib.sha256()
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith((".py", ".cu", ".cuh")):
                path = os.path.join(folder, name)
                digest.update(os.path.relpath(path, root).encode())
                with open(path, "rb") as f:
                    digest.update(f.read())
    return digest.hexdigest()


def check_consistent(facts, what="start-up"):
    """Compare ``facts`` (a flat dict of name → picklable value, e.g. every configuration field and the
    code fingerprint) across the ranks; raise :class:`~minigan.distributed.world.CommonFailure` (a
    ``DistributedError``) on every rank, naming each rank and field that differs from rank 0, when any does."""
    gathered = collectives.all_gather_object(facts, what)
    reference = gathered[0]
    differences = []
    for r, theirs in enumerate(gathered[1:], start=1):
        for name in sorted(set(reference) | set(theirs)):
            mine, ref = theirs.get(name, "<absent>"), reference.get(name, "<absent>")
            if mine != ref:
                differences.append(f"rank {r} has {name} = {_short(mine)} where rank 0 has {_short(ref)}")
    if differences:
        shown = "; ".join(differences[:6]) + (f"; and {len(differences) - 6} more" if len(differences) > 6 else "")
        raise CommonFailure(f"the ranks were started differently ({what} check): {shown}. Start every rank "
                               f"with the same command, installation and files")


def _short(value):
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
