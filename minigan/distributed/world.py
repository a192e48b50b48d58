"""The process group of a data-parallel run: MPI's ``COMM_WORLD`` through mpi4py, or one rank without it.

:func:`init` joins the ranks that ``mpiexec -n R`` started. Without mpi4py, or outside ``mpiexec``, it
is a no-op and the process is rank 0 of 1; every collective of :mod:`minigan.distributed` is then the
identity, so the same code runs in one process.

No hangs. A collective that one rank never joins would block the others for ever, so every
collective here is started non-blocking and waited for in a loop (:func:`wait`) that also watches two
things:

- a **failure channel**: each rank keeps a receive posted on a communicator of its own. A rank whose
  code raises (inside :func:`guard`) prints its error, sends it to every other rank on that channel
  and then aborts the job; a rank waiting in a collective receives it and stops with a
  :class:`~minigan.errors.DistributedError` naming the failed rank and its error;
- a **time limit** (:func:`timeout`, 300 s unless :func:`init` is told otherwise): a rank that died
  without a word (``kill -9``; ``mpiexec`` normally ends the job itself then) or hangs outside a
  collective is reported after that long. Rank 0 alone writes pictures, evaluations and checkpoints
  while the others wait at their next collective, so the limit must exceed the longest of those.

The waiting loop polls without pause for 5 ms (MPI moves a large message only while it is being
polled), then sleeps 50 µs between polls, so a rank waiting through rank 0's evaluation does not
hold its core.
"""

import atexit
import math
import os
import sys
import time
import traceback
from contextlib import contextmanager

from minigan.errors import DistributedError

DEFAULT_TIMEOUT = 300.0
_SPIN_S = 0.005          # seconds of polling without pause before the waiting loop starts to sleep
_NAP = 5e-5              # seconds slept between later polls
_CHECK_EVERY = 32        # polls between looks at the failure channel and the clock
_OUTPUT_GRACE_S = 1.0    # seconds between a failure's message and the abort
_MESSAGE_BYTES = 4096    # the longest failure message sent on the channel


class _World:
    """What :func:`init` set up: MPI's module, the collectives' and the failure channel's communicators."""

    def __init__(self):
        self.initialized = False
        self.mpi = None
        self.comm = None
        self.alarm = None
        self.alarm_request = None
        self.alarm_buffer = None
        self.rank = 0
        self.size = 1
        self.timeout = DEFAULT_TIMEOUT
        self.single_rank_depth = 0
        self.local_rank = None


_world = _World()


def init(timeout=None):
    """Join the ranks started by ``mpiexec`` (mpi4py's ``COMM_WORLD``); a no-op single rank without
    mpi4py. ``timeout`` (seconds) bounds every wait in a collective. Safe to call again (it then only
    changes the time limit). Returns the world size."""
    if timeout is not None:
        if not (timeout > 0 and math.isfinite(timeout)):
            raise ValueError(f"distributed.init: timeout must be a finite number of seconds > 0, got {timeout}")
        _world.timeout = float(timeout)
    if _world.initialized:
        return _world.size
    if not mpi_available():
        _world.initialized = True
        return 1
    try:
        from mpi4py import MPI
    except Exception as exc:  # mpi4py is there, but its MPI library is missing or broken
        raise DistributedError(
            f"mpi4py is installed but could not load its MPI library ({type(exc).__name__}: {exc}); reinstall "
            f"it with the library it was built for (pip install 'minigan[mpi]' brings mpi4py and the mpich "
            f"wheel together)") from exc
    _world.initialized = True
    world = MPI.COMM_WORLD
    _world.mpi = MPI
    _world.rank, _world.size = world.Get_rank(), world.Get_size()
    if _world.size > 1:
        # Duplicates: minigan's messages never mix with a user's own on COMM_WORLD, nor failure notices
        # with collectives.
        _world.comm = world.Dup()
        _world.alarm = world.Dup()
        _world.alarm_buffer = bytearray(_MESSAGE_BYTES)
        _world.alarm_request = _world.alarm.Irecv([_world.alarm_buffer, MPI.BYTE], source=MPI.ANY_SOURCE)
        atexit.register(_withdraw_alarm)
    return _world.size


