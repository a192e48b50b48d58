"""Data-parallel training over MPI (``minigan.distributed``, ``nn.SyncBatchNorm1d``, ``--distributed``).

In this process (one rank, no MPI needed): the collectives are the identity, the optimizer's gradient
reduction runs once per step over the flat gradient buffer, the synchronised BatchNorm op has the right
first and second derivatives, the shards of a batch, and the errors that say what to run.

Under ``mpiexec`` (skipped with the reason when mpi4py or mpiexec is missing; CI installs both): 2 and 3
ranks against one process — SyncBatchNorm1d (forward, backward, double backward, unequal batches) and
whole training runs, to float64 rounding — resuming with another number of ranks, rank 0 alone writing,
and the faults: a rank that raises, dies or hangs, and ranks started differently.
"""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

import minigan
from minigan import DistributedError, Tensor, distributed, nn, optim
from minigan.cli import main
from minigan.gan.config import TrainConfig
from minigan.gan.parallel import Shard, check_supported
from minigan.nn.sync_batchnorm import sync_batch_norm

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKERS = os.path.join(REPO_ROOT, "tests", "mpi")
MPIEXEC = shutil.which("mpiexec")
MPI_SKIP = ("mpi4py is not installed (pip install 'minigan[mpi]')" if importlib.util.find_spec("mpi4py") is None
            else "mpiexec is not on PATH (the mpich wheel of 'minigan[mpi]' provides it)" if MPIEXEC is None else None)
needs_mpi = pytest.mark.skipif(MPI_SKIP is not None, reason=str(MPI_SKIP))


