"""Spectral normalisation (Miyato et al., 2018): ``spectral_norm`` and ``remove_spectral_norm``, as
``torch.nn.utils.spectral_norm`` does them.

A layer's weight W is replaced by W / σ(W), σ(W) its largest singular value (the spectral norm, the
Lipschitz constant of the linear map), so that a critic made of such layers and 1-Lipschitz
activations is 1-Lipschitz itself.

The matrix
----------
σ is taken of W viewed as a matrix M, shape (h, w): axis ``dim`` first, the other axes flattened
(PyTorch's ``reshape_weight_to_matrix``). minigan's Dense stores W as (in, out), torch's Linear as
(out, in), so for a Dense ``dim`` defaults to 1: M = Wᵀ, (out, in), the very matrix of the equivalent
``torch.nn.Linear``, and u has shape (out,) and v shape (in,), the shapes of torch's ``weight_u`` and
``weight_v``. (σ is the same for W and Wᵀ, but with this M the power iteration and its buffers match
torch's step for step: a torch Linear with weight Wᵀ and our u gives our numbers.) For any other module
``dim`` defaults to 0, torch's default.

Power iteration
---------------
With M = Σᵢ σᵢ uᵢ vᵢᵀ (its SVD, σ₁ ≥ σ₂ ≥ …) and normalize(x) = x / max(‖x‖, eps), one iteration is

    v ← normalize(Mᵀ u),   u ← normalize(M v),

so u is multiplied by M Mᵀ = Σᵢ σᵢ² uᵢ uᵢᵀ and normalised: its component along u₁ grows by (σ₁/σᵢ)²
against each other one, u → ±u₁ and v → ±v₁, and

    σ = uᵀ M v   (→ u₁ᵀ M v₁ = σ₁).

u and v are buffers (``weight_u``, ``weight_v``, in the state dict) carried from one forward to the next,
so ``n_power_iterations`` (default 1) per training step is enough: the weights change slowly and the
estimate warms up over training. They are updated, in place, before each forward in training mode
only; in eval mode the stored u and v are used, and the layer is a fixed function of ``weight_orig``.
Both start as normalised standard normal draws from :mod:`minigan.random` (u first, then v, as torch).

The gradient
------------
The forward computes W / σ with σ = uᵀ M v, u and v held constant (the iteration runs on arrays, off
the tape, and the σ that is recorded reads copies of them). Then ∂σ/∂M = u vᵀ, and for a loss ℓ with
G = ∂ℓ/∂(W/σ):

    ∂ℓ/∂W = G / σ − (⟨G, W⟩ / σ²) · ∂σ/∂W,     ∂σ/∂W = u vᵀ laid back out in W's layout.

Why u and v are detached: σ₁(M) = max over unit vectors u', v' of u'ᵀ M v', and the derivative of a
maximum is the derivative at the maximiser with the maximiser held fixed (the envelope theorem:
∂σ₁/∂M = u₁ v₁ᵀ where σ₁ is simple). So at the fixed point of the iteration the detached gradient is
the true gradient of σ₁; differentiating through the iteration would only add terms that vanish there,
at the cost of a backward through every iteration. The paper and PyTorch hold u and v fixed; so do we.
The copies matter because the next training forward updates the buffers in place before this one's
backward has run (D(real) and D(fake) in one loss).

W / σ is composed of ops (transpose, reshape, matmul, division), so its second derivatives come from
theirs: gradient penalties differentiate through a spectral-normed critic.

The module
----------
``spectral_norm(module)`` moves the Parameter ``weight`` to ``weight_orig`` (the same object: an
optimizer built before keeps stepping it), adds the buffers ``weight_u`` and ``weight_v``, and registers
a forward pre-hook that sets the plain attribute ``module.weight`` = W / σ before each forward. Until the
first forward ``module.weight`` shares ``weight_orig``'s array, as in PyTorch (so initialising it in place
initialises ``weight_orig``). The state dict holds ``weight_orig``, ``weight_u`` and ``weight_v``
(PyTorch's keys), and ``Module.to``/``double()`` convert them; ``module.weight`` follows at the next
forward. In a :class:`~minigan.nn.Sequential` a module with a pre-hook is never fused with its neighbour.
"""

from minigan import backends, random
from minigan.autograd import no_grad
from minigan.nn.dense import Dense
from minigan.tensor import Tensor


def _normalize(x, eps):
    """x / max(‖x‖, eps), on arrays: PyTorch's ``F.normalize(x, dim=0, eps=eps)`` for a vector."""
    xp = backends.array_module(x)
    return x / xp.maximum(xp.linalg.norm(x), eps)


def _constant(array):
    """A leaf tensor holding ``array`` (on its own backend, not copied) that needs no gradient."""
    return Tensor._from_op(array, (), None, None)


