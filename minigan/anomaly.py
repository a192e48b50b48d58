"""Anomaly mode: stop at the first NaN or infinity, and say which op made it and where.

A NaN in a long run is usually noticed far from its birth: the loss turns NaN a hundred ops after
the ``log(0)`` or ``0 / 0`` that made the first one, and every op in between only passed it on. In
anomaly mode every op's output is checked as it is made (forward), and every gradient a backward
returns is checked as it is returned (backward), so the first non-finite value stops the run at the
op that made it::

    with minigan.detect_anomaly():
        loss = model(x).mean()
        loss.backward()

The :class:`~minigan.errors.AnomalyError` names the op and the pass, gives the shapes and a few
offending values (with their indices), says whether the op's inputs (forward) or its incoming
gradient (backward) were still finite — if they were not, the NaN came from outside the tape: a leaf,
a constant, or a seed gradient — and shows where the op was made: the stack of the forward call,
recorded when the op ran, down to the line of your code. The check costs a pass over each array (and
recording a stack per op), so the mode is for hunting, not for training; outside it each op pays for
one flag test (:func:`minigan.autograd.watch`).

``check_nan=False`` keeps the stacks but skips the checks: an error raised inside a backward (a shape
error in a layer you wrote) then carries, as a note, where its op was made — PyTorch's behaviour.
"""

import linecache
import os
import sys

import numpy as np

from minigan import autograd, backends
from minigan.errors import AnomalyError

_PACKAGE = os.path.dirname(os.path.abspath(__file__))
# The engine's own frames (the op's function, the tape, the watchers) are skipped in a creation stack:
# it starts at the line that called the op — a layer's forward, or your code.
_ENGINE = (os.path.join(_PACKAGE, "ops") + os.sep, os.path.join(_PACKAGE, "tensor.py"),
           os.path.join(_PACKAGE, "autograd.py"), os.path.join(_PACKAGE, "anomaly.py"),
           os.path.join(_PACKAGE, "profiler.py"))
_STACK_LIMIT = 8
_EXAMPLES = 3


def creation_stack(limit=_STACK_LIMIT):
    """The caller's stack outside the engine, as ``(filename, line, function)``, innermost last.

    It runs from the frame that called the op outwards, up to and including the first frame outside
    the minigan package (your code), at most ``limit`` frames.
    """
    frames = []
    frame = sys._getframe(1)
    while frame is not None and len(frames) < limit:
        filename = frame.f_code.co_filename
        if not filename.startswith(_ENGINE):
            frames.append((filename, frame.f_lineno, frame.f_code.co_name))
            if not filename.startswith(_PACKAGE):
                break
        frame = frame.f_back
    frames.reverse()
    return frames


def format_stack(stack):
    """A creation stack as Python prints a traceback: outermost call first, each with its source line."""
    if not stack:
        return "  (no stack recorded: the op ran before anomaly mode was turned on)"
    lines = []
    for filename, line, function in stack:
        lines.append(f'  File "{filename}", line {line}, in {function}')
        source = linecache.getline(filename, line).strip()
        if source:
            lines.append(f"    {source}")
    return "\n".join(lines)


def _host(array):
    return array.get() if backends.backend_name(array) == "cupy" else np.asarray(array)


def _is_finite(array):
    return bool(backends.array_module(array).isfinite(array).all())


def describe_nonfinite(array):
    """'2 of 12 values are not finite (1 NaN, 1 inf), e.g. nan at (0, 1), -inf at (2, 2)'."""
    host = _host(array)
    bad = ~np.isfinite(host)
    n_nan = int(np.isnan(host).sum())
    n_inf = int(bad.sum()) - n_nan
    where = np.argwhere(bad)[:_EXAMPLES]
    examples = ", ".join(f"{float(host[tuple(i)])} at {tuple(int(v) for v in i)}" for i in where) if host.ndim \
        else repr(host.item())
    return (f"{int(bad.sum())} of {host.size} values are not finite ({n_nan} NaN, {n_inf} inf), "
            f"e.g. {examples}")


def _data(value):
    return value.data if hasattr(value, "_node") else value


def _what(tensor):
    """'leaf x (3,) float64' / 'output of mul (3,) float64' / 'constant (3,) float64'."""
    if tensor._node is not None:
        kind = f"output of {tensor._node.op!r}"
    elif tensor.requires_grad:
        kind = "leaf" + (f" {tensor.name!r}" if tensor.name else "")
    else:
        kind = "constant" + (f" {tensor.name!r}" if tensor.name else "")
    return f"{kind}, shape {tensor.shape}, {tensor.dtype}"


