"""Minibatch discrimination (Salimans et al., 2016, "Improved Techniques for Training GANs", §3.2).

Lets the discriminator look at a whole batch: a sample that is too close to the others (the sign of
mode collapse) gets large similarity features. For x of shape (N, A) and a learned T of shape (A, B·C):

    M        = x @ T, viewed as (N, B, C)              B kernels, C dimensions each
    c_b(i,j) = exp(−‖M[i,b] − M[j,b]‖₁)                 similarity of samples i, j under kernel b
    o[i,b]   = Σⱼ c_b(i, j)                             summed over the batch (j = i included, as in the paper)
    out      = concatenate(x, o) along features         shape (N, A + B)

T starts as N(0, 0.1²). Composed from core ops, so its gradient is theirs.
"""

from minigan import ops, random
from minigan.errors import ShapeError
from minigan.nn.module import Module, Parameter


class MinibatchDiscrimination(Module):
    """Append B = ``num_kernels`` batch-similarity features to each row of x (N, in_features)."""

    def __init__(self, in_features, num_kernels, kernel_dim, dtype=None):
        super().__init__()
        self.in_features = in_features
        self.num_kernels = num_kernels
        self.kernel_dim = kernel_dim
        self.T = Parameter(random.normal(0.0, 0.1, (in_features, num_kernels * kernel_dim), dtype=dtype))

    def forward(self, x):
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ShapeError(
                f"MinibatchDiscrimination({self.in_features}, ...): expected input of shape "
                f"(N, {self.in_features}), got {x.shape}"
            )
        n = x.shape[0]
        m = ops.reshape(x @ self.T, (n, self.num_kernels, self.kernel_dim))
        difference = ops.reshape(m, (n, 1, self.num_kernels, self.kernel_dim)) - \
            ops.reshape(m, (1, n, self.num_kernels, self.kernel_dim))
        similarity = ops.exp(-ops.sum(ops.abs(difference), axis=3))     # (N, N, B)
        features = ops.sum(similarity, axis=1)                          # (N, B)
        return ops.concatenate([x, features], axis=1)

    def extra_repr(self):
        return f"{self.in_features}, num_kernels={self.num_kernels}, kernel_dim={self.kernel_dim}"
