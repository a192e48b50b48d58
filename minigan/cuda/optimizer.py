"""Adam and SGD steps over many CuPy parameter tensors in one launch: ``kernels/optimizer.cu``.

Each function updates, in place, a list of parameters (and their state buffers) from a list of
gradients, with the rules and the rounding of :mod:`minigan.optim` (the formulas are in the .cu
file). A list holding float32 and float64 tensors takes one launch per dtype. Per call, one small
table of pointers and sizes (and, for Adam, one of per-tensor bias corrections) is copied to the GPU.

How :mod:`minigan.optim` can call them, in ``Optimizer.step`` when
``minigan.cuda.use_kernel("optimizer", p.data)`` holds, for the parameters ``live`` that have a
gradient and their states ``states``, after advancing each ``state["step"]`` and creating any
missing buffer as zeros (``exp_avg``, ``exp_avg_sq``, and ``max_exp_avg_sq`` with AMSGrad; SGD's
``momentum_buffer``: the kernel's first step then sets it to g, as ``g.copy()`` does). The kernel
applies the weight decay itself: pass it, and do not add it to the gradients first. ::

    h = self.hyper
    minigan.cuda.adam_step([p.data for p in live], [p.grad for p in live],
                           [s["exp_avg"] for s in states], [s["exp_avg_sq"] for s in states],
                           [s["step"] for s in states], lr=h["lr"], beta1=h["beta1"], beta2=h["beta2"],
                           eps=h["eps"], weight_decay=h["weight_decay"],
                           max_exp_avg_sqs=[s["max_exp_avg_sq"] for s in states] if h["amsgrad"] else None)

    minigan.cuda.sgd_step([p.data for p in live], [p.grad for p in live],
                          [s["momentum_buffer"] for s in states] if h["momentum"] else None,
                          lr=h["lr"], momentum=h["momentum"], nesterov=h["nesterov"],
                          weight_decay=h["weight_decay"])

The parameters and buffers may be the per-parameter views of the optimizer's flat buffers (they are
contiguous), or the flat buffers themselves as lists of one; the gradients are read where they lie
(copied first only if not contiguous), so they need not be concatenated. Per-parameter step counts
may differ. Adagrad has no kernel.
"""

import math

import numpy as np

from minigan.backends import load_cupy
from minigan.cuda import arguments
from minigan.cuda.loader import KernelSource
from minigan.errors import ShapeError

SOURCE = KernelSource("optimizer.cu", ("adam_multi_tensor", "sgd_multi_tensor"))
CHUNK = 4096  # elements per block
BLOCK = 256


