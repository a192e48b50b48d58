"""Where a step's time goes, op by op: ``minigan.profile()``, ``record()`` regions and the op trace.

::

    with minigan.profile() as prof:
        trainer.step()
    print(prof)                  # a table per op name: calls, forward and backward time, memory made
    prof.to_dict()               # the raw figures

How time is counted
-------------------
The tape tells the profiler when each op's output is made and when each backward starts and ends
(:func:`minigan.autograd.watch`); nothing is added to the ops themselves. So:

- an op's **forward** time runs from the previous event (the last op's output, a backward's end, a
  region's start or end) to its own output: its computation *and* the Python that led to it since
  the last op — a layer's ``forward`` looking up its weights, a ``Tensor`` method's dispatch — which
  is what calling the op costs. Work that is not an op and runs between ops (drawing a batch with
  NumPy, an optimizer's update) would be charged to the next op: put it in a ``record`` region
  (``minigan.record("data")``) and it gets a row of its own. minigan's optimizers and the trainer's
  batch and noise draws are regions already;
- a node's **backward** time is the call of its backward plus the summing of the gradients it
  returned into the ones already waiting (the walk's bookkeeping until the next node starts); under
  ``create_graph`` the ops a backward records appear as forward calls of their own names, and are
  subtracted from the backward's time, so that no time is counted twice;
- a region's time is what ran inside it and is not an op or a backward: its *self* time. The table
  also gives the wall time of the whole profile and the part outside every op and region.

**Memory made** is the bytes of the arrays each op creates: its output (a view, such as a reshape or
a transpose, makes none) and, in backward, the gradients it returns.

On CuPy each event waits for the GPU (a CUDA event recorded on the current stream and synchronised)
before the clock is read, so each op is charged for its kernels, not just their launch; the table says
so. Synchronising removes the overlap of host and GPU work, so the profiled step is slower than an
unprofiled one.

The op trace
------------
``MINIGAN_DEBUG=1`` in the environment (read at import) or ``with minigan.trace_ops():`` prints one
line per op as it runs — its name, its inputs' shapes and dtype, its output's shape and its time by the
rule above — and one per backward, on stderr (tinygrad's ``DEBUG=1``).
"""

import os
import sys
import time

from minigan import autograd, backends

_clock = time.perf_counter


def _synchronise(array):
    """Wait for the GPU's queued work when ``array`` is a CuPy array (or, for None, whenever CuPy is in
    use: a region's edges); True if it waited."""
    cupy = backends._cupy
    if cupy is None or not (isinstance(array, cupy.ndarray) if array is not None else backends.get_backend() == "cupy"):
        return False
    event = cupy.cuda.Event(disable_timing=True)
    event.record()
    event.synchronize()
    return True


def _array(value):
    return value.data if hasattr(value, "_node") else value


def _bytes_made(array):
    """The bytes of ``array`` if it owns its memory, 0 for a view of another array."""
    return array.nbytes if array.base is None else 0


class _Timeline:
    """The clock rule of the module docstring: events, a stack of open regions and backwards.

    ``_charge(kind, name, seconds, bytes_made)`` is what subclasses do with each piece of time.
    """

    def __init__(self):
        self._mark = _clock()
        self._frames = []          # open regions and backwards: [kind, name, start, time of nested events]
        self._last_backward = None  # the node whose backward ended last, still charged for the walk's work
        self.synchronised = False

    def _now(self, array=None):
        if _synchronise(array):
            self.synchronised = True
        return _clock()

    def _nested(self, seconds):
        if self._frames:
            self._frames[-1][3] += seconds

    def _settle_walk(self, now):
        """Charge the time since the last backward ended to it (the walk summing its gradients into those
        waiting), if that was the last event."""
        if self._last_backward is not None:
            seconds = now - self._mark
            self._charge("backward", self._last_backward, seconds, 0)
            self._nested(seconds)
            self._last_backward = None

    # ----------------------------------------------------------------------------- watcher protocol
    def forward(self, out, parents, op):
        if op is None:
            return
        now = self._now(out.data)
        self._last_backward = None
        seconds = now - self._mark
        self._charge("forward", op, seconds, _bytes_made(out.data), out, parents)
        self._nested(seconds)
        self._mark = _clock()

    def backward_start(self, node, g):
        now = self._now(_array(g))
        self._settle_walk(now)
        self._frames.append(["backward", node.op, now, 0.0])
        self._mark = _clock()

    def backward_end(self, node, g, grads):
        arrays = [_array(x) for x in grads if x is not None]
        now = self._now(arrays[0] if arrays else None)
        _, name, start, nested = self._frames.pop()
        seconds = now - start - nested
        self._charge("backward", name, seconds, sum(_bytes_made(a) for a in arrays), g, grads)
        self._nested(now - start)
        self._last_backward = name
        self._mark = _clock()

    def backward_failed(self, node, exc):
        if self._frames and self._frames[-1][0] == "backward":
            self._frames.pop()
        self._mark = _clock()

    def region_start(self, name):
        now = self._now()
        self._last_backward = None
        self._frames.append(["region", name, now, 0.0])
        self._mark = _clock()

    def region_end(self, name):
        now = self._now()
        self._last_backward = None
        while self._frames:  # a backward left open by an error inside the region closes with it
            kind, frame_name, start, nested = self._frames.pop()
            if kind == "region" and frame_name == name:
                self._charge("region", name, now - start - nested, 0)
                self._nested(now - start)
                break
        self._mark = _clock()

    def _charge(self, kind, name, seconds, bytes_made, *details):
        raise NotImplementedError


