"""The functional forms of the layers and the losses, in one namespace (as ``torch.nn.functional``).

Each function is defined, forward and backward together, in the module named beside it.
"""

from minigan.nn.activations import bias_leaky_relu, leaky_relu, relu  # noqa: F401
from minigan.nn.batchnorm import batch_norm  # noqa: F401
from minigan.nn.dense import linear, linear_leaky_relu  # noqa: F401
from minigan.nn.dropout import dropout  # noqa: F401
from minigan.nn.losses import (binary_cross_entropy, binary_cross_entropy_with_logits,  # noqa: F401
                               cross_entropy, feature_matching_loss, log_softmax, mse_loss)
from minigan.nn.normalization import instance_norm, layer_norm  # noqa: F401
from minigan.ops import pad, sigmoid, softmax, softplus, tanh  # noqa: F401
