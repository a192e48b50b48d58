"""Fused CUDA kernels for the CuPy backend: BatchNorm, bias + LeakyReLU, BCE with logits, Adam/SGD.

The CUDA C sources are in ``kernels/`` (one per family, each explaining its math and launch); CuPy
compiles them at run time, the first time a kernel is needed (:mod:`minigan.cuda.loader`). This
package holds

- the switches (:mod:`minigan.cuda.toggles`): every family is on by default and used for CuPy
  arrays only; ``set_kernels_enabled``, ``kernels_disabled``, ``kernels_enabled`` and the
  ``MINIGAN_KERNELS`` environment variable switch them;
- the wrappers, which take and return CuPy arrays and check shapes, dtypes and layouts:
  ``batchnorm_forward/backward/forward_eval``, ``bias_leaky_relu_forward/backward``,
  ``bce_with_logits_forward/backward``, ``adam_step``, ``sgd_step``;
- :mod:`minigan.cuda.reference`: the same functions written as plain array code, for NumPy or CuPy.

The layers call the wrappers themselves (``minigan.nn.batchnorm``, ``minigan.nn.losses``, and
``Dense`` followed by ``LeakyReLU`` in a ``Sequential``); the optimizer kernels are called as
:mod:`minigan.cuda.optimizer` describes. Importing this package never imports CuPy; a wrapper called
without CuPy or a GPU raises :class:`~minigan.errors.BackendUnavailableError`.
"""

from minigan.cuda import reference  # noqa: F401
from minigan.cuda.batchnorm import batchnorm_backward, batchnorm_forward, batchnorm_forward_eval
from minigan.cuda.bce_with_logits import bce_with_logits_backward, bce_with_logits_forward
from minigan.cuda.bias_leaky_relu import bias_leaky_relu_backward, bias_leaky_relu_forward
from minigan.cuda.loader import source_directory
from minigan.cuda.optimizer import adam_step, sgd_step
from minigan.cuda.toggles import FAMILIES, kernels_disabled, kernels_enabled, set_kernels_enabled, use_kernel

__all__ = ["FAMILIES", "kernels_enabled", "set_kernels_enabled", "kernels_disabled", "use_kernel",
           "source_directory", "batchnorm_forward", "batchnorm_backward", "batchnorm_forward_eval",
           "bias_leaky_relu_forward", "bias_leaky_relu_backward", "bce_with_logits_forward",
           "bce_with_logits_backward", "adam_step", "sgd_step", "reference"]