def mpi_available():
    """True when mpi4py can be imported (it brings MPI along), without initialising anything."""
    import importlib.util

    return importlib.util.find_spec("mpi4py") is not None


def is_initialized():
    return _world.initialized


def rank():
    """This process's rank, 0 … world_size() − 1 (0 before :func:`init` or without MPI)."""
    return _world.rank


def world_size():
    """The number of ranks (1 before :func:`init` or without MPI)."""
    return _world.size


def local_rank():
    """This rank's index among the ranks on its own machine (MPI's shared-memory split; 0 with one rank)."""
    if _world.size == 1:
        return 0
    if _world.local_rank is None:
        node = _world.mpi.COMM_WORLD.Split_type(_world.mpi.COMM_TYPE_SHARED)
        _world.local_rank = node.Get_rank()
        node.Free()
    return _world.local_rank


def use_local_gpu():
    """Make GPU number (local rank mod the machine's GPU count) CuPy's current device: one GPU per rank,
    as NCCL needs. Without CuPy it does nothing (choosing the CuPy backend then says what to install)."""
    try:
        import cupy
    except ImportError:
        return
    count = cupy.cuda.runtime.getDeviceCount()
    if not count:
        return
    from minigan.distributed.collectives import _gpu_path

    if local_rank() >= count and _gpu_path() == "nccl":
        raise DistributedError(
            f"rank {_world.rank} is rank {local_rank()} on its machine, which has {count} GPU(s): NCCL needs a GPU "
            f"per rank. Start at most {count} ranks a machine, or let ranks share GPUs with "
            f"MINIGAN_GPU_COLLECTIVES=host (or mpi, with a CUDA-aware MPI)")
    cupy.cuda.Device(local_rank() % count).use()


def timeout():
    """Seconds a collective waits for the other ranks before it raises."""
    return _world.timeout


def communicator():
    """The MPI communicator minigan's collectives use (a duplicate of ``COMM_WORLD``), or None with one rank."""
    return _world.comm


def is_single_rank_scope():
    """True inside :func:`single_rank` (or with one rank): layers compute on this rank's data alone."""
    return _world.size == 1 or _world.single_rank_depth > 0


@contextmanager
def single_rank():
    """Within the block, synchronised layers (``SyncBatchNorm1d``) use this rank's batch alone and send
    nothing: for work that one rank does by itself, such as rank 0 drawing sample pictures in training
    mode. The other ranks are not involved, so they cannot be kept waiting."""
    _world.single_rank_depth += 1
    try:
        yield
    finally:
        _world.single_rank_depth -= 1


# ------------------------------------------------------------------------------ waiting, failures
def wait(done, what):
    """Wait until ``done()`` is true — an MPI request's ``Test``, or an event recorded after an NCCL call —
    for a collective named ``what`` in messages, or raise :class:`DistributedError` when another rank
    reports a failure, or :class:`WaitTimeout` when the time limit passes.

    MPI moves a large message in pieces, each only when this rank calls into MPI, so the loop polls
    without pause for the first ``_SPIN_S`` seconds (a gradient all-reduce is over in a millisecond or
    two); a longer wait — the other ranks busy with something else — sleeps between polls."""
    started = time.monotonic()
    polls = 0
    napping = False
    while not done():
        polls += 1
        if not napping and polls % _CHECK_EVERY:
            continue
        check_failures()
        waited = time.monotonic() - started
        if waited > _world.timeout:
            raise WaitTimeout(
                f"rank {_world.rank}: {what} waited {_world.timeout:g} s for the other ranks: one of them has "
                f"stopped, died or hung (mpiexec reports a rank that died). If a rank is only slow, allow more "
                f"time with --distributed-timeout (minigan.distributed.init(timeout=...))")
        if napping:
            time.sleep(_NAP)
        elif waited > _SPIN_S:
            napping = True


