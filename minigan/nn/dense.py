"""The fully connected layer: ``linear`` (one op, hand-written backward) and the ``Dense`` module;
``linear_leaky_relu``, a Dense layer and a LeakyReLU as fused as the backend allows."""

from minigan import cuda
from minigan.errors import ShapeError
from minigan.nn import init as initializers
from minigan.nn.activations import LeakyReLU, bias_leaky_relu, leaky_relu
from minigan.nn.module import Module, Parameter
from minigan.ops.namespace import namespace
from minigan.tensor import Tensor, check_same_backend


def linear(x, weight, bias=None):
    """y = x @ W + b for x of shape (N, in), W (in, out), b (out,) — one op, one node on the tape.

    Backward:  dx = g @ Wᵀ,  dW = xᵀ @ g,  db = Σₙ g  (gradients for inputs that need none are skipped).
    It saves x only if W needs a gradient and W only if x does: a frozen layer keeps no activation.
    The same three lines, run on tensors under ``create_graph``, are the backward's graph, so the
    second derivatives follow: d(dx)/dW and d(dW)/dx pair g with the incoming gradients, and
    d(dx)/dg = Wᵀ, d(dW)/dg = xᵀ, d(db)/dg = 1.
    """
    parents = (x, weight) if bias is None else (x, weight, bias)
    check_same_backend("linear", *parents)
    if x.ndim != 2 or weight.ndim != 2 or x.shape[1] != weight.shape[0]:
        raise ShapeError(f"linear: input of shape {x.shape} does not fit weight of shape {weight.shape}: "
                         "expected x (N, in) and W (in, out)")
    if bias is not None and bias.shape != (weight.shape[1],):
        raise ShapeError(f"linear: bias of shape {bias.shape} does not fit weight of shape {weight.shape}: "
                         f"expected ({weight.shape[1]},)")
    out = x.data @ weight.data
    if bias is not None:
        out += bias.data

    def backward(g, needs, x, weight):
        gx = outer_or_matmul(g, weight.T) if needs[0] else None
        gw = x.T @ g if needs[1] else None
        if len(needs) == 2:
            return gx, gw
        return gx, gw, (g.sum(axis=0) if needs[2] else None)

    saved = (x if weight.requires_grad else None, weight if x.requires_grad else None)
    return Tensor._from_op(out, parents, backward, "linear", saved=saved)


def outer_or_matmul(a, b):
    """a @ b; for a (N, 1) and b (1, M) on arrays — the gradient through a one-output layer, D's head — the
    product a · b, broadcast: the same numbers (a K = 1 product sums nothing; only a zero's sign may differ,
    −0 where BLAS adds the product to +0) at a third of BLAS's time."""
    if a.ndim == 2 and a.shape[1] == 1 and not isinstance(a, Tensor):
        return namespace(a).multiply(a, b)
    return a @ b


def linear_leaky_relu(x, weight, bias=None, negative_slope=0.2):
    """leaky_relu(x @ W + b): the same numbers and gradients as ``leaky_relu(linear(x, W, b))``.

    On the CuPy backend with the "bias_leaky_relu" kernels on, it is ``linear(x, W)`` (the matmul)
    followed by :func:`~minigan.nn.activations.bias_leaky_relu`, whose one launch adds the bias and
    applies the slope (and whose backward gives the bias gradient with the slope's); everywhere else,
    and without a bias, it is exactly the two ops.
    """
    if bias is not None and cuda.use_kernel("bias_leaky_relu", x.data):
        return bias_leaky_relu(linear(x, weight), bias, negative_slope)
    return leaky_relu(linear(x, weight, bias), negative_slope)


class Dense(Module):
    """Fully connected layer, y = x @ W + b, with W of shape (in_features, out_features).

    ``init`` picks the initialisation (see :mod:`minigan.nn.init`): "uniform" (default), "glorot" or
    "normal". Parameters are created on the current backend with ``dtype`` (default: the default dtype).
    """

    def __init__(self, in_features, out_features, bias=True, init="uniform", dtype=None):
        super().__init__()
        if in_features < 1 or out_features < 1:
            raise ValueError(f"Dense: sizes must be positive, got in_features={in_features}, out_features={out_features}")
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(initializers.dense_weight(in_features, out_features, init, dtype))
        self.bias = Parameter(initializers.dense_bias(in_features, out_features, init, dtype)) if bias else None

    def forward(self, x):
        self._check_input(x)
        return linear(x, self.weight, self.bias)

    def forward_pair(self, following, x):
        """``following(self(x))`` as :func:`linear_leaky_relu` when ``following`` is a LeakyReLU, this
        layer has a bias, the input is a CuPy array and the "bias_leaky_relu" kernels are on; else None.
        Never when either module has forward hooks: they must see the outputs of each."""
        if (type(following) is not LeakyReLU or self.bias is None or self._forward_hooks
                or following._forward_hooks or not cuda.use_kernel("bias_leaky_relu", x.data)):
            return None
        self._check_input(x)
        return linear_leaky_relu(x, self.weight, self.bias, following.negative_slope)

    def _check_input(self, x):
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ShapeError(
                f"Dense({self.in_features}, {self.out_features}): expected input of shape (N, {self.in_features}), "
                f"got {x.shape}"
            )

    def extra_repr(self):
        return f"{self.in_features}, {self.out_features}, bias={self.bias is not None}"

