"""How the seed GAN's training step scales over MPI ranks: minigan (``--distributed``'s step) against
PyTorch's DistributedDataParallel (gloo, CPU), 1 and 2 ranks, one BLAS thread per rank.

    python -m benchmarks.distributed [--per-rank 64,128,256,512,1024] [--global 256,512,1024,2048]
                                     [--ranks 2] [--steps 6] [--warmup 2] [--rounds 5] [--no-torch]
                                     [--out DIR] [--json PATH]

The step is :mod:`benchmarks.step`'s (seed GAN, float32, Adam, one D and one G update, the losses, D's
outputs and the weight-gradient norms read back), with the batch split across the ranks:

- **minigan** — ``Trainer(config, data, distributed=True).step()``: each rank draws the global batch's
  indices and noise and keeps its share, G's BatchNorms are ``SyncBatchNorm1d`` (one all-gather
  forward, one all-reduce backward each), and each optimizer step averages the gradients with one
  all-reduce (MPI through mpi4py and the ``mpich`` wheel).
- **PyTorch** — the same networks wrapped in ``DistributedDataParallel`` (gloo; its bucketed
  all-reduces overlap the backward), each rank drawing its own share. PyTorch's ``SyncBatchNorm`` runs
  only on GPUs (``aten::batch_norm_stats`` has no CPU kernel), so G's BatchNorms are the
  ``TorchSyncBatchNorm`` below: the same two collectives written with torch ops. D judges the real and
  fake rows in one call (DDP expects one forward per backward; D has no BatchNorm, so the numbers are
  the same), and the G update calls D's inner module (D frozen, as in minigan).

Each system is one ``mpiexec -n R`` launch per R, in which three modes of the step alternate, round
after round (``--rounds``, the order rotating), so that the slow drifts of a shared machine hit them
alike:

- **together** — the data-parallel step, every rank at its share of the global batch;
- **alone** — rank 0 runs the ordinary one-process step (minigan's ``Trainer`` without
  ``distributed``; PyTorch eager without DDP) while the other ranks wait, idle, at a barrier;
- **independent** — every rank runs its own one-process step at the per-rank batch at the same time,
  sending nothing: what the machine allows R processes before any communication (caches, memory
  bandwidth, other load). Each step counts at the time of its slowest rank, the pace a data-parallel
  step must keep.

Each round times ``--steps`` steps of every mode and batch (after ``--warmup`` untimed steps once);
reported is the median over all rounds. Throughput T = global batch / median seconds per step.

- weak scaling, per-rank batch b: efficiency = T(together, R·b) / (R · T(alone, b)); machine ceiling =
  T(independent, R·b) / (R · T(alone, b));
- strong scaling, global batch B: efficiency = T(together, B) / (R · T(alone, B));
- minigan/PyTorch: the ratio of their throughputs in the same mode and batch (> 1: minigan faster).

Every rank gets one BLAS thread (``OPENBLAS_NUM_THREADS=1``, ``torch.set_num_threads(1)``). On a 2-core
machine 2 ranks fill it, so another process running at the same time lowers the 2-rank figures.
"""

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time

from benchmarks import _common

SYSTEMS = ("minigan", "pytorch")
MODES = ("together", "alone", "independent")


# ===================================================================================== workers
def _rank_and_size():
    return int(os.environ.get("PMI_RANK", 0)), int(os.environ.get("PMI_SIZE", 1))


def _share(batch, rank, size):
    return (rank + 1) * batch // size - rank * batch // size


def run_rounds(items, barrier, gather, steps, warmup, rounds):
    """Time ``items`` — (mode, batch, step function or None on a rank that waits) — round after round in a
    rotating order; returns {(mode, batch): [seconds, ...]}: rank 0's clock, but for the independent
    runs the slowest rank's time of each step (``gather`` collects every rank's list), since a
    data-parallel step goes at the pace of its slowest rank."""
    for mode, batch, step in items:
        barrier()
        if step is not None:
            for _ in range(warmup):
                step()
        barrier()
    times = {(mode, batch): [] for mode, batch, _ in items}
    for round_ in range(rounds):
        shift = round_ % len(items)
        for mode, batch, step in items[shift:] + items[:shift]:
            barrier()
            if step is not None:
                for _ in range(steps):
                    start = time.perf_counter()
                    step()
                    times[(mode, batch)].append(time.perf_counter() - start)
            barrier()
    for mode, batch, _ in items:
        if mode == "independent":
            times[(mode, batch)] = [max(per_rank) for per_rank in zip(*gather(times[(mode, batch)]))]
    return times