def run_ranks(n, *args, timeout=240, cwd=None):
    """``mpiexec -n n python|minigan ...`` in a fresh process group, one BLAS thread per rank."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.pop("MINIGAN_TRACEBACK", None)
    return subprocess.run([MPIEXEC, "-n", str(n), *args], cwd=cwd or REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def minigan_command(*args):
    return [sys.executable, "-m", "minigan", *args]


# ================================================================== one rank, in this process
def test_import_minigan_does_not_import_mpi4py():
    code = "import minigan, minigan.distributed, minigan.nn, sys; assert 'mpi4py' not in sys.modules, 'imported'"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_without_init_this_process_is_rank_0_of_1():
    assert (distributed.rank(), distributed.world_size()) == (0, 1)


@pytest.mark.parametrize("op", ["sum", "mean", "max", "min", "prod"])
def test_collectives_are_the_identity_with_one_rank(op):
    a = np.arange(6.0).reshape(2, 3)
    assert distributed.all_reduce(a, op) is a and np.array_equal(a, np.arange(6.0).reshape(2, 3))
    gathered = distributed.all_gather(a)
    assert gathered.shape == (1, 2, 3) and np.array_equal(gathered[0], a)
    assert np.array_equal(distributed.broadcast(a, 0), np.arange(6.0).reshape(2, 3))
    assert distributed.all_gather_object({"x": 1}) == [{"x": 1}]


def test_the_host_transport_sends_host_copies_and_copies_the_result_back():
    """The path CuPy arrays take without NCCL or a CUDA-aware MPI, with a stand-in for a CuPy array."""
    from minigan.distributed import collectives

    class DeviceArray:
        def __init__(self, values):
            self.values = values

        def get(self):
            return self.values.copy()

        def set(self, host):
            self.values[...] = host

    class Done:
        Test = staticmethod(lambda: True)

    seen = []

    def start(send, receive):
        seen.append((type(send), type(receive)))
        receive += send
        return Done()

    result = DeviceArray(np.zeros(3))
    collectives._over_mpi("host", start, "a test", result, DeviceArray(np.arange(3.0)))
    assert seen == [(np.ndarray, np.ndarray)] and result.values.tolist() == [0.0, 1.0, 2.0]


def test_all_reduce_of_a_tensor_reduces_its_data():
    t = Tensor(np.ones(3))
    assert distributed.all_reduce(t) is t.data


def test_collectives_refuse_bad_arguments_naming_them():
    with pytest.raises(ValueError, match="op must be one of sum, mean, max, min, prod, got 'avg'"):
        distributed.all_reduce(np.ones(2), "avg")
    with pytest.raises(ValueError, match=r"root must be a rank in \[0, 1\), got 1"):
        distributed.broadcast(np.ones(2), root=1)
    with pytest.raises(TypeError, match="expected a NumPy or CuPy array or a Tensor, got list"):
        distributed.all_reduce([1.0, 2.0])
    for bad in (0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="timeout must be a finite number of seconds > 0"):
            distributed.init(timeout=bad)


def test_consistency_check_passes_alone_and_the_code_fingerprint_is_stable():
    distributed.check_consistent({"config.lr": 0.1})
    assert distributed.code_fingerprint() == distributed.code_fingerprint()
    assert len(distributed.code_fingerprint()) == 64


def test_single_rank_scope_nests():
    assert distributed.is_single_rank_scope()  # one rank
    with distributed.single_rank():
        with distributed.single_rank():
            assert distributed.is_single_rank_scope()


# ---------------------------------------------------------------- the optimizer's gradient reduction
def tiny_model():
    minigan.random.seed(0)
    return nn.Sequential(nn.Dense(3, 4, dtype="float64"), nn.LeakyReLU(0.2), nn.Dense(4, 2, dtype="float64"))


def backward_once(model, seed=1):
    x = Tensor(np.random.default_rng(seed).normal(size=(5, 3)))
    (model(x) ** 2).mean().backward()


class HalvingReducer:
    """Stands in for the all-reduce: records each call and halves the flat gradient in place."""

    def __init__(self):
        self.sizes = []

    def __call__(self, flat):
        self.sizes.append(flat.size)
        flat *= 0.5


@pytest.mark.parametrize("make", [lambda p: optim.Adam(p, lr=0.01), lambda p: optim.SGD(p, lr=0.1, momentum=0.9),
                                  lambda p: optim.RMSprop(p, lr=0.01), lambda p: optim.Adam(p, weight_decay=0.1)])
def test_reduce_gradients_runs_once_per_step_over_every_gradient_and_the_update_uses_its_result(make):
    reduced, plain = tiny_model(), tiny_model()
    opt_reduced, opt_plain = make(reduced.parameters()), make(plain.parameters())
    reducer = HalvingReducer()
    opt_reduced.reduce_gradients = reducer
    total = sum(p.size for p in reduced.parameters())
    for step in range(3):
        for model, opt in ((reduced, opt_reduced), (plain, opt_plain)):
            opt.zero_grad()
            backward_once(model, seed=step)
        for p in plain.parameters():
            p.grad = p.grad * 0.5
        opt_reduced.step()
        opt_plain.step()
        assert reducer.sizes == [total] * (step + 1)  # one call per step, the whole flat buffer
        for a, b in zip(reduced.parameters(), plain.parameters()):
            np.testing.assert_array_equal(a.grad, b.grad)  # p.grad is the reduced gradient, decay not added
            np.testing.assert_array_equal(a.data, b.data)


def test_reduce_gradients_with_some_parameters_without_a_gradient_reduces_the_others_once():
    model = tiny_model()
    opt = optim.Adam(model.parameters(), lr=0.01)
    reducer = HalvingReducer()
    opt.reduce_gradients = reducer
    backward_once(model)
    first = model[0]
    first.weight.grad = None
    kept = {id(p): p.grad.copy() for p in model.parameters() if p.grad is not None}
    opt.step()
    live = [p for p in model.parameters() if p.grad is not None]
    assert reducer.sizes == [sum(p.size for p in live)]
    for p in live:
        np.testing.assert_array_equal(p.grad, kept[id(p)] * 0.5)


def test_average_gradients_with_one_rank_leaves_the_step_alone():
    opt = distributed.average_gradients(optim.SGD(tiny_model().parameters(), lr=0.1))
    assert opt.reduce_gradients is None


def test_broadcast_parameters_with_one_rank_changes_nothing():
    model = tiny_model()
    before = [p.data.copy() for p in model.parameters()]
    distributed.broadcast_parameters(model)
    for p, b in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.data, b)


# ---------------------------------------------------------------------- SyncBatchNorm1d, one rank
@pytest.mark.parametrize("shape", [(6, 4), (4, 3, 5)])
@pytest.mark.parametrize("affine", [True, False])
def test_sync_batch_norm_op_passes_gradcheck_and_gradgradcheck(shape, affine):
    rng = np.random.default_rng(0)
    channels = shape[1]
    x = Tensor(rng.normal(1.0, 2.0, shape), requires_grad=True)
    params = (Tensor(rng.uniform(0.5, 1.5, channels), requires_grad=True),
              Tensor(rng.normal(size=channels), requires_grad=True)) if affine else ()

    def f(x, *p):
        weight, bias = p if p else (None, None)
        return sync_batch_norm(x, weight, bias, None, None)

    assert minigan.gradcheck(f, (x, *params))
    assert minigan.gradgradcheck(f, (x, *params))


def test_sync_batch_norm_op_alone_equals_batch_norm_with_its_running_statistics():
    rng = np.random.default_rng(1)
    x = rng.normal(3.0, 2.0, (7, 4))
    one, sync = nn.BatchNorm1d(4, momentum=0.3, dtype="float64"), nn.BatchNorm1d(4, momentum=0.3, dtype="float64")
    y1 = one(Tensor(x))
    y2 = sync_batch_norm(Tensor(x), sync.weight, sync.bias, sync.running_mean, sync.running_var, momentum=0.3)
    np.testing.assert_allclose(y2.data, y1.data, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(sync.running_mean.data, one.running_mean.data, rtol=1e-14)
    np.testing.assert_allclose(sync.running_var.data, one.running_var.data, rtol=1e-14)


def test_sync_batch_norm_refuses_a_single_value_per_feature_before_touching_statistics():
    bn = nn.BatchNorm1d(3, dtype="float64")
    with pytest.raises(minigan.ShapeError, match="sync_batch_norm: training needs more than one value per feature"):
        sync_batch_norm(Tensor(np.ones((1, 3))), bn.weight, bn.bias, bn.running_mean, bn.running_var)
    np.testing.assert_array_equal(bn.running_mean.data, np.zeros(3))


def test_convert_swaps_every_batchnorm_keeping_parameters_buffers_and_mode():
    model = nn.Sequential(nn.Dense(3, 4), nn.BatchNorm1d(4), nn.Sequential(nn.BatchNorm1d(4), nn.LeakyReLU(0.2)))
    model.train(False)
    before = {name: p for name, p in model.named_parameters()}
    buffers = {name: b for name, b in model.named_buffers()}
    converted = nn.SyncBatchNorm1d.convert(model)
    assert converted is model
    kinds = [type(m).__name__ for m in model.modules()]
    assert kinds.count("SyncBatchNorm1d") == 2 and "BatchNorm1d" not in kinds
    assert all(p is before[name] for name, p in model.named_parameters())
    assert all(b is buffers[name] for name, b in model.named_buffers())
    assert not model[1].training and list(model.state_dict()) == list(before) + [
        k for k in model.state_dict() if k not in before]
    single = nn.BatchNorm1d(5, momentum=0.2)
    swapped = nn.SyncBatchNorm1d.convert(single)
    assert isinstance(swapped, nn.SyncBatchNorm1d) and swapped.weight is single.weight and swapped.momentum == 0.2


def test_sync_batchnorm_in_eval_mode_sends_nothing_even_without_running_statistics():
    """As PyTorch: only training mode synchronises. (Pretend to be a rank of two: any collective would fail.)"""
    sync = nn.SyncBatchNorm1d(3, track_running_stats=False, dtype="float64")
    sync.eval()
    x = np.random.default_rng(3).normal(size=(5, 3))
    distributed.world._world.size = 2
    try:
        out = sync(Tensor(x)).data
    finally:
        distributed.world._world.size = 1
    np.testing.assert_allclose(out, (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5), rtol=1e-12)


def test_convert_keeps_hook_handles_working():
    layer = nn.BatchNorm1d(2)
    calls = []
    handle = layer.register_forward_hook(lambda module, args, out: calls.append(1))
    model = nn.SyncBatchNorm1d.convert(nn.Sequential(layer))
    model(Tensor(np.ones((4, 2))))
    handle.remove()
    model(Tensor(np.ones((4, 2))))
    assert calls == [1]


def test_sync_batchnorm_module_with_one_rank_is_batchnorm():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(8, 4))
    one, sync = nn.BatchNorm1d(4, dtype="float64"), nn.SyncBatchNorm1d(4, dtype="float64")
    np.testing.assert_array_equal(sync(Tensor(x)).data, one(Tensor(x)).data)
    with pytest.raises(minigan.ShapeError, match=r"SyncBatchNorm1d\(4\): expected input of shape"):
        distributed.world._world.size = 2  # what a rank of two sees, for the check that precedes any collective
        try:
            sync(Tensor(np.ones((3, 5))))
        finally:
            distributed.world._world.size = 1


# ----------------------------------------------------------------------------------- the shards
def test_shards_split_a_batch_in_whole_packs_and_scale_unequal_losses():
    shards = [Shard(r, 3, batch_size=64, pack=2) for r in range(3)]   # 32 packs: 10, 11, 11
    rows = [s.rows(64) for s in shards]
    assert [(r.start, r.stop) for r in rows] == [(0, 20), (20, 42), (42, 64)]
    assert [(s.rows(32).start, s.rows(32).stop) for s in shards] == [(0, 10), (10, 21), (21, 32)]
    assert shards[1].global_rows(11) == 32
    assert sum(s.share for s in shards) == pytest.approx(1.0)
    assert [s.loss_scale for s in shards] == pytest.approx([30 / 32, 33 / 32, 33 / 32])
    equal = Shard(1, 2, batch_size=64)
    assert equal.loss_scale == 1.0 and equal.take(np.arange(64)).tolist() == list(range(32, 64))
    whole = Shard()
    assert whole.whole and whole.take(np.arange(5)).tolist() == list(range(5))


@pytest.mark.parametrize("change, message", [
    (dict(minibatch_kernels=5), "minibatch discrimination"),
    (dict(feature_matching=True), "feature matching"),
    (dict(batch_size=4, pack=2), "too small to give each of 3 ranks one"),
])
def test_what_cannot_be_split_is_refused_before_anything_runs(change, message):
    with pytest.raises(DistributedError, match=message):
        check_supported(TrainConfig(**change), world=3)


# ------------------------------------------------------------------------------- CLI errors
def test_distributed_without_mpi4py_says_what_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(distributed, "mpi_available", lambda: False)
    assert main(["train", "--distributed", "--steps", "2", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "pip install 'minigan[mpi]'" in err and "mpiexec -n 2 minigan train --distributed" in err
    assert not (tmp_path / "run").exists()


def test_a_launcher_that_mpi_does_not_see_is_named(tmp_path, capsys, monkeypatch):
    """mpiexec started two ranks, but mpi4py's MPI sees each process alone: another MPI's launcher."""
    monkeypatch.setattr(distributed, "mpi_available", lambda: True)
    monkeypatch.setattr(distributed, "init", lambda timeout=None: 1)
    monkeypatch.setenv("PMI_SIZE", "2")
    assert main(["train", "--distributed", "--steps", "2", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "the launcher started 2 ranks, but MPI sees this process alone" in err and not (tmp_path / "run").exists()


def test_an_mpi4py_that_cannot_load_its_mpi_library_is_said_as_such(monkeypatch):
    monkeypatch.setattr(distributed.world, "_world", distributed.world._World())
    monkeypatch.setattr(distributed.world, "mpi_available", lambda: True)
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # its import fails, as with a missing libmpi
    with pytest.raises(DistributedError, match="mpi4py is installed but could not load its MPI library"):
        distributed.init()
    assert not distributed.world.is_initialized()


def test_an_unknown_gpu_collectives_path_is_refused_naming_the_choices(monkeypatch):
    from minigan.distributed import collectives

    monkeypatch.setenv("MINIGAN_GPU_COLLECTIVES", "gloo")
    with pytest.raises(DistributedError, match="MINIGAN_GPU_COLLECTIVES='gloo': expected one of nccl, mpi, host"):
        collectives._gpu_path()


def test_started_by_mpiexec_without_distributed_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PMI_SIZE", "2")
    assert main(["train", "--steps", "2", "--out", str(tmp_path / "run")]) == 2
    assert "Add --distributed" in capsys.readouterr().err and not (tmp_path / "run").exists()


def test_distributed_timeout_alone_is_refused(capsys):
    assert main(["train", "--distributed-timeout", "10", "--steps", "2"]) == 2
    assert "--distributed-timeout goes with --distributed" in capsys.readouterr().err


@needs_mpi
def test_distributed_in_a_single_process_says_to_start_ranks(tmp_path):
    result = subprocess.run(minigan_command("train", "--distributed", "--steps", "2", "--out", str(tmp_path / "run")),
                            capture_output=True, text=True, timeout=120, cwd=REPO_ROOT,
                            env={k: v for k, v in os.environ.items() if k not in ("PMI_SIZE", "MINIGAN_TRACEBACK")})
    assert result.returncode == 2, result.stderr
    assert "this process is the only rank" in result.stderr and "mpiexec -n 2" in result.stderr
    assert not (tmp_path / "run").exists()


# ====================================================================== under mpiexec
@needs_mpi
@pytest.mark.parametrize("ranks, tail", [(2, ()), (3, ("3",))])
def test_sync_batchnorm_across_ranks_equals_one_process_on_the_concatenated_batch(ranks, tail):
    result = run_ranks(ranks, sys.executable, os.path.join(WORKERS, "sync_batchnorm.py"), *tail)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"ok: {ranks} ranks" in result.stdout


def train(out, *options, ranks=1, steps=6):
    args = ["train", "--steps", str(steps), "--quiet", "--out", str(out), "--dtype", "float64", "--log-every", "1",
            "--eval-samples", "200", "--sample-every", "1000", *options]
    if ranks == 1:
        result = subprocess.run(minigan_command(*args), capture_output=True, text=True, timeout=240, cwd=REPO_ROOT,
                                env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
    else:
        result = run_ranks(ranks, *minigan_command(*args, "--distributed", "--distributed-timeout", "120"))
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def assert_same_run(a, b, rtol=1e-9, atol=1e-13):
    """Every weight, optimizer state, running statistic and the random state of two checkpoints, and every
    logged figure, equal to float64 rounding. (atol: the biases before BatchNorm have a zero gradient in
    exact arithmetic, so their Adam moments are rounding noise of order 1e-18.)"""
    ca, cb = np.load(a / "checkpoint.npz"), np.load(b / "checkpoint.npz")
    assert sorted(ca.files) == sorted(cb.files)
    for key in ca.files:
        if ca[key].dtype.kind == "f":
            np.testing.assert_allclose(cb[key], ca[key], rtol=rtol, atol=atol, err_msg=key)
        else:
            np.testing.assert_array_equal(cb[key], ca[key], err_msg=key)
    assert any("_opt/state/" in key for key in ca.files)
    la = [json.loads(line) for line in open(a / "metrics.jsonl")]
    lb = [json.loads(line) for line in open(b / "metrics.jsonl")]
    assert len(la) == len(lb)
    for ra, rb in zip(la, lb):
        for key in ("d_loss", "g_loss", "d_real", "d_fake", "d_penalty", "d_aux_loss", "g_aux_loss"):
            if key in ra:
                assert rb[key] == pytest.approx(ra[key], rel=1e-9, abs=1e-12), key
        for key, value in ra["grad_norms"].items():
            assert rb["grad_norms"][key] == pytest.approx(value, rel=1e-8, abs=1e-12), key


@needs_mpi
def test_two_ranks_train_the_seed_gan_exactly_as_one_process(tmp_path):
    """digits, the seed G with BatchNorm (100-500-BN-500-BN-784), Adam, global batch 64, 6 steps."""
    one = train(tmp_path / "one", "--batch-size", "64")
    two = train(tmp_path / "two", "--batch-size", "64", ranks=2)
    assert_same_run(one, two)
    assert "G/1.running_var" in np.load(two / "checkpoint.npz").files
    assert json.load(open(one / "evaluation.json")) == pytest.approx(json.load(open(two / "evaluation.json")),
                                                                     rel=1e-6)


THREE_RANK_RUNS = {
    # BatchNorm in G and D, 17 packs of 2 split 5, 6 and 6 (unequal shares), WGAN-GP (its interpolation
    # draw, and its double backward through D's synchronised BatchNorm), G's weight average. SGD: a bias
    # just before a BatchNorm has a zero gradient in exact arithmetic, so Adam's step for it is rounding
    # noise divided by its own size — different noise in one process and in three, not a wrong sum;
    # with WGAN-GP's larger rounding in D it reaches 1e-12 in four steps
    "packs, WGAN-GP, BatchNorm in D": ["--batch-size", "34", "--pack", "2", "--d-norm", "batch", "--loss",
                                       "wasserstein", "--gp", "1", "--g-ema", "0.9", "--optimizer", "sgd"],
    # labels and InfoGAN codes drawn for the global batch, 34 rows split 11, 11 and 12; historical
    # averaging without BatchNorm in G (it feeds the noisy step of the bias before a BatchNorm back into
    # its gradient, growing the noise to 1e-7 in four steps, in one process as much as in three)
    "conditional, InfoGAN codes, historical averaging": [
        "--batch-size", "34", "--conditional", "concat", "--info-cat", "3", "--info-cont", "1",
        "--historical-averaging", "0.01", "--g-norm", "none"],
}


@needs_mpi
@pytest.mark.parametrize("name", list(THREE_RANK_RUNS))
def test_three_ranks_with_unequal_shares_match_one_process(tmp_path, name):
    options = ["--data", "ring8", "--n-data", "400", *THREE_RANK_RUNS[name]]
    one = train(tmp_path / "one", *options, steps=4)
    three = train(tmp_path / "three", *options, ranks=3, steps=4)
    assert_same_run(one, three, rtol=1e-8, atol=1e-12)


@needs_mpi
def test_a_checkpoint_resumes_with_another_number_of_ranks(tmp_path):
    options = ["--batch-size", "32", "--g-hidden", "64,64", "--d-hidden", "64,64"]
    straight = train(tmp_path / "straight", *options, steps=6)
    two_then_one = train(tmp_path / "two_then_one", *options, ranks=2, steps=3)
    train(two_then_one, *options, "--resume", str(two_then_one / "checkpoint.npz"), steps=6)
    one_then_two = train(tmp_path / "one_then_two", *options, steps=3)
    train(one_then_two, *options, "--resume", str(one_then_two / "checkpoint.npz"), ranks=2, steps=6)
    for resumed in (two_then_one, one_then_two):
        ca, cb = np.load(straight / "checkpoint.npz"), np.load(resumed / "checkpoint.npz")
        for key in ca.files:
            if ca[key].dtype.kind == "f":
                np.testing.assert_allclose(cb[key], ca[key], rtol=1e-9, atol=1e-13, err_msg=key)


@needs_mpi
def test_rank_0_alone_writes_the_run_directory(tmp_path):
    result = run_ranks(2, *minigan_command("train", "--distributed", "--steps", "2", "--quiet", "--batch-size", "16",
                                           "--eval-samples", "100"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(os.listdir(tmp_path / "runs")) == 1, os.listdir(tmp_path / "runs")
    assert result.stdout.count("run directory:") == 1


# ---------------------------------------------------------------------------------- faults
def output(result):
    return f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr[-4000:]}"


def run_fault(mode, limit="20"):
    return run_ranks(2, sys.executable, os.path.join(WORKERS, "faults.py"), mode, limit, timeout=120)


@needs_mpi
def test_a_rank_that_raises_stops_every_rank_with_its_error():
    result = run_fault("raise")
    assert result.returncode != 0, output(result)
    assert "rank 1 of 2 failed: ValueError: injected failure on rank 1" in result.stderr, output(result)
    assert "rank 0 stopped because rank 1 failed: ValueError: injected failure on rank 1" in result.stderr, \
        output(result)
    assert "finished" not in result.stdout, output(result)


@needs_mpi
def test_a_rank_that_dies_ends_the_job():
    result = run_fault("die")
    assert result.returncode != 0 and "finished" not in result.stdout, output(result)
    printed = result.stdout + result.stderr
    assert "signal 9" in printed or "Killed" in printed, output(result)


@needs_mpi
def test_a_rank_that_hangs_is_reported_after_the_time_limit():
    result = run_fault("hang", limit="3")
    assert result.returncode != 0, output(result)
    assert "rank 0: " in result.stderr and "waited 3 s for the other ranks" in result.stderr, output(result)
    assert "--distributed-timeout" in result.stderr, output(result)


@needs_mpi
def test_ranks_started_with_different_configurations_are_stopped_at_start_up_naming_the_difference():
    result = run_fault("config")
    assert result.returncode != 0, output(result)
    assert "the ranks were started differently" in result.stderr, output(result)
    assert "rank 1 has config.lr = 0.001 where rank 0 has 0.0002" in result.stderr, output(result)
    assert result.stderr.count("started differently") == 1, output(result)  # said once, by rank 0


@needs_mpi
def test_when_every_rank_fails_the_job_ends_without_waiting_out_the_time_limit():
    started = time.monotonic()
    result = run_fault("both", limit="60")
    assert result.returncode != 0, output(result)
    assert "rank 0 of 2 failed: ValueError: injected failure on rank 0" in result.stderr, output(result)
    assert time.monotonic() - started < 40, output(result)


@needs_mpi
def test_what_cannot_be_split_is_said_once_by_rank_0_under_mpiexec(tmp_path):
    started = time.monotonic()
    result = run_ranks(2, *minigan_command("train", "--distributed", "--feature-matching", "--steps", "2",
                                           "--out", str(tmp_path / "run")))
    assert result.returncode != 0, output(result)
    assert result.stderr.count("feature matching (--feature-matching) squares the batch mean") == 1, output(result)
    assert time.monotonic() - started < 40 and not (tmp_path / "run").exists(), output(result)


@needs_mpi
def test_ranks_running_different_minigan_code_are_stopped_at_start_up():
    result = run_fault("code")
    assert result.returncode != 0, output(result)
    assert "rank 1 has minigan source (sha256) = '0000000000" in result.stderr, output(result)


# ----------------------------------------------------------------------------- the benchmark
@needs_mpi
def test_scaling_benchmark_runs_and_writes_its_tables(tmp_path):
    result = subprocess.run([sys.executable, "-m", "benchmarks.distributed", "--per-rank", "8", "--global", "16",
                             "--steps", "3", "--warmup", "1", "--rounds", "1", "--no-torch", "--out", str(tmp_path)],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    table = (tmp_path / "distributed.md").read_text()
    assert "Weak scaling" in table and "Strong scaling" in table and "minigan efficiency" in table
    payload = json.loads((tmp_path / "distributed.json").read_text())
    assert set(payload["median_ms"]) == {"minigan/2"}
    assert set(payload["median_ms"]["minigan/2"]) == {"together/16", "alone/8", "alone/16", "independent/16"}
    assert all(len(t) == 3 for t in payload["all_ms"]["minigan/2"].values())  # 3 steps x 1 round each


@needs_mpi
@pytest.mark.torch
def test_the_benchmarks_pytorch_sync_batchnorm_equals_one_process_batchnorm():
    pytest.importorskip("torch")
    from benchmarks.distributed import _free_port

    result = run_ranks(2, sys.executable, os.path.join(WORKERS, "torch_sync_batchnorm.py"), str(_free_port()))
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert "ok" in result.stdout


# ------------------------------------------------------------------------------------ GPUs
@pytest.mark.gpu
@needs_mpi
def test_two_ranks_on_cupy_train_as_one_process(tmp_path):
    """Both ranks may share one GPU here: the collectives go through the host unless NCCL has a GPU a rank."""
    import cupy

    env_path = "nccl" if cupy.cuda.runtime.getDeviceCount() >= 2 else "host"
    os.environ["MINIGAN_GPU_COLLECTIVES"] = env_path
    try:
        one = train(tmp_path / "one", "--batch-size", "64", "--backend", "cupy")
        two = train(tmp_path / "two", "--batch-size", "64", "--backend", "cupy", ranks=2)
    finally:
        del os.environ["MINIGAN_GPU_COLLECTIVES"]
    assert_same_run(one, two, rtol=1e-8, atol=1e-12)