class _AnomalyWatcher:
    """Checks outputs and gradients (``check_nan``) and records each node's creation stack."""

    def __init__(self, check_nan):
        self.check_nan = check_nan

    def forward(self, out, parents, op):
        if op is None:
            return
        if out._node is not None:
            out._node.trace = creation_stack()
        if not self.check_nan or _is_finite(out.data):
            return
        stack = out._node.trace if out._node is not None else creation_stack()
        inputs = [f"    input {i} ({_what(p)}): " + ("finite" if _is_finite(p.data)
                                                      else "ALREADY NOT FINITE — " + describe_nonfinite(p.data))
                  for i, p in enumerate(parents)]
        origin = ("its inputs were all finite, so this op made the first non-finite value"
                  if all(_is_finite(p.data) for p in parents) else
                  "an input was already not finite: it came from outside the tape (a leaf or a constant) or from "
                  "an op that ran before anomaly mode was on")
        raise AnomalyError(
            f"anomaly in the forward pass: op {op!r} returned a non-finite output (shape {out.shape}, "
            f"{out.dtype}): {describe_nonfinite(out.data)}.\n  {origin}:\n" + "\n".join(inputs)
            + "\n  the op was called at:\n" + format_stack(stack),
            op=op, phase="forward", trace=stack)

    def backward_start(self, node, g):
        pass

    def backward_end(self, node, g, grads):
        if not self.check_nan:
            return
        for i, grad in enumerate(grads):
            if grad is None or _is_finite(_data(grad)):
                continue
            g_data = _data(g)
            incoming = ("finite, so this backward made the first non-finite gradient" if _is_finite(g_data) else
                        "ALREADY NOT FINITE (" + describe_nonfinite(g_data) + "): it was the seed gradient given "
                        "to backward() or a hook's result")
            stack = getattr(node, "trace", None)
            raise AnomalyError(
                f"anomaly in the backward pass: the backward of op {node.op!r} (output shape {node.shape}) "
                f"returned a non-finite gradient for input {i} (shape {grad.shape}, {grad.dtype}): "
                f"{describe_nonfinite(_data(grad))}.\n  the gradient arriving at the op, shape {g.shape}, was "
                f"{incoming}.\n  the op was made in the forward pass at:\n" + format_stack(stack),
                op=node.op, phase="backward", index=i, trace=stack)

    def backward_failed(self, node, exc):
        autograd._noted(exc, node)


_active = None  # the attached watcher while the mode is on


def set_detect_anomaly(mode, check_nan=True):
    """Turn anomaly mode on (``mode=True``) or off for the whole process; ``check_nan`` as in
    :func:`detect_anomaly`."""
    global _active
    if _active is not None:
        autograd.unwatch(_active)
        _active = None
    if mode:
        _active = _AnomalyWatcher(bool(check_nan))
        autograd.watch(_active)


def is_anomaly_enabled():
    """True while anomaly mode is on."""
    return _active is not None


def is_anomaly_check_nan_enabled():
    """True while anomaly mode is on and checks for NaN and infinity."""
    return _active is not None and _active.check_nan


class detect_anomaly:
    """``with minigan.detect_anomaly():`` — anomaly mode inside the block (also a function decorator).

    ``check_nan=True`` (the default) raises :class:`~minigan.errors.AnomalyError` at the first op whose
    output, or whose backward's gradient, holds a NaN or an infinity; ``False`` only records where each
    op was made, for the note added to any error its backward raises. The previous mode is restored on
    leaving the block.
    """

    def __init__(self, check_nan=True):
        self.check_nan = check_nan

    def __enter__(self):
        self._previous = (_active is not None, _active.check_nan if _active is not None else True)
        set_detect_anomaly(True, self.check_nan)
        return self

    def __exit__(self, *exc_info):
        set_detect_anomaly(*self._previous)
        return False

    def __call__(self, function):
        def wrapped(*args, **kwargs):
            with detect_anomaly(self.check_nan):
                return function(*args, **kwargs)

        wrapped.__name__ = function.__name__
        wrapped.__doc__ = function.__doc__
        wrapped.__wrapped__ = function
        return wrapped
