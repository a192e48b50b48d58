"""Collectives over the ranks: ``all_reduce``, ``all_gather``, ``broadcast``, ``barrier``.

Each takes a NumPy or CuPy array (or a :class:`~minigan.tensor.Tensor`, whose data it uses), is called
by every rank in the same order, and waits for the others through :func:`minigan.distributed.world.wait`
(failure notices and a time limit; no hangs). With one rank each is the identity.

Where the bytes go:

- NumPy arrays: MPI (``MPI_Iallreduce``, ``MPI_Iallgather``, ``MPI_Ibcast``) straight from the array's
  memory; ``all_reduce`` works in place.
- CuPy arrays, by ``MINIGAN_GPU_COLLECTIVES`` (default ``nccl`` when CuPy has NCCL, else ``host``):
  ``nccl`` — NCCL (``cupy.cuda.nccl``) on the current stream, one GPU per rank, the communicator built
  at the first GPU collective from an id that rank 0 broadcasts over MPI; ``mpi`` — a CUDA-aware MPI
  reads device memory itself; ``host`` — copy to the host, MPI, copy back.
"""

import os

import numpy as np

from minigan.distributed import world
from minigan.errors import DistributedError

_OPS = ("sum", "mean", "max", "min", "prod")
_GPU_PATHS = ("nccl", "mpi", "host")
_nccl = {}  # the NCCL communicator, built at the first GPU collective


def _array(value, what):
    from minigan.tensor import Tensor

    array = value.data if isinstance(value, Tensor) else value
    if not hasattr(array, "dtype") or not hasattr(array, "shape"):
        raise TypeError(f"distributed.{what}: expected a NumPy or CuPy array or a Tensor, got {type(value).__name__}")
    return array


def _is_cupy(array):
    return type(array).__module__.startswith("cupy")


def _gpu_path():
    path = os.environ.get("MINIGAN_GPU_COLLECTIVES")
    if path is None:
        try:
            from cupy.cuda import nccl
        except ImportError:  # a CuPy built without NCCL
            return "host"
        return "nccl" if getattr(nccl, "available", False) else "host"
    if path not in _GPU_PATHS:
        raise DistributedError(f"MINIGAN_GPU_COLLECTIVES={path!r}: expected one of {', '.join(_GPU_PATHS)}")
    return path


def _mpi_op(op):
    MPI = world._world.mpi
    return {"sum": MPI.SUM, "mean": MPI.SUM, "max": MPI.MAX, "min": MPI.MIN, "prod": MPI.PROD}[op]


def _transport(array):
    """How ``array``'s bytes travel: "mpi" (a NumPy array, or a CuPy one with a CUDA-aware MPI), "nccl" or
    "host" (module docstring)."""
    return _gpu_path() if _is_cupy(array) else "mpi"


def _over_mpi(transport, start, what, receive, send=None):
    """Run the non-blocking MPI collective ``start(send, receive)`` (``send`` None: in place or unused) and
    wait for it. On the "host" transport the CuPy arrays travel as host copies, the result copied back;
    a CUDA-aware MPI reads device memory itself once the stream's kernels have written it."""
    if transport == "host":
        host = receive.get()
        world.wait(start(None if send is None else send.get(), host).Test, what)
        receive.set(host)
        return
    if _is_cupy(receive):
        import cupy

        cupy.cuda.get_current_stream().synchronize()
    world.wait(start(send, receive).Test, what)


def all_reduce(value, op="sum"):
    """Reduce ``value`` over the ranks with ``op`` ("sum", "mean", "max", "min" or "prod"), **in place**:
    afterwards every rank holds the same result. Returns the array (the tensor's data for a tensor)."""
    if op not in _OPS:
        raise ValueError(f"distributed.all_reduce: op must be one of {', '.join(_OPS)}, got {op!r}")
    array = _array(value, "all_reduce")
    if world.world_size() == 1 or array.size == 0:
        return array
    if not array.flags.c_contiguous:
        raise ValueError(f"distributed.all_reduce: the array must be C-contiguous (it is reduced in place), got "
                         f"shape {array.shape} with strides {array.strides}")
    transport, what = _transport(array), f"all_reduce({op})"
    if transport == "nccl":
        _nccl_call("allReduce", array, array, op=op, what=what)
    else:
        in_place = world._world.mpi.IN_PLACE
        _over_mpi(transport, lambda _, r: world.communicator().Iallreduce(in_place, r, op=_mpi_op(op)), what, array)
    if op == "mean":
        array /= world.world_size()
    return array


