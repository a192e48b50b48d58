"""Run by tests/test_distributed.py under ``mpiexec -n R``: SyncBatchNorm1d on unequal per-rank batches
against one-process BatchNorm1d on the concatenated batch, in float64 — forward, running statistics,
backward (x, γ, β), and the double backward of a gradient-penalty-like term. Exits non-zero on a
mismatch; prints "ok" on rank 0."""

import sys

import numpy as np

import minigan
from minigan import Tensor, distributed, nn

minigan.set_default_dtype("float64")
distributed.init(timeout=60)
rank, size = distributed.rank(), distributed.world_size()
features = 4
shape_tail = tuple(int(v) for v in sys.argv[1:])  # e.g. "3" for (N, C, 3) inputs
counts = [3 + 2 * r for r in range(size)]          # unequal batches: 3, 5, 7, ...
rng = np.random.default_rng(7)
x_all = rng.normal(2.0, 3.0, (sum(counts), features) + shape_tail)
w_all = rng.normal(size=x_all.shape)                # the loss: Σ w · y (per-sample terms, summed)
start = sum(counts[:rank])
mine = slice(start, start + counts[rank])


def layers():
    one = nn.BatchNorm1d(features, momentum=0.3)
    one.weight.data[...] = np.linspace(0.5, 2.0, features)
    one.bias.data[...] = np.linspace(-1.0, 1.0, features)
    sync = nn.SyncBatchNorm1d.convert(nn.Sequential(nn.BatchNorm1d(features, momentum=0.3)))
    sync[0].load_state_dict(one.state_dict())
    return one, sync


def close(name, got, want, rtol=1e-12, atol=1e-12):
    if not np.allclose(got, want, rtol=rtol, atol=atol):
        raise AssertionError(f"rank {rank}: {name} differs: max abs difference {np.max(np.abs(got - want)):.3e}")


one, sync = layers()
# Reference: one process, the whole batch.
x1 = Tensor(x_all.copy(), requires_grad=True)
y1 = one(x1)
(y1 * Tensor(w_all)).sum().backward()
# This rank's share.
x2 = Tensor(x_all[mine].copy(), requires_grad=True)
y2 = sync(x2)
(y2 * Tensor(w_all[mine])).sum().backward()

close("output", y2.data, y1.data[mine])
close("running_mean", sync[0].running_mean.data, one.running_mean.data)
close("running_var", sync[0].running_var.data, one.running_var.data)
close("dx", x2.grad, x1.grad[mine])
# γ and β: each rank holds its part; their sum over ranks is the whole batch's gradient.
close("dgamma", distributed.all_reduce(sync[0].weight.grad.copy()), one.weight.grad)
close("dbeta", distributed.all_reduce(sync[0].bias.grad.copy()), one.bias.grad)
# Running statistics are the same bits on every rank.
stats = np.concatenate([sync[0].running_mean.data, sync[0].running_var.data])
if not np.array_equal(distributed.all_gather(stats), np.broadcast_to(stats, (size,) + stats.shape)):
    raise AssertionError(f"rank {rank}: running statistics differ between ranks")

# Second order: ∂/∂(x, γ) of Σ v · ∂(Σ w·y)/∂x, through the ranks.
one, sync = layers()
x1 = Tensor(x_all.copy(), requires_grad=True)
(g1,) = minigan.grad((one(x1) * Tensor(w_all)).sum(), x1, create_graph=True)
(g1 * Tensor(np.cos(x_all))).sum().backward()
x2 = Tensor(x_all[mine].copy(), requires_grad=True)
(g2,) = minigan.grad((sync(x2) * Tensor(w_all[mine])).sum(), x2, create_graph=True)
close("first derivative under create_graph", g2.data, g1.data[mine])
(g2 * Tensor(np.cos(x_all[mine]))).sum().backward()
close("second derivative wrt x", x2.grad, x1.grad[mine], rtol=1e-10, atol=1e-10)
close("second derivative wrt gamma", distributed.all_reduce(sync[0].weight.grad.copy()), one.weight.grad,
      rtol=1e-10, atol=1e-10)
distributed.barrier()
if rank == 0:
    print(f"ok: {size} ranks, batches {counts}, input tail {shape_tail}")
