"""Optimizers: SGD (with momentum and Nesterov), Adagrad, Adam (with AMSGrad), RMSprop (centered, momentum).

Each updates its parameters' ``.data`` in place from their ``.grad`` in ``step()``; parameters whose
``.grad`` is None are skipped (and their step count does not advance). The update rules, with
g = grad + weight_decay · θ (L2 regularisation folded into the gradient, as PyTorch does):

- SGD:      b ← μ b + g (b = g at the first step);  d = g + μ b if nesterov else b;  θ ← θ − lr · d
- Adagrad:  s ← s + g²;  θ ← θ − lr · g / (√s + ε)   (Duchi et al., 2011)
- Adam:     m ← β₁ m + (1 − β₁) g;  v ← β₂ v + (1 − β₂) g²;  m̂ = m / (1 − β₁ᵗ);  v̂ = v / (1 − β₂ᵗ);
            θ ← θ − lr · m̂ / (√v̂ + ε)   (Kingma & Ba, 2015); with amsgrad, v̂ uses max over time of v.
- RMSprop:  s ← α s + (1 − α) g²;  centered: ḡ ← α ḡ + (1 − α) g, s̃ = s − ḡ², else s̃ = s;  d = √s̃ + ε;
            with momentum b ← μ b + g / d, θ ← θ − lr · b, else θ ← θ − lr · g / d   (Hinton's lecture 6e;
            centered: Graves, 2013; PyTorch's rule: ε added after the square root, b and ḡ start at 0)

Full-batch gradient descent is SGD(lr, momentum=0) stepped once per pass over the *whole* data set:
compute the loss on all samples (or sum the gradients of every minibatch before one ``step()``):

    opt = SGD(model.parameters(), lr=0.1)
    opt.zero_grad(); loss_fn(model(all_x), all_y).backward(); opt.step()

``state_dict()`` holds every buffer and step count; ``load_state_dict`` of it makes a resumed run
continue bit for bit.

Speed: when every parameter has a gradient, all share one dtype and backend and all have taken the
same number of steps (the usual case), ``step()`` updates all of them at once. The parameters' values
and their state buffers then live as views in one contiguous 1-D array each (``p.data`` is rebound to
a view of the optimizer's buffer the first time; the numbers do not change), the gradients are
copied into one flat array, and ``update`` runs once on the flat arrays — a few large in-place NumPy
passes instead of a dozen small ones per parameter. The numbers are the same, bit for bit, as
updating each parameter on its own (the same operations in the same order, element by element).
Otherwise ``step()`` updates each parameter separately with the same ``update``.

After ``Module.to(...)``/``double()``/``float()`` an optimizer built earlier still holds the same
Parameter objects and so steps their new arrays (the flat buffers are rebuilt: the arrays are no
longer their views); its state buffers are converted to each parameter's new dtype and backend at
the next step (:func:`follow_parameter`), as ``load_state_dict`` casts them. Building the optimizer
after moving the module, PyTorch's rule, is still the plain way.

Data parallelism: ``opt.reduce_gradients``, when set (``minigan.distributed.average_gradients(opt)`` sets
it to an all-reduce that averages over the ranks), is called once per ``step()`` on one 1-D array holding
every gradient end to end — the all-at-once path's own gradient buffer when it applies — before the
update; each ``p.grad`` is then the reduced gradient, a view of that array. Set it to None to stop.

On the CuPy backend, Adam and SGD instead update every parameter in one launch of the multi-tensor
kernels of ``kernels/optimizer.cu`` (the same operations in the same order; :mod:`minigan.cuda`),
unless the "optimizer" kernels are switched off (``minigan.cuda.kernels_disabled("optimizer")``).
Adagrad and RMSprop have no kernel: on CuPy they run the array code above (all at once when possible).
"""

import math

import numpy as np

from minigan import backends, cpu, cuda
from minigan.errors import BackendError, DTypeError, ShapeError
from minigan.profiler import record
from minigan.serialization import load_npz, save_npz
from minigan.tensor import Tensor