class _OpStats:
    __slots__ = ("forward_calls", "forward_s", "backward_calls", "backward_s", "region_calls", "region_s",
                 "forward_bytes", "backward_bytes")

    def __init__(self):
        for field in self.__slots__:
            setattr(self, field, 0)

    @property
    def total_s(self):
        return self.forward_s + self.backward_s + self.region_s

    def as_dict(self):
        return {field: getattr(self, field) for field in self.__slots__} | {"total_s": self.total_s}


class profile(_Timeline):
    """``with minigan.profile() as prof:`` — per op name: calls, forward and backward time, memory made.

    After the block, ``print(prof)`` (or ``prof.table(sort_by="total", limit=None)``) shows the table,
    sorted by total time, and ``prof.to_dict()`` returns the figures: ``{"ops": {name: {...}}, "wall_s",
    "tracked_s", "synchronised"}``. The clock rule is in the module docstring. A profile can be entered
    once; profiles may nest (each sees everything inside it).
    """

    def __init__(self):
        super().__init__()
        self.stats = {}
        self.wall_s = None
        self._started = None

    def __enter__(self):
        if self._started is not None:
            raise RuntimeError("minigan.profile(): this profile was already used; make a new one")
        self._started = self._mark = self._now()
        autograd.watch(self)
        return self

    def __exit__(self, *exc_info):
        autograd.unwatch(self)
        now = _clock()
        self.wall_s = now - self._started
        return False

    def _charge(self, kind, name, seconds, bytes_made, *details):
        stats = self.stats.get((kind == "region", name))
        if stats is None:
            stats = self.stats[(kind == "region", name)] = _OpStats()
        if kind == "forward":
            stats.forward_calls += 1
            stats.forward_s += seconds
            stats.forward_bytes += bytes_made
        elif kind == "backward":
            if details:  # a backward's end (a walk's bookkeeping is charged without details: not a call)
                stats.backward_calls += 1
                stats.backward_bytes += bytes_made
            stats.backward_s += seconds
        else:
            stats.region_calls += 1
            stats.region_s += seconds

    # ------------------------------------------------------------------------------------ results
    @property
    def tracked_s(self):
        return sum(s.total_s for s in self.stats.values())

    def to_dict(self):
        """The raw figures: seconds, calls and bytes per op (regions under ``"regions"``)."""
        return {
            "ops": {name: s.as_dict() for (region, name), s in self.stats.items() if not region},
            "regions": {name: s.as_dict() for (region, name), s in self.stats.items() if region},
            "wall_s": self.wall_s, "tracked_s": self.tracked_s, "synchronised": self.synchronised,
        }

    def table(self, sort_by="total", limit=None):
        """The table as text; ``sort_by`` is ``"total"``, ``"forward"``, ``"backward"``, ``"calls"``,
        ``"memory"`` or ``"name"``; ``limit`` keeps that many rows."""
        keys = {"total": lambda s: -s.total_s, "forward": lambda s: -s.forward_s, "backward": lambda s: -s.backward_s,
                "calls": lambda s: -(s.forward_calls + s.backward_calls + s.region_calls),
                "memory": lambda s: -(s.forward_bytes + s.backward_bytes), "name": None}
        if sort_by not in keys:
            raise ValueError(f"profile.table: sort_by must be one of {', '.join(keys)}, got {sort_by!r}")
        rows = sorted(self.stats.items(), key=(lambda item: item[0][1]) if sort_by == "name"
                      else (lambda item: keys[sort_by](item[1])))
        if limit is not None:
            rows = rows[:limit]
        wall = self.wall_s if self.wall_s is not None else _clock() - (self._started or _clock())
        header = (f"{'op':<28} {'calls':>7} {'forward ms':>11} {'bwd calls':>9} {'backward ms':>12} {'total ms':>10}"
                  f" {'%':>6} {'memory made MB':>15}")
        lines = [header, "-" * len(header)]
        for (region, name), s in rows:
            label = f"[{name}]" if region else str(name)
            calls = s.region_calls if region else s.forward_calls
            forward = s.region_s if region else s.forward_s
            share = 100 * s.total_s / wall if wall else 0.0
            lines.append(f"{label[:28]:<28} {calls:>7} {1e3 * forward:>11.3f} {s.backward_calls:>9} "
                         f"{1e3 * s.backward_s:>12.3f} {1e3 * s.total_s:>10.3f} {share:>6.1f} "
                         f"{(s.forward_bytes + s.backward_bytes) / 1e6:>15.3f}")
        lines.append("-" * len(header))
        tracked = self.tracked_s
        lines.append(f"wall time {1e3 * wall:.3f} ms: {1e3 * tracked:.3f} ms in ops and [regions], "
                     f"{1e3 * max(wall - tracked, 0.0):.3f} ms outside them")
        lines.append("times: wall clock; an op's forward time includes the Python that called it since the previous "
                     "op; [name] rows are record() regions (self time)")
        if self.synchronised:
            lines.append("CuPy: synchronised — each op waited for its GPU work (a CUDA event) before its time was read")
        return "\n".join(lines)

    def __str__(self):
        return self.table()


