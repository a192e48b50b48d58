"""What D and G minimise: the GAN losses and D's regularisers, each a small object found by name.

Notation: D's outputs on a batch of real rows are r = D(x) and on fake rows f = D(G(z)) — logits for the
probability losses, unbounded scores ("critic" values) for the Wasserstein and hinge losses; E is the
mean over the batch's rows (rows are samples, or packs of ``pack`` samples with PacGAN).

Losses (``LOSSES[name](label_smoothing)``; each has ``d_loss(r, f)`` and ``g_loss(f)``):

- "minimax" (Goodfellow et al., 2014):   D: BCE(r, 1 − s) + BCE(f, 0);  G: −BCE(f, 0) = E log(1 − σ(f))
  (saturating: its gradient vanishes where D rejects G's samples confidently);
- "nonsaturating" (the same paper's fix): D as minimax;  G: BCE(f, 1) = −E log σ(f);
- "least_squares" (Mao et al., 2017):   D: ½ E(r − 1)² + ½ E f²;  G: ½ E(f − 1)²;
- "wasserstein" (Arjovsky et al., 2017): D: E f − E r (the critic maximises E r − E f, an estimate of the
  Wasserstein-1 distance when D is 1-Lipschitz — kept so by weight clipping or a gradient penalty);
  G: −E f;
- "hinge" (Lim & Ye 2017; Miyato et al. 2018): D: E max(0, 1 − r) + E max(0, 1 + f);  G: −E f.

One-sided label smoothing s (Salimans et al., 2016) sets the real target of the BCE losses to 1 − s.

Regularisers of D (added to D's loss; each penalty is ``penalty(D, real, fake, r, f)``):

- ``GradientPenalty(λ)`` (WGAN-GP, Gulrajani et al., 2017): λ E(‖∇ₓD(x̂)‖ − 1)² at x̂ = εx + (1 − ε)x̃,
  one ε ~ U[0, 1] per row (per pack with PacGAN, the norm over the pack's whole row);
- ``R1(γ)`` / ``R2(γ)`` (Mescheder et al., 2018): γ/2 E‖∇ₓD(x)‖² on the real / the fake rows.

Each penalty differentiates D's output with respect to its input with ``create_graph=True`` and the
penalty is then differentiated with respect to D's weights: a double backward through D
(:mod:`minigan.autograd`). The gradient is that of ΣD over the batch, which is each row's own ∇D(xᵢ)
unless D mixes rows (BatchNorm in D, minibatch discrimination), where no per-row gradient exists.

``clip_weights(D, c)`` is WGAN's weight clipping, applied after each D step: every parameter of D is
clipped to [−c, c] in place.
"""

from minigan import ops
from minigan.autograd import enable_grad, grad
from minigan.gan.parallel import Shard
from minigan.nn import functional as F
from minigan.tensor import Tensor


class Minimax:
    """D: BCE(r, 1 − s) + BCE(f, 0);  G: −BCE(f, 0) = E log(1 − σ(f))."""

    probabilities = True  # D's outputs are logits: D(x) = σ(r) is a probability

    def __init__(self, label_smoothing=0.0):
        self.label_smoothing = label_smoothing

    def d_loss(self, real, fake):
        return (F.binary_cross_entropy_with_logits(real, 1.0 - self.label_smoothing)
                + F.binary_cross_entropy_with_logits(fake, 0.0))

    def g_loss(self, fake):
        return -F.binary_cross_entropy_with_logits(fake, 0.0)

    def report(self, outputs):
        """The number logged as D(x) or D(G(z)): the mean probability σ(output), or for a critic the mean score."""
        return float(F.sigmoid(outputs).mean().item()) if self.probabilities else float(outputs.mean().item())


class NonSaturating(Minimax):
    """D as minimax;  G: BCE(f, 1) = −E log σ(f)."""

    def g_loss(self, fake):
        return F.binary_cross_entropy_with_logits(fake, 1.0)


class LeastSquares(Minimax):
    """D: ½ E(r − 1)² + ½ E f²;  G: ½ E(f − 1)²."""

    def d_loss(self, real, fake):
        return 0.5 * F.mse_loss(real, 1.0) + 0.5 * F.mse_loss(fake, 0.0)

    def g_loss(self, fake):
        return 0.5 * F.mse_loss(fake, 1.0)


class Wasserstein(Minimax):
    """D: E f − E r;  G: −E f  (scores, not logits)."""

    probabilities = False

    def d_loss(self, real, fake):
        return fake.mean() - real.mean()

    def g_loss(self, fake):
        return -fake.mean()


class Hinge(Wasserstein):
    """D: E max(0, 1 − r) + E max(0, 1 + f);  G: −E f."""

    def d_loss(self, real, fake):
        return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


LOSSES = {"minimax": Minimax, "nonsaturating": NonSaturating, "least_squares": LeastSquares,
          "wasserstein": Wasserstein, "hinge": Hinge}
PROBABILITY_LOSSES = tuple(name for name, loss in LOSSES.items() if loss.probabilities)


def input_gradient(D, x):
    """∇ₓ ΣD(x) for each row of ``x`` (a tensor that needs no gradient), on the tape: (rows, features).
    Recorded even inside ``no_grad`` (a penalty is a function of D's weights through this gradient)."""
    x = Tensor(x.data, requires_grad=True)
    with enable_grad():
        (g,) = grad(D(x).sum(), x, create_graph=True)
    return g


class GradientPenalty:
    """λ E(‖∇ₓD(x̂)‖ − 1)², x̂ = εx + (1 − ε)x̃, one ε ~ U[0, 1] per row (drawn from minigan.random; in a
    data-parallel run, this rank's rows of a draw for the whole batch: ``shard``)."""

    def __init__(self, weight):
        self.weight = weight
        self.shard = Shard()  # the whole batch; gan.parallel sets a rank's

    def __call__(self, D, real, fake, real_out, fake_out):
        eps = self.shard.uniform(real.shape[0], 1, real.dtype, real.backend)
        mixed = Tensor(eps.data * real.data + (1.0 - eps.data) * fake.data)
        norms = ops.norm(input_gradient(D, mixed), axis=1)
        return self.weight * ((norms - 1.0) ** 2).mean()


class R1:
    """γ/2 E‖∇ₓD(x)‖² on the real rows."""

    def __init__(self, gamma):
        self.gamma = gamma

    def rows(self, real, fake):
        return real

    def __call__(self, D, real, fake, real_out, fake_out):
        g = input_gradient(D, self.rows(real, fake))
        return (0.5 * self.gamma) * (g * g).sum(axis=1).mean()


class R2(R1):
    """γ/2 E‖∇ₓD(x)‖² on the fake rows."""

    def rows(self, real, fake):
        return fake


def penalties(config):
    """D's penalties that ``config`` turns on, in a fixed order (gp, r1, r2)."""
    chosen = []
    if config.gp:
        chosen.append(GradientPenalty(config.gp))
    if config.r1:
        chosen.append(R1(config.r1))
    if config.r2:
        chosen.append(R2(config.r2))
    return chosen


def clip_weights(D, c):
    """WGAN's weight clipping: every parameter of D into [−c, c], in place."""
    for p in D.parameters():
        xp = p.xp
        xp.clip(p.data, -c, c, out=p.data)