def follow_parameter(p, state):
    """Convert the buffers in ``state`` (not the step count) to ``p``'s dtype and backend where they
    differ, as ``load_state_dict`` casts them; True if any did. After ``Module.to``/``double()`` an
    optimizer built before keeps the same Parameter objects, and its state follows them this way."""
    changed = False
    for name, value in state.items():
        if name != "step" and (value.dtype != p.dtype or type(value) is not type(p.data)):
            state[name] = backends.to_backend(value, p.backend).astype(p.dtype)
            changed = True
    return changed


def _fused(param, *arrays):
    """Whether the fused CPU update (:mod:`minigan.cpu`, family "optimizer") takes these arrays: every one of
    the parameter's shape and dtype (a gradient that broadcasts, or of another dtype, takes the array
    code, which promotes and broadcasts as NumPy does), contiguous NumPy floats."""
    return (all(a is not None and a.shape == param.shape and a.dtype == param.dtype for a in arrays)
            and cpu.use_fused("optimizer", param, *arrays))


def _python_hyper(hyper, *scalars):
    """Whether the hyper-parameters are Python numbers (the plain update casts those to the array's dtype,
    as the kernels do; a NumPy scalar computes in its own) and the step's numbers are Python numbers or the
    static step's 1-element arrays."""
    return cpu.python_numbers(*hyper.values()) and all(
        cpu.python_numbers(v) or (isinstance(v, np.ndarray) and v.shape == (1,)) for v in scalars)


def gradient_array(p):
    """``p.grad`` as a backend array: after ``backward(create_graph=True)`` it is a tensor on the tape,
    and a step uses its values."""
    return p.grad.data if isinstance(p.grad, Tensor) else p.grad