def check_failures():
    """Raise :class:`DistributedError` if another rank has reported a failure on the channel."""
    request = _world.alarm_request
    if request is None:
        return
    status = _world.mpi.Status()
    if request.Test(status):
        _world.alarm_request = None
        count = status.Get_count(_world.mpi.BYTE)
        message = bytes(_world.alarm_buffer[:count]).decode(errors="replace")
        raise PeerFailure(f"rank {_world.rank} stopped because rank {status.Get_source()} failed: {message}")


class PeerFailure(DistributedError):
    """Another rank reported a failure; this rank stops too."""


class WaitTimeout(DistributedError):
    """A collective waited past the time limit for the other ranks."""


class CommonFailure(DistributedError):
    """An error that every rank raises at the same point from the same gathered facts (the start-up
    check): no rank needs telling, and rank 0 alone reports it."""


def notify_failure(message):
    """Send ``message`` to every other rank on the failure channel (best effort: a few seconds at most)."""
    if _world.alarm is None:
        return
    data = message.encode(errors="replace")[:_MESSAGE_BYTES]
    requests = [_world.alarm.Isend([data, _world.mpi.BYTE], dest=r) for r in range(_world.size) if r != _world.rank]
    deadline = time.monotonic() + 5.0
    while not all(r.Test() for r in requests) and time.monotonic() < deadline:
        time.sleep(_NAP)


def _withdraw_alarm():
    """At a normal exit, cancel the posted receive so that MPI can finalise."""
    request = _world.alarm_request
    if request is not None:
        _world.alarm_request = None
        request.Cancel()
        request.Wait()


def abort(code=1):
    """End every rank of the job (``MPI_Abort``), or exit this process with one rank. With several ranks
    it first waits a second: ``mpiexec`` forwards what the ranks printed asynchronously, and an abort
    right after a message can end the job before that message reaches the terminal."""
    sys.stdout.flush()
    sys.stderr.flush()
    if _world.size > 1:
        time.sleep(_OUTPUT_GRACE_S)
        _world.mpi.COMM_WORLD.Abort(code)
    raise SystemExit(code)


@contextmanager
def guard():
    """Around the work of a data-parallel job: an exception on this rank is printed, sent to every other
    rank (each stops at its next collective with an error naming this rank and the exception) and the
    job is ended with exit code 1 — instead of leaving the others blocked in a collective. A rank that
    learns of another's failure prints it and ends the job the same way. With one rank, exceptions pass
    through unchanged.

    After sending, the failed rank waits up to the time limit for the others to stop the job (each
    aborts after printing), then aborts it itself."""
    try:
        yield
    except BaseException as exc:
        if _world.size == 1:
            raise
        if os.environ.get("MINIGAN_TRACEBACK"):
            traceback.print_exc()
        if isinstance(exc, PeerFailure):
            print(f"minigan: {exc}", file=sys.stderr)
            abort(1)
        if isinstance(exc, CommonFailure):
            if _world.rank == 0:
                print(f"minigan: DistributedError: {exc}", file=sys.stderr)
                abort(1)
            _wait_to_be_ended()
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        print(f"minigan: rank {_world.rank} of {_world.size} failed: {text}", file=sys.stderr)
        sys.stderr.flush()
        notify_failure(text)
        if isinstance(exc, WaitTimeout):  # the others are gone or hung: nobody is left to end the job
            abort(1)
        _wait_to_be_ended()


def _wait_to_be_ended():
    """Give the other ranks the time limit to report and end the job, then end it from here — at once
    when another rank reports a failure too (every rank failed: each has printed its own)."""
    deadline = time.monotonic() + _world.timeout
    while time.monotonic() < deadline:
        try:
            check_failures()
        except PeerFailure:
            break
        time.sleep(0.05)
    abort(1)