class SpectralNorm:
    """The forward pre-hook :func:`spectral_norm` registers: before each forward it sets
    ``module.<name>`` to W / σ(W) (power iteration in training mode only: module docstring)."""

    def __init__(self, name, n_power_iterations, dim, eps):
        self.name = name
        self.n_power_iterations = n_power_iterations
        self.dim = dim
        self.eps = eps

    def matrix(self, weight):
        """``weight`` (an array or a tensor) as the (h, w) matrix M: axis ``dim`` first, the rest flattened."""
        if self.dim != 0:
            weight = weight.transpose((self.dim,) + tuple(d for d in range(weight.ndim) if d != self.dim))
        return weight.reshape((weight.shape[0], -1))

    def compute_weight(self, module, do_power_iteration):
        """W / σ with σ = uᵀ M v, recorded on the tape with u and v constant; first, when
        ``do_power_iteration``, ``n_power_iterations`` steps update the buffers u and v in place."""
        weight = getattr(module, self.name + "_orig")
        u_buffer, v_buffer = getattr(module, self.name + "_u"), getattr(module, self.name + "_v")
        if do_power_iteration:
            matrix, u = self.matrix(weight.data), u_buffer.data
            for _ in range(self.n_power_iterations):
                v = _normalize(matrix.T @ u, self.eps)
                u = _normalize(matrix @ v, self.eps)
            u_buffer.data[...] = u
            v_buffer.data[...] = v
        u, v = _constant(u_buffer.data.copy()), _constant(v_buffer.data.copy())
        sigma = u @ (self.matrix(weight) @ v)
        return weight / sigma

    def __call__(self, module, inputs):
        setattr(module, self.name, self.compute_weight(module, do_power_iteration=module.training))


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Reparametrise ``module``'s parameter ``name`` as W / σ(W) (module docstring); return ``module``.

    ``n_power_iterations`` (≥ 1) power-iteration steps refine u and v before each training-mode
    forward; ``eps`` (> 0) guards the normalisations; ``dim`` is the axis of W that becomes M's rows
    (default: 1 for a Dense, whose W is (in, out), so that M is torch's (out, in) matrix; 0 otherwise).
    Everything is checked before the module changes.
    """
    who = type(module).__name__
    if any(isinstance(h, SpectralNorm) and h.name == name for h in getattr(module, "_forward_pre_hooks", ())):
        raise RuntimeError(f"spectral_norm: {who}'s {name!r} is already spectral-normed")
    held = {n: p for n, p in getattr(module, "_parameters", {}).items() if p is not None}
    if name not in held:
        raise ValueError(f"spectral_norm: {who} has no parameter {name!r} (its parameters: {list(held)})")
    weight = held[name]
    if isinstance(n_power_iterations, bool) or not isinstance(n_power_iterations, int) or n_power_iterations < 1:
        raise ValueError(f"spectral_norm: n_power_iterations must be an int >= 1, got {n_power_iterations!r}")
    if not eps > 0:
        raise ValueError(f"spectral_norm: eps must be positive, got {eps!r}")
    if dim is None:
        dim = 1 if isinstance(module, Dense) else 0
    if weight.ndim == 0 or not -weight.ndim <= dim < weight.ndim:
        raise ValueError(f"spectral_norm: dim {dim} is not an axis of {name!r}, of shape {weight.shape}")
    hook = SpectralNorm(name, n_power_iterations, dim % weight.ndim, eps)
    rows, columns = hook.matrix(weight.data).shape
    u = _normalize(random.randn(rows, dtype=weight.dtype, backend=weight.backend).data, eps)
    v = _normalize(random.randn(columns, dtype=weight.dtype, backend=weight.backend).data, eps)

    delattr(module, name)
    setattr(module, name + "_orig", weight)
    setattr(module, name, weight.detach())  # a plain attribute, sharing weight_orig's array until a forward
    module.register_buffer(name + "_u", _constant(u))
    module.register_buffer(name + "_v", _constant(v))
    module.register_forward_pre_hook(hook)
    return module


def remove_spectral_norm(module, name="weight"):
    """Undo :func:`spectral_norm`: ``name`` becomes a Parameter again holding W / σ computed with the
    stored u and v (no power iteration), as in PyTorch; ``weight_orig``, ``weight_u`` and ``weight_v``
    go. The Parameter is ``weight_orig``'s object with a new array, so an optimizer built before keeps
    stepping it. Returns ``module``."""
    hook = next((h for h in getattr(module, "_forward_pre_hooks", ())
                 if isinstance(h, SpectralNorm) and h.name == name), None)
    if hook is None:
        raise ValueError(f"remove_spectral_norm: {type(module).__name__} has no spectral_norm of {name!r}")
    with no_grad():
        weight = hook.compute_weight(module, do_power_iteration=False)
    parameter = getattr(module, name + "_orig")
    module._forward_pre_hooks.remove(hook)
    for attribute in (name, name + "_u", name + "_v", name + "_orig"):
        delattr(module, attribute)
    parameter.data = weight.data  # a new array: graphs recorded before keep the old values
    setattr(module, name, parameter)
    return module
