"""Data-parallel training over MPI (mpi4py), as ChainerMN and Horovod do it.

R processes (ranks), started by ``mpiexec -n R``, each hold a full copy of the model. Every step, each
rank computes the loss and the gradients on its own share of the batch; one all-reduce averages the
gradients; every rank applies the same update, so the copies stay equal. BatchNorm's statistics span
the ranks (:class:`minigan.nn.SyncBatchNorm1d`), so R ranks with a global batch B compute what one
process with batch B computes.

    from minigan import distributed, nn, optim

    distributed.init()                                    # mpi4py's COMM_WORLD; one rank without it
    model = nn.SyncBatchNorm1d.convert(build_model())     # BatchNorm over every rank's batch
    distributed.broadcast_parameters(model, root=0)       # the same start on every rank
    opt = distributed.average_gradients(optim.Adam(model.parameters()))
    with distributed.guard():                             # a rank's error stops every rank, no hang
        for x in my_share_of_each_batch():
            opt.zero_grad(); loss(model(x)).backward(); opt.step()  # step(): one all-reduce, then the update

``mpiexec -n 2 minigan train --distributed`` does all this for the GAN trainer (``minigan.gan.parallel``).

The pieces: :mod:`~minigan.distributed.world` (the ranks, waiting with failure notices and a time
limit, :func:`guard`), :mod:`~minigan.distributed.collectives` (``all_reduce``, ``all_gather``,
``broadcast``, ``barrier``; MPI for NumPy arrays, NCCL or MPI for CuPy arrays) and
:mod:`~minigan.distributed.training` (``broadcast_parameters``, ``average_gradients``, the start-up
consistency check). ``import minigan`` does not import mpi4py; :func:`init` does, when it is installed
(``pip install 'minigan[mpi]'`` brings mpi4py and the ``mpich`` wheel, which provides ``mpiexec``).

Many machines. Nothing here assumes one machine: MPI (or NCCL) carries the same calls over a network.
What crosses it each step is the gradient all-reduce, 4 bytes a parameter in float32 (the seed GAN's
1.33 M parameters: 5.3 MB in two collectives), plus BatchNorm's few numbers per feature. A ring
all-reduce sends and receives 2 (R − 1)/R of the buffer per rank: at R = 2 that is 5.3 MB each way,
4.3 ms at 10 Gb/s (1.25 GB/s); as R grows it tends to 10.6 MB, 8.5 ms, whatever R. ``benchmarks/RESULTS.md``
sets this against the step's compute.
"""

from minigan.distributed.collectives import all_gather, all_gather_object, all_reduce, barrier, broadcast
from minigan.distributed.training import (average_gradients, broadcast_parameters, check_consistent,
                                          code_fingerprint)
from minigan.distributed.world import (DEFAULT_TIMEOUT, abort, guard, init, is_initialized, is_single_rank_scope,
                                       local_rank, mpi_available, rank, single_rank, timeout, use_local_gpu,
                                       world_size)

__all__ = ["init", "is_initialized", "mpi_available", "rank", "local_rank", "world_size", "timeout", "use_local_gpu", "all_reduce", "all_gather",
           "all_gather_object", "broadcast", "barrier", "broadcast_parameters", "average_gradients",
           "check_consistent", "code_fingerprint", "guard", "abort", "single_rank", "is_single_rank_scope",
           "DEFAULT_TIMEOUT"]