class Optimizer:
    """Holds the parameters, the hyper-parameters and each parameter's state (buffers, step count)."""

    hyperparameters = ()

    def __init__(self, params, **hyper):
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        for name, value in hyper.items():
            if isinstance(value, (int, float)) and value < 0:
                raise ValueError(f"{type(self).__name__}: {name} must be non-negative, got {value}")
        self.hyper = hyper
        self.state = [dict() for _ in self.params]
        self._flat = None  # the flat buffers of the all-at-once path, built at its first use
        # A function that reduces the flat gradient (1-D, in place) before each update: set by
        # minigan.distributed.average_gradients to average it over the ranks with one all-reduce.
        self.reduce_gradients = None

    def zero_grad(self):
        """Set every parameter's ``.grad`` to None."""
        for p in self.params:
            p.grad = None

    def step(self):
        """Update every parameter that has a gradient (all at once when possible: module docstring)."""
        with record(type(self).__name__ + ".step"):  # a row of its own in minigan.profile()
            live = [i for i, p in enumerate(self.params) if p.grad is not None]
            kernel = bool(live) and self._has_kernel() and all(cuda.use_kernel("optimizer", self.params[i].data)
                                                               for i in live)
            if live and self.reduce_gradients is not None:
                self._reduce_gradients([self.params[i] for i in live], kernel)
            if kernel:
                states = [self.state[i] for i in live]
                steps = [s.get("step", 0) + 1 for s in states]
                self._kernel_step_following([self.params[i] for i in live], states, steps)
                for s, t in zip(states, steps):  # only once the launch succeeded: a retry after an error
                    s["step"] = t                 # must use the same bias correction
                return
            if self._can_step_flat():
                self._step_flat()
                return
            for p, state in zip(self.params, self.state):
                if p.grad is None:
                    continue
                g = gradient_array(p)
                if self.hyper.get("weight_decay"):
                    g = g + self.hyper["weight_decay"] * p.data
                state["step"] = state.get("step", 0) + 1
                follow_parameter(p, state)
                self.update(p.data, g, state, state["step"], p.xp.empty_like(p.data))

    def _reduce_gradients(self, live, kernel):
        """Gather the gradients of ``live`` end to end into one 1-D array, run ``reduce_gradients`` on it
        once, and make each ``p.grad`` the view of its part. When every parameter has a gradient and the
        all-at-once path will update (no ``kernel`` launch), the array is that path's own gradient
        buffer, which the update then reads without copying again."""
        xp = live[0].xp
        grads = [gradient_array(p).reshape(-1) for p in live]
        if not kernel and len(live) == len(self.params) and self._can_step_flat():
            flat = self._flat_buffers()
            buffer, views = flat["grad"], flat["grads"]
            xp.concatenate(grads, out=buffer)
        else:
            buffer = xp.concatenate(grads)
            views = self._views(buffer, live)
        self.reduce_gradients(buffer)
        for p, view in zip(live, views):
            p.grad = view

    def update(self, param, g, state, t, scratch):
        """Update the array ``param`` in place from its gradient ``g`` at step ``t`` (1-based), keeping
        buffers in the dict ``state``. ``scratch`` is an array like ``param`` free for temporaries."""
        self.apply_update(param, g, state, scratch, *self.step_scalars(t))

    def step_scalars(self, t):
        """The numbers of the update rule that change from step to step (the learning rate, Adam's bias
        corrections), for step ``t``: a tuple of floats, the arguments after ``scratch`` of
        :meth:`apply_update`."""
        return (self.hyper["lr"],)

    def apply_update(self, param, g, state, scratch, *scalars):
        """:meth:`update` with the step's numbers given: each a float, or a 1-element array of the
        parameter's dtype read when the update runs (the static training step keeps them in one array
        it rewrites each step, :mod:`minigan.gan.static_step`). In place, with no temporary array."""
        raise NotImplementedError

    def _kernel_step_following(self, params, states, steps):
        """``_kernel_step``; if the kernel refuses state buffers that a ``Module.to`` left on another
        dtype or backend, once more after moving them to each parameter's (the try costs nothing when
        it succeeds)."""
        try:
            self._kernel_step(params, states, steps)
        except (BackendError, DTypeError):
            if not any([follow_parameter(p, s) for p, s in zip(params, states)]):
                raise
            self._kernel_step(params, states, steps)

    def _has_kernel(self):
        return type(self)._kernel_step is not Optimizer._kernel_step

    def _kernel_step(self, params, states, steps):
        """Update ``params`` (CuPy, each with a gradient) in one kernel launch, ``steps`` being each one's
        new step count (stored by the caller once the launch succeeds); optimizers with a kernel in
        :mod:`minigan.cuda` override this."""
        raise NotImplementedError

    # ---------------------------------------------------------------- the all-at-once path
    def _can_step_flat(self):
        first = self.params[0]
        step = self.state[0].get("step", 0)
        return all(p.grad is not None and p.dtype == first.dtype and p.backend == first.backend
                   and s.get("step", 0) == step for p, s in zip(self.params, self.state))

    def _flat_is_current(self):
        """Every parameter's ``.data`` and state buffer is still the view of the flat arrays it was
        given (not replaced by the user, a backend move or a state load)."""
        flat = self._flat
        return flat is not None and all(p.data is view for p, view in zip(self.params, flat["params"])) and all(
            set(s) - {"step"} == set(flat["state_views"])
            and all(s[name] is views[i] for name, views in flat["state_views"].items())
            for i, s in enumerate(self.state))

    def _flat_buffers(self):
        """The flat arrays, rebuilt from the current values when they are no longer current."""
        if self._flat_is_current():
            return self._flat
        first = self.params[0]
        xp, dtype = first.xp, first.dtype
        names = set(self.state[0]) - {"step"}
        if any(set(s) - {"step"} != names for s in self.state):
            names = set()  # inconsistent states cannot share buffers: start them afresh
        total = sum(p.size for p in self.params)
        param = xp.concatenate([p.data.reshape(-1) for p in self.params]).astype(dtype, copy=False)
        state = {name: xp.concatenate([xp.asarray(backends.to_backend(s[name], first.backend), dtype=dtype).reshape(-1)
                                       for s in self.state])
                 for name in sorted(names)}
        grad = xp.empty(total, dtype=dtype)
        self._flat = {"param": param, "grad": grad, "scratch": xp.empty(total, dtype=dtype), "state": state,
                      "params": self._views(param), "grads": self._views(grad), "state_views": {}}
        for p, view in zip(self.params, self._flat["params"]):
            p.data = view
        self._share_new_state()
        return self._flat

    def _views(self, array, params=None):
        """``array`` (1-D) cut into views shaped like ``params`` (default: all of them), in order."""
        views, offset = [], 0
        for p in self.params if params is None else params:
            views.append(array[offset:offset + p.size].reshape(p.shape))
            offset += p.size
        return views

    def _share_new_state(self):
        """Point every parameter's entries of flat state arrays not shared yet (all of them after a
        rebuild, those ``update`` created at the first step) at views of them."""
        flat = self._flat
        for name, array in flat["state"].items():
            if name not in flat["state_views"]:
                flat["state_views"][name] = self._views(array)
                for s, view in zip(self.state, flat["state_views"][name]):
                    s[name] = view

    def _step_flat(self):
        flat = self._flat_buffers()
        xp, g = self.params[0].xp, flat["grad"]
        reduced = all(p.grad is view for p, view in zip(self.params, flat["grads"]))
        if not reduced:  # (reduced: _reduce_gradients left every gradient in place already)
            xp.concatenate([gradient_array(p).reshape(-1) for p in self.params], out=g)
        if self.hyper.get("weight_decay"):
            if reduced:  # the buffer is every p.grad: keep them the gradients, without the decay term
                g = g + self.hyper["weight_decay"] * flat["param"]
            else:
                g += self.hyper["weight_decay"] * flat["param"]
        t = self.state[0].get("step", 0) + 1
        self.update(flat["param"], g, flat["state"], t, flat["scratch"])
        self._share_new_state()  # buffers that update() created at the first step
        for s in self.state:
            s["step"] = t

    def state_dict(self):
        """``{"hyper": {...}, "state": [{name: array or number}, ...]}``, copies of everything."""
        return {
            "hyper": dict(self.hyper),
            "state": [{k: (v.copy() if hasattr(v, "copy") else v) for k, v in s.items()} for s in self.state],
        }

    def load_state_dict(self, state_dict):
        """Restore a :meth:`state_dict`. Everything is checked first (hyper-parameter names, number of
        states, shapes); on an error nothing changes."""
        name = type(self).__name__
        hyper = dict(state_dict.get("hyper", {}))
        if set(hyper) != set(self.hyper):
            raise ValueError(f"{name}.load_state_dict: hyper-parameters {sorted(hyper)} do not match this "
                             f"optimizer's {sorted(self.hyper)} (a state of another optimizer?)")
        states = state_dict.get("state", [])
        if len(states) != len(self.params):
            raise ShapeError(f"{name}.load_state_dict: {len(states)} parameter states for {len(self.params)} parameters")
        restored = []
        for i, (p, s) in enumerate(zip(self.params, states)):
            entry = {}
            for k, v in s.items():
                if k == "step":
                    entry[k] = int(v)
                    continue
                if tuple(getattr(v, "shape", ())) != p.shape:
                    raise ShapeError(f"{name}.load_state_dict: state {k!r} of parameter {i} has shape "
                                     f"{tuple(getattr(v, 'shape', ()))}, the parameter {p.shape}")
                host = v if hasattr(v, "shape") else np.asarray(v)
                entry[k] = backends.to_backend(host, p.backend).astype(p.dtype, copy=True)
            restored.append(entry)
        self.hyper = hyper
        self.state = restored

    def flat_state(self):
        """:meth:`state_dict` as ``{"hyper/lr": array, "state/0/exp_avg": array, ...}`` for ``.npz`` files."""
        flat = {f"hyper/{k}": np.asarray(v) for k, v in self.hyper.items()}
        for i, s in enumerate(self.state):
            for k, v in s.items():
                flat[f"state/{i}/{k}"] = v if hasattr(v, "shape") else np.asarray(v)
        return flat

    def load_flat_state(self, flat, source="state"):
        """Restore what :meth:`flat_state` gave (checked as in :meth:`load_state_dict`)."""
        hyper = {k.split("/", 1)[1]: v.item() for k, v in flat.items() if k.startswith("hyper/")}
        if not hyper:
            raise ValueError(f"{type(self).__name__}: {source} holds no optimizer state (no 'hyper/' entries)")
        states = [dict() for _ in self.params]  # parameters never stepped have an empty state
        for k, v in flat.items():
            if k.startswith("state/"):
                _, i, name = k.split("/", 2)
                if int(i) >= len(states):
                    raise ShapeError(f"{type(self).__name__}: {source} has a state for parameter {i}, "
                                     f"but the optimizer has {len(states)} parameters")
                states[int(i)][name] = v
        self.load_state_dict({"hyper": hyper, "state": states})

    def save(self, path):
        """Write the state to ``path`` (``.npz``), atomically."""
        save_npz(path, self.flat_state())

    def load(self, path):
        """Restore a file written by :meth:`save`."""
        self.load_flat_state(load_npz(path), source=str(path))

    @property
    def lr(self):
        return self.hyper["lr"]

    @lr.setter
    def lr(self, value):
        self.hyper["lr"] = value


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum and weight decay."""

    def __init__(self, params, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
        if nesterov and momentum <= 0:
            raise ValueError("SGD: nesterov=True needs momentum > 0")
        super().__init__(params, lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay)

    def apply_update(self, param, g, state, scratch, lr):
        xp = backends.array_module(param)
        momentum = self.hyper["momentum"]
        buffer = state.get("momentum_buffer")
        if (not momentum or buffer is not None) and _python_hyper(self.hyper, lr) and _fused(
                param, g, *([buffer] if momentum else [])):
            cpu.sgd_update(param, g, buffer if momentum else None, momentum, self.hyper["nesterov"], lr)
            return
        if momentum:
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = g.copy()
            else:
                state["momentum_buffer"] *= momentum
                state["momentum_buffer"] += g
            buffer = state["momentum_buffer"]
            if self.hyper["nesterov"]:
                scratch[...] = momentum * buffer
                scratch += g
                g = scratch
            else:
                g = buffer
        if g is scratch:
            scratch *= lr
        else:
            xp.multiply(g, lr, out=scratch)
        param -= scratch

    def _kernel_step(self, params, states, steps):
        h = self.hyper
        if h["momentum"]:
            for p, s in zip(params, states):  # a zero buffer: the kernel's first step sets it to g
                if "momentum_buffer" not in s:
                    s["momentum_buffer"] = p.xp.zeros_like(p.data)
        cuda.sgd_step([p.data for p in params], [gradient_array(p) for p in params],
                      [s["momentum_buffer"] for s in states] if h["momentum"] else None,
                      lr=h["lr"], momentum=h["momentum"], nesterov=h["nesterov"], weight_decay=h["weight_decay"])


class Adagrad(Optimizer):
    """Adagrad: per-coordinate learning rates lr / √(Σ g²)."""

    def __init__(self, params, lr=1e-2, eps=1e-10, weight_decay=0.0, initial_accumulator_value=0.0):
        super().__init__(params, lr=lr, eps=eps, weight_decay=weight_decay,
                         initial_accumulator_value=initial_accumulator_value)

    def apply_update(self, param, g, state, scratch, lr):
        xp = backends.array_module(param)
        if "sum" not in state:
            state["sum"] = xp.full(param.shape, self.hyper["initial_accumulator_value"], dtype=param.dtype)
        xp.multiply(g, g, out=scratch)
        state["sum"] += scratch
        xp.sqrt(state["sum"], out=scratch)        # lr · g / (√s + ε), in this order
        scratch += self.hyper["eps"]
        xp.divide(lr * g, scratch, out=scratch)
        param -= scratch


class Adam(Optimizer):
    """Adam with bias correction; ``amsgrad=True`` keeps the running maximum of v (Reddi et al., 2018)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False):
        beta1, beta2 = betas
        if not (0.0 <= beta1 < 1.0 and 0.0 <= beta2 < 1.0):
            raise ValueError(f"Adam: betas must be in [0, 1), got {betas}")
        super().__init__(params, lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad)

    def step_scalars(self, t):
        """(lr / (1 − β₁ᵗ), √(1 − β₂ᵗ)): the step size and the bias correction of √v."""
        h = self.hyper
        return h["lr"] / (1 - h["beta1"] ** t), math.sqrt(1 - h["beta2"] ** t)

    def apply_update(self, param, g, state, scratch, step_size, bias2_sqrt):
        h = self.hyper
        xp = backends.array_module(param)
        if "exp_avg" not in state:
            state["exp_avg"] = xp.zeros_like(param)
            state["exp_avg_sq"] = xp.zeros_like(param)
            if h["amsgrad"]:
                state["max_exp_avg_sq"] = xp.zeros_like(param)
        m, v = state["exp_avg"], state["exp_avg_sq"]
        max_v = state.get("max_exp_avg_sq")
        if _python_hyper(h, step_size, bias2_sqrt) and _fused(param, g, m, v, *([max_v] if h["amsgrad"] else [])):
            cpu.adam_update(param, g, m, v, max_v if h["amsgrad"] else None, h["beta1"], h["beta2"], h["eps"],
                            step_size, bias2_sqrt)
            return
        m *= h["beta1"]                                   # m ← β₁ m + (1 − β₁) g
        xp.multiply(g, 1 - h["beta1"], out=scratch)
        m += scratch
        v *= h["beta2"]                                   # v ← β₂ v + (1 − β₂) g²
        xp.multiply(g, g, out=scratch)
        scratch *= 1 - h["beta2"]
        v += scratch
        if h["amsgrad"]:
            xp.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
            v = state["max_exp_avg_sq"]
        xp.sqrt(v, out=scratch)                           # θ ← θ − (lr / bias1) · m / (√v / √bias2 + ε)
        scratch /= bias2_sqrt
        scratch += h["eps"]
        xp.divide(m, scratch, out=scratch)
        scratch *= step_size
        param -= scratch

    def _kernel_step(self, params, states, steps):
        h = self.hyper
        names = ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if h["amsgrad"] else ())
        for p, s in zip(params, states):
            for name in names:
                if name not in s:  # created once, not a zero array per parameter per step
                    s[name] = p.xp.zeros_like(p.data)
        cuda.adam_step([p.data for p in params], [gradient_array(p) for p in params], [s["exp_avg"] for s in states],
                       [s["exp_avg_sq"] for s in states], steps, lr=h["lr"],
                       beta1=h["beta1"], beta2=h["beta2"], eps=h["eps"], weight_decay=h["weight_decay"],
                       max_exp_avg_sqs=[s["max_exp_avg_sq"] for s in states] if h["amsgrad"] else None)