class record:
    """``with minigan.record("data"):`` — a named region of a profile: its own row ``[data]``.

    Time inside the region that is not an op or a backward is charged to it, rather than to the next
    op. Outside a profile it costs a flag test.
    """

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        if autograd._watching:
            for watcher in autograd._watchers:
                start = getattr(watcher, "region_start", None)
                if start is not None:
                    start(self.name)
        return self

    def __exit__(self, *exc_info):
        if autograd._watching:
            for watcher in autograd._watchers:
                end = getattr(watcher, "region_end", None)
                if end is not None:
                    end(self.name)
        return False


def _shapes(values):
    parts = []
    for value in values:
        if value is None:
            parts.append("-")
        else:
            array = _array(value)
            parts.append(f"{tuple(array.shape)}")
    return ", ".join(parts)


class trace_ops(_Timeline):
    """``with minigan.trace_ops():`` — print a line per op and per backward as it runs (on ``file``,
    stderr by default); ``MINIGAN_DEBUG=1`` turns it on for the whole process."""

    def __init__(self, file=None):
        super().__init__()
        self.file = file

    def __enter__(self):
        self._mark = _clock()
        autograd.watch(self)
        return self

    def __exit__(self, *exc_info):
        autograd.unwatch(self)
        return False

    def _charge(self, kind, name, seconds, bytes_made, *details):
        if kind == "backward" and not details:
            return  # the walk's bookkeeping: folded into the backward's time only in a profile
        if kind == "forward":
            out, parents = details
            dtype = out.dtype
            what = f"{name:<18} in [{_shapes(parents)}] {dtype} -> {tuple(out.shape)}"
        elif kind == "backward":
            g, grads = details
            what = f"{name + ' backward':<18} g {tuple(g.shape)} -> [{_shapes(grads)}]"
        else:
            what = f"[{name}]"
        print(f"[minigan] {what}  {1e3 * seconds:.3f} ms", file=self.file or sys.stderr)


def _debug_from_environment():
    """MINIGAN_DEBUG=1 (any integer above 0) traces every op of the process; returns the tracer or None."""
    value = os.environ.get("MINIGAN_DEBUG", "").strip()
    if not value:
        return None
    try:
        level = int(value)
    except ValueError:
        raise ValueError(f"MINIGAN_DEBUG must be an integer (0 off, 1 print each op), got {value!r}") from None
    if level <= 0:
        return None
    tracer = trace_ops()
    tracer.__enter__()
    return tracer


_environment_tracer = _debug_from_environment()