def all_gather(value):
    """Every rank's ``value`` (same shape and dtype on every rank), stacked in rank order: a new array of
    shape (world_size, *value.shape) on value's backend, the same on every rank."""
    array = _array(value, "all_gather")
    xp = _module_of(array)
    out = xp.empty((world.world_size(),) + tuple(array.shape), dtype=array.dtype)
    if world.world_size() == 1:
        out[0] = array
        return out
    send, transport = xp.ascontiguousarray(array), _transport(array)
    if transport == "nccl":
        _nccl_call("allGather", send, out, what="all_gather")
    else:
        _over_mpi(transport, lambda s, r: world.communicator().Iallgather(s, r), "all_gather", out, send)
    return out


def broadcast(value, root=0):
    """Overwrite ``value`` on every rank with rank ``root``'s, in place; returns the array."""
    array = _array(value, "broadcast")
    size = world.world_size()
    if not 0 <= root < size:
        raise ValueError(f"distributed.broadcast: root must be a rank in [0, {size}), got {root}")
    if size == 1 or array.size == 0:
        return array
    if not array.flags.c_contiguous:
        raise ValueError(f"distributed.broadcast: the array must be C-contiguous (it is written in place), got "
                         f"shape {array.shape}")
    transport = _transport(array)
    if transport == "nccl":
        _nccl_call("bcast", array, root=root, what="broadcast")
    else:
        _over_mpi(transport, lambda _, r: world.communicator().Ibcast(r, root=root), "broadcast", array)
    return array


def barrier(what="barrier"):
    """Wait until every rank has called ``barrier``."""
    if world.world_size() > 1:
        world.wait(world.communicator().Ibarrier().Test, what)


def all_gather_object(value, what="all_gather_object"):
    """Every rank's picklable ``value`` as a list in rank order (for start-up checks; small objects)."""
    if world.world_size() == 1:
        return [value]
    import pickle

    data = np.frombuffer(pickle.dumps(value), dtype=np.uint8)
    sizes = all_gather(np.array([data.size], dtype=np.int64))[:, 0]
    padded = np.zeros(int(sizes.max()), dtype=np.uint8)
    padded[:data.size] = data
    gathered = all_gather(padded)
    return [pickle.loads(gathered[r, :int(sizes[r])].tobytes()) for r in range(world.world_size())]


# -------------------------------------------------------------------------------------- GPUs
def _module_of(array):
    if _is_cupy(array):
        import cupy

        return cupy
    return np


def _nccl_communicator():
    """The NCCL communicator of the ranks, one GPU each, built once from rank 0's id sent over MPI."""
    if "comm" not in _nccl:
        from cupy.cuda import nccl

        uid = nccl.get_unique_id() if world.rank() == 0 else None
        uid = world.communicator().bcast(uid, root=0)
        _nccl["comm"] = nccl.NcclCommunicator(world.world_size(), uid, world.rank())
    return _nccl["comm"]


def _nccl_dtype(dtype):
    from cupy.cuda import nccl

    table = {"float32": nccl.NCCL_FLOAT32, "float64": nccl.NCCL_FLOAT64, "float16": nccl.NCCL_FLOAT16,
             "int32": nccl.NCCL_INT32, "int64": nccl.NCCL_INT64, "uint8": nccl.NCCL_UINT8}
    if str(dtype) not in table:
        raise DistributedError(f"NCCL collectives take {', '.join(table)} arrays, got {dtype}")
    return table[str(dtype)]


def _nccl_call(name, send, receive=None, op="sum", root=0, what=""):
    """One NCCL collective on the current stream, waited for with world.wait's failure and time checks."""
    import cupy
    from cupy.cuda import nccl

    comm = _nccl_communicator()
    stream = cupy.cuda.get_current_stream().ptr
    kind = _nccl_dtype(send.dtype)
    if name == "allReduce":
        ops = {"sum": nccl.NCCL_SUM, "mean": nccl.NCCL_SUM, "max": nccl.NCCL_MAX, "min": nccl.NCCL_MIN,
               "prod": nccl.NCCL_PROD}
        comm.allReduce(send.data.ptr, receive.data.ptr, send.size, kind, ops[op], stream)
    elif name == "allGather":
        comm.allGather(send.data.ptr, receive.data.ptr, send.size, kind, stream)
    else:
        comm.bcast(send.data.ptr, send.size, kind, root, stream)
    done = cupy.cuda.Event()
    done.record()
    world.wait(lambda: done.done, what)