def block_table(sizes, chunk=CHUNK):
    """``(tensor, first)``: for each block, the tensor it updates and its first element; a tensor of
    s elements gets ⌈s / chunk⌉ blocks covering [0, s) in chunks (an empty one gets none)."""
    counts = np.array([-(-size // chunk) for size in sizes], dtype=np.int64)
    tensor = np.repeat(np.arange(len(sizes), dtype=np.int64), counts)
    first_block = np.cumsum(counts) - counts
    first = (np.arange(len(tensor), dtype=np.int64) - np.repeat(first_block, counts)) * chunk
    return tensor, first


def _pointers(arrays):
    """Device addresses as int64 (0 where there is no array)."""
    return np.array([0 if a is None else a.data.ptr for a in arrays], dtype=np.uint64).view(np.int64)


def _tensor_lists(op, cupy, written, read):
    """Check the parallel lists: ``written`` (updated in place) and ``read`` (only read), by name.
    Returns them as lists, the read ones in C order, and the dtype of each tensor."""
    lists = {name: (None if value is None else arguments.listed(value))
             for name, value in {**written, **read}.items()}
    count = len(lists["params"])
    for name, values in lists.items():
        if values is not None and len(values) != count:
            raise ShapeError(f"{op}: {name} has {len(values)} tensors for {count} params")
    dtypes = []
    for i in range(count):
        tensors = {f"{name}[{i}]": values[i] for name, values in lists.items() if values is not None}
        arguments.on_gpu(op, cupy, **tensors)
        shape = lists["params"][i].shape
        for name, tensor in tensors.items():
            arguments.shaped(op, name, tensor, shape, f" (params[{i}] has shape {shape})")
        dtypes.append(arguments.common_dtype(op, **tensors))
        for name in written:
            if lists[name] is not None:
                arguments.writable(op, f"{name}[{i}]", lists[name][i])
    for name in read:
        lists[name] = [cupy.ascontiguousarray(g) for g in lists[name]]
    return lists, dtypes


def _column(values, indices):
    """The tensors of one list at ``indices``; None for each when the list itself is None."""
    return [None] * len(indices) if values is None else [values[i] for i in indices]


def _by_dtype(dtypes):
    groups = {}
    for i, dtype in enumerate(dtypes):
        groups.setdefault(dtype, []).append(i)
    return groups.items()


def _launch_table(cupy, columns, sizes):
    """The int64 table of optimizer.cu: pointer columns, sizes, then each block's tensor and first element."""
    tensor, first = block_table(sizes)
    table = np.concatenate([_pointers(column) for column in columns] + [np.array(sizes, dtype=np.int64), tensor, first])
    return cupy.asarray(table), len(tensor)


def adam_step(params, grads, exp_avgs, exp_avg_sqs, steps, lr, beta1, beta2, eps, weight_decay=0.0,
              max_exp_avg_sqs=None):
    """One Adam step for each parameter, in place: θ, m, v (and v_max when ``max_exp_avg_sqs`` is given:
    AMSGrad). ``steps`` is each tensor's step count t ≥ 1 after this step (one int for all, or a list)."""
    op = "adam_step"
    cupy = load_cupy()
    lists, dtypes = _tensor_lists(op, cupy, {"params": params, "exp_avgs": exp_avgs, "exp_avg_sqs": exp_avg_sqs,
                                             "max_exp_avg_sqs": max_exp_avg_sqs}, {"grads": grads})
    steps = [steps] * len(dtypes) if isinstance(steps, (int, np.integer)) else list(steps)
    if len(steps) != len(dtypes) or any(int(t) != t or t < 1 for t in steps):
        raise ValueError(f"{op}: steps must be one integer ≥ 1 per parameter ({len(dtypes)}), got {steps}")
    for dtype, indices in _by_dtype(dtypes):
        columns = [_column(lists[name], indices)
                   for name in ("params", "grads", "exp_avgs", "exp_avg_sqs", "max_exp_avg_sqs")]
        table, blocks = _launch_table(cupy, columns, [lists["params"][i].size for i in indices])
        if not blocks:
            continue
        chosen = [steps[i] for i in indices]
        factors = cupy.asarray(np.array([lr / (1 - beta1 ** t) for t in chosen]
                                        + [math.sqrt(1 - beta2 ** t) for t in chosen], dtype=dtype))
        scalar = dtype.type
        SOURCE.function("adam_multi_tensor", dtype)(
            (blocks,), (BLOCK,),
            (table, factors, np.int32(len(indices)), np.int64(CHUNK), scalar(beta1), scalar(1 - beta1),
             scalar(beta2), scalar(1 - beta2), scalar(eps), scalar(weight_decay)))


def sgd_step(params, grads, momentum_buffers, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
    """One SGD step for each parameter, in place. With ``momentum`` ≠ 0, ``momentum_buffers`` (one per
    parameter, zeros before the first step) are updated too; with momentum 0 pass None."""
    op = "sgd_step"
    cupy = load_cupy()
    if bool(momentum) != (momentum_buffers is not None):
        raise ValueError(f"{op}: momentum={momentum} needs momentum_buffers exactly when it is not 0 "
                         f"(got {'none' if momentum_buffers is None else 'some'})")
    if nesterov and not momentum:
        raise ValueError(f"{op}: nesterov=True needs momentum > 0")
    lists, dtypes = _tensor_lists(op, cupy, {"params": params, "momentum_buffers": momentum_buffers},
                                  {"grads": grads})
    for dtype, indices in _by_dtype(dtypes):
        columns = [_column(lists[name], indices) for name in ("params", "grads", "momentum_buffers")]
        table, blocks = _launch_table(cupy, columns, [lists["params"][i].size for i in indices])
        if not blocks:
            continue
        scalar = dtype.type
        SOURCE.function("sgd_multi_tensor", dtype)(
            (blocks,), (BLOCK,),
            (table, np.int32(len(indices)), np.int64(CHUNK), scalar(lr), scalar(momentum), scalar(weight_decay),
             np.int32(bool(nesterov))))
