"""Plain array references for every fused kernel, with the wrappers' signatures and results.

Each is written from the math, not from the kernel: whole-array expressions, where the kernels
loop and reduce in their own order. They run on NumPy or CuPy arrays (the module is taken from the
data), so the GPU tests compare each kernel with its reference, and the CPU tests compare each
reference with minigan's own layers, losses and optimizers.
"""

from minigan.backends import array_module


def _listed(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]


# ------------------------------------------------------------------------------------- BatchNorm

def batchnorm_forward(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5):
    """Training-mode BatchNorm of x (N, C): ``(y, mean, inv_std)``; running statistics updated in place.

    μ = mean over the batch, σ² = biased variance, y = γ (x − μ)/√(σ² + ε) + β;
    r_mean ← (1 − m) r_mean + m μ,  r_var ← (1 − m) r_var + m σ² N/(N − 1).
    """
    xp = array_module(x)
    n = x.shape[0]
    mean = x.mean(axis=0)
    var = ((x - mean) ** 2).mean(axis=0)
    inv_std = 1 / xp.sqrt(var + eps)
    x_hat = (x - mean) * inv_std
    y = x_hat if gamma is None else gamma * x_hat + beta
    if running_mean is not None:
        running_mean[...] = (1 - momentum) * running_mean + momentum * mean
        running_var[...] = (1 - momentum) * running_var + momentum * var * (n / (n - 1))
    return y, mean, inv_std


def batchnorm_backward(grad_out, x, gamma, mean, inv_std):
    """``(grad_x, grad_gamma, grad_beta)``: dγ = Σ g x̂, dβ = Σ g, dx = (γ/(N σ))(N g − Σ g − x̂ Σ g x̂)."""
    n = x.shape[0]
    x_hat = (x - mean) * inv_std
    sum_g = grad_out.sum(axis=0)
    sum_g_xhat = (grad_out * x_hat).sum(axis=0)
    scale = inv_std / n if gamma is None else gamma * inv_std / n
    return scale * (n * grad_out - sum_g - x_hat * sum_g_xhat), sum_g_xhat, sum_g


def batchnorm_forward_eval(x, gamma, beta, running_mean, running_var, eps=1e-5):
    """y = γ (x − r_mean)/√(r_var + ε) + β."""
    xp = array_module(x)
    x_hat = (x - running_mean) / xp.sqrt(running_var + eps)
    return x_hat if gamma is None else gamma * x_hat + beta


# ---------------------------------------------------------------------------- bias + LeakyReLU

def bias_leaky_relu_forward(h, bias, negative_slope=0.2):
    """``(y, positive)``: v = h + b, y = v where v > 0 else slope · v, positive = v > 0."""
    xp = array_module(h)
    v = h + bias
    positive = v > 0
    return xp.where(positive, v, negative_slope * v), positive


def bias_leaky_relu_backward(grad_out, positive, negative_slope=0.2):
    """``(grad_h, grad_bias)``: grad_h = g where positive else slope · g; grad_bias = its column sums."""
    xp = array_module(grad_out)
    grad_h = xp.where(positive, grad_out, negative_slope * grad_out)
    return grad_h, grad_h.sum(axis=0)


# ---------------------------------------------------------------------------- BCE with logits

def _divisor(logits, reduction):
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
    return logits.size if reduction == "mean" else 1


def bce_with_logits_forward(logits, target, reduction="mean"):
    """L = Σ [softplus(z) − t z] / divisor: −[t log σ(z) + (1 − t) log(1 − σ(z))] = log(1 + eᶻ) − t z,
    with log(1 + eᶻ) as logaddexp(0, z) (finite for any z). A 0-d array."""
    xp = array_module(logits)
    losses = xp.logaddexp(0, logits) - target * logits
    return xp.asarray(losses.sum() / _divisor(logits, reduction), dtype=logits.dtype)


def bce_with_logits_backward(grad_loss, logits, target, reduction="mean"):
    """dz = G (σ(z) − t) / divisor, with σ(z) = exp(−log(1 + e^(−z))) (accurate in both tails)."""
    xp = array_module(logits)
    sigmoid = xp.exp(-xp.logaddexp(0, -logits))
    return (grad_loss.reshape(()) / _divisor(logits, reduction)) * (sigmoid - target)


# ---------------------------------------------------------------------------------- optimizers

def adam_step(params, grads, exp_avgs, exp_avg_sqs, steps, lr, beta1, beta2, eps, weight_decay=0.0,
              max_exp_avg_sqs=None):
    """Adam (Kingma & Ba, Algorithm 1; AMSGrad when ``max_exp_avg_sqs`` is given), in place:

    g ← g + wd θ;  m ← β₁ m + (1 − β₁) g;  v ← β₂ v + (1 − β₂) g²;  m̂ = m/(1 − β₁ᵗ);  v̂ = v/(1 − β₂ᵗ)
    (v̂ from max over time of v with AMSGrad);  θ ← θ − lr m̂/(√v̂ + ε).
    """
    params, grads, exp_avgs, exp_avg_sqs = map(_listed, (params, grads, exp_avgs, exp_avg_sqs))
    steps = [steps] * len(params) if isinstance(steps, int) else list(steps)
    maxima = _listed(max_exp_avg_sqs) if max_exp_avg_sqs is not None else [None] * len(params)
    for p, g, m, v, v_max, t in zip(params, grads, exp_avgs, exp_avg_sqs, maxima, steps):
        xp = array_module(p)
        if weight_decay:
            g = g + weight_decay * p
        m[...] = beta1 * m + (1 - beta1) * g
        v[...] = beta2 * v + (1 - beta2) * g * g
        if v_max is not None:
            v_max[...] = xp.maximum(v_max, v)
        m_hat = m / (1 - beta1 ** t)
        v_hat = (v if v_max is None else v_max) / (1 - beta2 ** t)
        p -= lr * m_hat / (xp.sqrt(v_hat) + eps)


def sgd_step(params, grads, momentum_buffers, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
    """SGD with momentum (PyTorch's form), in place: g ← g + wd θ;  b ← μ b + g;
    d = g + μ b (Nesterov) or b (d = g without momentum);  θ ← θ − lr d. Buffers start at zero."""
    params, grads = _listed(params), _listed(grads)
    buffers = _listed(momentum_buffers) if momentum_buffers is not None else [None] * len(params)
    for p, g, b in zip(params, grads, buffers):
        if weight_decay:
            g = g + weight_decay * p
        if momentum:
            b[...] = momentum * b + g
            g = g + momentum * b if nesterov else b
        p -= lr * g
