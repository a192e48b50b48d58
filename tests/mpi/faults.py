"""Run by tests/test_distributed.py under ``mpiexec -n 2``: a data-parallel run in which rank 1 misbehaves
at step 3, as ``sys.argv[1]`` says — ``raise`` (an exception), ``die`` (killed by SIGKILL), ``hang``
(sleeps past the time limit), ``both`` (every rank raises) — or starts with another configuration
(``config``) or another version of minigan's code (``code``: its source fingerprint replaced). The test reads how the job ends: exit status
and what the ranks printed."""

import os
import signal
import sys
import time

from minigan import distributed
from minigan.data import load_dataset
from minigan.gan.trainer import TrainConfig, Trainer

mode = sys.argv[1]
distributed.init(timeout=float(sys.argv[2]) if len(sys.argv) > 2 else 20.0)
rank = distributed.rank()
lr = 1e-3 if (mode == "config" and rank == 1) else 2e-4
if mode == "code" and rank == 1:
    distributed.code_fingerprint = lambda: "0" * 64  # as if rank 1 had imported other minigan sources
config = TrainConfig(data="ring8", steps=6, batch_size=32, lr=lr, seed=0, log_every=1, g_norm="batch")
with distributed.guard():
    trainer = Trainer(config, load_dataset("ring8", n_samples=512, seed=0), progress=False, distributed=True)
    for step in range(6):
        if step == 3 and mode == "both":
            raise ValueError(f"injected failure on rank {rank}")
        if step == 3 and rank == 1:
            if mode == "raise":
                raise ValueError("injected failure on rank 1")
            if mode == "die":
                os.kill(os.getpid(), signal.SIGKILL)
            if mode == "hang":
                time.sleep(3600)
        trainer.step()
    print(f"rank {rank} finished", flush=True)