def _plan(rank, size, per_rank, global_):
    """(mode, batch of the row, batch this rank runs or None) for every measurement of one launch."""
    plan = [("together", b, b) for b in sorted({b * size for b in per_rank} | set(global_))]
    plan += [("alone", b, b if rank == 0 else None) for b in sorted(set(per_rank) | set(global_))]
    plan += [("independent", b * size, b) for b in per_rank]
    return plan


def minigan_worker(per_rank, global_, steps, warmup, rounds):
    from benchmarks._systems import MiniganStep, benchmark_data
    from minigan import distributed

    distributed.init(timeout=1800)
    rank, size = distributed.rank(), distributed.world_size()
    data = benchmark_data()
    items = []
    for mode, row_batch, batch in _plan(rank, size, per_rank, global_):
        step = None if batch is None else MiniganStep(data, batch, distributed=mode == "together").step
        items.append((mode, row_batch, step))
    return run_rounds(items, distributed.barrier, distributed.all_gather_object, steps, warmup, rounds)


def _torch_sync_batchnorm(torch, dist):
    class SyncBatchNormFunction(torch.autograd.Function):
        """BatchNorm over every rank's rows: forward one all-reduce of [Σx, Σx², n], backward one of
        [Σg, Σg·x̂] (PyTorch's GPU SyncBatchNorm sends the same; its CPU path does not exist)."""

        @staticmethod
        def forward(ctx, x, weight, bias, running_mean, running_var, eps, momentum):
            n = torch.tensor([float(x.shape[0])], dtype=x.dtype)
            stats = torch.cat([x.sum(0), (x * x).sum(0), n])
            dist.all_reduce(stats)
            c = x.shape[1]
            total = stats[-1].item()
            mean = stats[:c] / total
            var = stats[c:2 * c] / total - mean * mean
            invstd = torch.rsqrt(var + eps)
            with torch.no_grad():
                running_mean.mul_(1 - momentum).add_(mean, alpha=momentum)
                running_var.mul_(1 - momentum).add_(var * (total / (total - 1)), alpha=momentum)
            x_hat = (x - mean) * invstd
            ctx.save_for_backward(x_hat, weight, invstd)
            ctx.total = total
            return x_hat * weight + bias

        @staticmethod
        def backward(ctx, g):
            x_hat, weight, invstd = ctx.saved_tensors
            local = torch.cat([g.sum(0), (g * x_hat).sum(0)])
            sums = local.clone()
            dist.all_reduce(sums)
            c = g.shape[1]
            total = ctx.total
            d_x = (g * total - sums[:c] - x_hat * sums[c:]) * (weight * invstd / total)
            return d_x, local[c:], local[:c], None, None, None, None

    class TorchSyncBatchNorm(torch.nn.BatchNorm1d):
        def forward(self, x):
            if not self.training:
                return super().forward(x)
            return SyncBatchNormFunction.apply(x, self.weight, self.bias, self.running_mean, self.running_var,
                                               self.eps, self.momentum)

    return TorchSyncBatchNorm


