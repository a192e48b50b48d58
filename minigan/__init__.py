"""minigan: a small reverse-mode autodiff engine over NumPy (or CuPy on NVIDIA GPUs), for GANs.

Start with :class:`Tensor` (``minigan/tensor.py``), the tape (``minigan/autograd.py``) and the ops
(``minigan/ops/``): each op's forward and backward stand side by side.
"""

from minigan.anomaly import detect_anomaly, is_anomaly_check_nan_enabled, is_anomaly_enabled, set_detect_anomaly
from minigan.autograd import enable_grad, grad, is_grad_enabled, no_grad
from minigan.backends import backend, get_backend, set_backend
from minigan.errors import (AnomalyError, BackendError, BackendUnavailableError, DistributedError, DTypeError,
                            GradcheckError, GraphError, GraphvizError, MiniganError, ShapeError)
from minigan.gradient_check import (GradcheckReport, GradgradcheckReport, check_gradients, check_second_gradients,
                                    gradcheck, gradgradcheck)
from minigan.graph import format_graph, to_dot
from minigan.graph_picture import draw_graph
from minigan.ops import (abs, add, amax, amin, arange, argmax, argmin, astype, broadcast_to, chunk, clip, concatenate,
                         cos, cumsum, div, einsum, exp, expand, expm1, flatten, flip, full, full_like, gather, getitem,
                         log, log1p, log_softmax, logsumexp, matmul, max, maximum, mean, min, minimum, mul, neg, norm,
                         ones, ones_like, outer, pad, pow, prod, rand, rand_like, randn, randn_like, repeat,
                         repeat_interleave, reshape, sigmoid, sign, sin, softmax, softplus, split, sqrt, square,
                         squeeze, stack, std, sub, sum, tanh, tile, transpose, unsqueeze, var, where, zeros,
                         zeros_like)
from minigan.profiler import profile, record, trace_ops
from minigan.tensor import Tensor, get_default_dtype, set_default_dtype, tensor
from minigan import random  # noqa: E402  (after tensor: it builds tensors)
from minigan import functional  # noqa: E402  (minigan.functional.hessian and its kin)

float32 = "float32"
float64 = "float64"

__version__ = "0.1.0"