class RMSprop(Optimizer):
    """RMSprop with PyTorch's semantics and defaults (the update rule is in the module docstring).

    State per parameter: ``square_avg`` (s), ``grad_avg`` (ḡ, when ``centered``) and
    ``momentum_buffer`` (b, when ``momentum > 0``), all starting at zero, PyTorch's names.
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"RMSprop: alpha must be in [0, 1], got {alpha}")
        super().__init__(params, lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                         centered=centered)

    def apply_update(self, param, g, state, scratch, lr):
        h = self.hyper
        alpha, momentum = h["alpha"], h["momentum"]
        xp = backends.array_module(param)
        if "square_avg" not in state:
            state["square_avg"] = xp.zeros_like(param)
            if h["centered"]:
                state["grad_avg"] = xp.zeros_like(param)
            if momentum > 0:
                state["momentum_buffer"] = xp.zeros_like(param)
        square_avg = state["square_avg"]
        grad_avg, buffer = state.get("grad_avg"), state.get("momentum_buffer")
        optional = [a for a in (grad_avg, buffer) if a is not None]
        if _python_hyper(h, lr) and _fused(param, g, square_avg, *optional):
            cpu.rmsprop_update(param, g, square_avg, grad_avg if h["centered"] else None,
                               buffer if momentum > 0 else None, alpha, h["eps"], momentum, lr)
            return
        square_avg *= alpha                               # s ← α s + (1 − α) g²
        xp.multiply(g, g, out=scratch)
        scratch *= 1 - alpha
        square_avg += scratch
        if h["centered"]:
            grad_avg = state["grad_avg"]
            grad_avg *= alpha                             # ḡ ← α ḡ + (1 − α) g;  d = √(s − ḡ²) + ε
            xp.multiply(g, 1 - alpha, out=scratch)
            grad_avg += scratch
            xp.multiply(grad_avg, grad_avg, out=scratch)
            xp.subtract(square_avg, scratch, out=scratch)
            xp.sqrt(scratch, out=scratch)
        else:
            xp.sqrt(square_avg, out=scratch)              # d = √s + ε
        scratch += h["eps"]
        xp.divide(g, scratch, out=scratch)                # g / d
        if momentum > 0:
            buffer = state["momentum_buffer"]
            buffer *= momentum                            # b ← μ b + g / d;  θ ← θ − lr · b
            buffer += scratch
            xp.multiply(buffer, lr, out=scratch)
        else:
            scratch *= lr                                 # θ ← θ − lr · g / d
        param -= scratch