def torch_worker(per_rank, global_, steps, warmup, rounds, port):
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP

    from benchmarks._systems import SEED_GAN, benchmark_data, torch_seed_gan

    rank, size = _rank_and_size()
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=size)
    SyncBN = _torch_sync_batchnorm(torch, dist)
    nn = torch.nn
    data = torch.from_numpy(benchmark_data())

    def gan_step(batch, parallel):
        """The step at ``batch`` rows on this rank: DDP with synchronised BatchNorm, or plain eager."""
        torch.manual_seed(rank)
        G, D = torch_seed_gan(torch, data.shape[1], SEED_GAN["z_dim"], SEED_GAN["g_hidden"], SEED_GAN["d_hidden"],
                              batch_norm=SyncBN if parallel else None)
        G_run, D_run = (DDP(G), DDP(D)) if parallel else (G, D)  # DDP broadcasts rank 0's weights
        G_opt = torch.optim.Adam(G_run.parameters(), lr=2e-4, betas=(0.5, 0.999))
        D_opt = torch.optim.Adam(D_run.parameters(), lr=2e-4, betas=(0.5, 0.999))
        loss = nn.BCEWithLogitsLoss()
        targets = torch.cat([torch.ones(batch, 1), torch.zeros(batch, 1)])
        ones = torch.ones(batch, 1)
        g_weights = [m.weight for m in G.modules() if isinstance(m, nn.Linear)]
        d_weights = [m.weight for m in D.modules() if isinstance(m, nn.Linear)]

        def norms(params):
            return torch.stack([torch.linalg.vector_norm(p.grad, dtype=torch.float64) for p in params])

        def step():
            real = data[torch.randint(0, len(data), (batch,))]
            with torch.no_grad():
                fake = G_run(torch.randn(batch, SEED_GAN["z_dim"]))
            logits = D_run(torch.cat([real, fake]))
            d_loss = loss(logits, targets)
            D_opt.zero_grad(set_to_none=True)
            d_loss.backward()
            D_opt.step()
            with torch.no_grad():
                d_stats = torch.cat([d_loss.reshape(1).double(), norms(d_weights)]).tolist()
            for p in D.parameters():
                p.requires_grad_(False)
            try:
                g_loss = loss(D(G_run(torch.randn(batch, SEED_GAN["z_dim"]))), ones)
                G_opt.zero_grad(set_to_none=True)
                g_loss.backward()
            finally:
                for p in D.parameters():
                    p.requires_grad_(True)
            G_opt.step()
            with torch.no_grad():
                g_stats = torch.cat([g_loss.reshape(1).double(), norms(g_weights)]).tolist()
            return d_stats, g_stats

        return step

    items = []
    for mode, row_batch, batch in _plan(rank, size, per_rank, global_):
        if batch is None:
            items.append((mode, row_batch, None))
            continue
        together = mode == "together"
        items.append((mode, row_batch, gan_step(_share(batch, rank, size) if together else batch, together)))
    def gather(value):
        everyone = [None] * size
        dist.all_gather_object(everyone, value)
        return everyone

    times = run_rounds(items, dist.barrier, gather, steps, warmup, rounds)
    dist.destroy_process_group()
    return times


def worker_main(args):
    per_rank = [int(b) for b in args.per_rank_list.split(",")]
    global_ = [int(b) for b in args.global_list.split(",")]
    if args.worker == "minigan":
        times = minigan_worker(per_rank, global_, args.steps, args.warmup, args.rounds)
    else:
        times = torch_worker(per_rank, global_, args.steps, args.warmup, args.rounds, args.port)
    if _rank_and_size()[0] == 0:
        print("RESULT " + json.dumps([[mode, batch, seconds] for (mode, batch), seconds in times.items()]), flush=True)


