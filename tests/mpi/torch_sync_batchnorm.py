"""Run by tests/test_distributed.py under ``mpiexec -n 2`` (PyTorch installed): the benchmark's PyTorch
peer, ``benchmarks.distributed``'s SyncBatchNorm written with torch ops (PyTorch's own runs only on
GPUs), against torch's one-process BatchNorm1d on the concatenated batch, in float64: the output, the
running statistics, and the gradients of x, γ and β. Prints "ok" on rank 0."""

import os
import sys

import torch
import torch.distributed as dist

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from benchmarks.distributed import _torch_sync_batchnorm  # noqa: E402  (the repository root first)

rank, size = int(os.environ["PMI_RANK"]), int(os.environ["PMI_SIZE"])
dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{sys.argv[1]}", rank=rank, world_size=size)
torch.manual_seed(0)
counts = [3 + 2 * r for r in range(size)]
x_all = torch.randn(sum(counts), 4, dtype=torch.float64) * 3 + 2
w_all = torch.randn(sum(counts), 4, dtype=torch.float64)
start = sum(counts[:rank])
mine = slice(start, start + counts[rank])

reference = torch.nn.BatchNorm1d(4).double()
synced = _torch_sync_batchnorm(torch, dist)(4).double()
with torch.no_grad():
    for layer in (reference, synced):
        layer.weight.copy_(torch.linspace(0.5, 2.0, 4, dtype=torch.float64))
        layer.bias.copy_(torch.linspace(-1.0, 1.0, 4, dtype=torch.float64))
x1 = x_all.clone().requires_grad_(True)
y1 = reference(x1)
(y1 * w_all).sum().backward()
x2 = x_all[mine].clone().requires_grad_(True)
y2 = synced(x2)
(y2 * w_all[mine]).sum().backward()
grads = torch.cat([synced.weight.grad, synced.bias.grad])
dist.all_reduce(grads)
checks = {"output": (y2, y1[mine]), "dx": (x2.grad, x1.grad[mine]),
          "dgamma, dbeta": (grads, torch.cat([reference.weight.grad, reference.bias.grad])),
          "running_mean": (synced.running_mean, reference.running_mean),
          "running_var": (synced.running_var, reference.running_var)}
for name, (got, want) in checks.items():
    if not torch.allclose(got, want, rtol=1e-10, atol=1e-10):
        raise AssertionError(f"rank {rank}: {name} differs by {(got - want).abs().max().item():.3e}")
dist.barrier()
if rank == 0:
    print("ok")