# ====================================================================================== driver
def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(system, ranks, args):
    """One ``mpiexec -n ranks`` run of a worker: {(mode, batch): [seconds per step, ...]}."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    command = [shutil.which("mpiexec"), "-n", str(ranks), sys.executable, "-m", "benchmarks.distributed",
               "--worker", system, "--per-rank-list", ",".join(map(str, args.per_rank)),
               "--global-list", ",".join(map(str, args.global_)), "--steps", str(args.steps),
               "--warmup", str(args.warmup), "--rounds", str(args.rounds), "--port", str(_free_port())]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=7200,
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{system} with {ranks} ranks failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return {(mode, batch): seconds for mode, batch, seconds in json.loads(lines[-1][len("RESULT "):])}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.distributed", description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-rank", default="64,128,256,512,1024", help="weak scaling: per-rank batches")
    parser.add_argument("--global", dest="global_", default="256,512,1024,2048", help="strong scaling: global batches")
    parser.add_argument("--ranks", default="2", help="rank counts to compare with one process (default 2)")
    parser.add_argument("--steps", type=int, default=6, help="timed steps per mode, batch and round (default 6)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps of each, once (default 2)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of every mode and batch (default 5)")
    parser.add_argument("--no-torch", action="store_true", help="minigan only")
    parser.add_argument("--out", default=None, help="directory for distributed.json and distributed.md")
    parser.add_argument("--json", default=None, help="path of the JSON result")
    parser.add_argument("--worker", choices=SYSTEMS, help=argparse.SUPPRESS)
    parser.add_argument("--per-rank-list", help=argparse.SUPPRESS)
    parser.add_argument("--global-list", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is None:
        for name in ("per_rank", "global_", "ranks"):
            values = [int(v) for v in getattr(args, name).split(",") if v.strip()]
            if not values or min(values) < 1:
                parser.error(f"--{name.strip('_').replace('_', '-')} needs positive integers, got {getattr(args, name)!r}")
            setattr(args, name, values)
        if min(args.ranks) < 2:
            parser.error("--ranks: each launch compares R >= 2 ranks with one process measured in the same launch")
        if min(args.global_) < max(args.ranks):
            parser.error("--global: every global batch must give each rank at least one row")
        if args.steps < 3 or args.warmup < 0 or args.rounds < 1:
            parser.error("--steps must be at least 3, --warmup at least 0, --rounds at least 1")
    return args


def _systems(args):
    if args.no_torch:
        return ["minigan"], "not asked for (--no-torch)"
    torch, reason = _common.load_torch()
    return (["minigan", "pytorch"], None) if torch is not None else (["minigan"], reason)


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        return worker_main(args)
    if shutil.which("mpiexec") is None:
        print("benchmarks.distributed needs mpiexec and mpi4py: pip install 'minigan[mpi]'", file=sys.stderr)
        return 2
    systems, torch_reason = _systems(args)
    if torch_reason:
        print(f"PyTorch rows skipped: {torch_reason}")
    started = time.perf_counter()
    times = {}
    for ranks in args.ranks:
        for system in systems:
            print(f"{system}, {ranks} ranks: {args.rounds} rounds of together / alone / independent ...", flush=True)
            times[(system, ranks)] = launch(system, ranks, args)
    medians = {key: {mode_batch: statistics.median(t) for mode_batch, t in value.items()}
               for key, value in times.items()}
    payload = {"command": _common.command_line(), "machine": _common.machine_info(),
               "wall_s": time.perf_counter() - started, "steps": args.steps, "warmup": args.warmup,
               "rounds": args.rounds, "torch_skipped": torch_reason,
               "median_ms": {f"{s}/{r}": {f"{m}/{b}": 1e3 * v for (m, b), v in value.items()}
                             for (s, r), value in medians.items()},
               "all_ms": {f"{s}/{r}": {f"{m}/{b}": [1e3 * x for x in t] for (m, b), t in value.items()}
                          for (s, r), value in times.items()}}
    report = tables(medians, systems, args)
    print("\n" + report)
    path = args.json or (os.path.join(args.out, "distributed.json") if args.out else
                         _common.default_output_path("distributed.json"))
    _common.write_json(path, payload)
    print(f"\nfigures: {path}")
    if args.out:
        with open(os.path.join(args.out, "distributed.md"), "w") as f:
            f.write(f"`{payload['command']}` — {_common.describe_machine(payload['machine'])}\n\n{report}\n")
    return 0


def tables(medians, systems, args):
    """The weak- and strong-scaling tables (Markdown) from the median seconds per step."""
    def throughput(system, ranks, mode, batch):
        seconds = medians.get((system, ranks), {}).get((mode, batch))
        return None if seconds is None else batch / seconds

    def ms(system, ranks, mode, batch):
        seconds = medians.get((system, ranks), {}).get((mode, batch))
        return "—" if seconds is None else f"{1e3 * seconds:.1f}"

    def ratio(a, b):
        return "—" if a is None or b is None else f"{a / b:.2f}"

    out = []
    for weak in (True, False):
        header = ["per-rank batch" if weak else "global batch", "R"]
        for s in systems:
            header += [f"{s} ms/step, 1 process", f"{s} ms/step, R ranks", f"{s} efficiency"]
        if weak:
            header += ["machine ceiling"]
        if "pytorch" in systems:
            header += ["minigan/PyTorch, 1 process", "minigan/PyTorch, R ranks"]
        rows = []
        for r in args.ranks:
            for b in (args.per_rank if weak else args.global_):
                big = b * r if weak else b
                row = [b, r]
                for s in systems:
                    alone, together = throughput(s, r, "alone", b), throughput(s, r, "together", big)
                    row += [ms(s, r, "alone", b), ms(s, r, "together", big),
                            ratio(together, None if alone is None else r * alone)]
                if weak:
                    alone = throughput("minigan", r, "alone", b)
                    row.append(ratio(throughput("minigan", r, "independent", big), None if alone is None else r * alone))
                if "pytorch" in systems:
                    row += [ratio(throughput("minigan", r, "alone", b), throughput("pytorch", r, "alone", b)),
                            ratio(throughput("minigan", r, "together", big), throughput("pytorch", r, "together", big))]
                rows.append(row)
        title = ("Weak scaling: per-rank batch b, R ranks at global batch R·b" if weak else
                 "Strong scaling: global batch B, R ranks at B/R each")
        out.append(f"**{title}**\n\n" + _common.markdown_table(header, rows))
    return "\n\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
