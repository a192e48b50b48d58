"""The exceptions minigan raises.

Each one subclasses the built-in exception a Python user would expect (``ValueError`` for a bad shape,
``TypeError`` for a bad dtype, ``RuntimeError`` for a misused graph), so ``except ValueError`` keeps
working, while ``except minigan.MiniganError`` catches everything the library raises on purpose.
"""


class MiniganError(Exception):
    """Base class of every error minigan raises on purpose."""


class ShapeError(MiniganError, ValueError):
    """An op got operands whose shapes it cannot combine (the message names the op and the shapes)."""


class DTypeError(MiniganError, TypeError):
    """An op or a checker got a dtype it does not accept."""


class BackendError(MiniganError, ValueError):
    """Tensors of different backends met in one op, or an unknown backend name was asked for."""


class BackendUnavailableError(MiniganError, RuntimeError):
    """The CuPy backend was asked for, but CuPy is not installed or no usable CUDA GPU was found."""


class DistributedError(MiniganError, RuntimeError):
    """A data-parallel run cannot go on: MPI is missing or there is one rank, ranks disagree on their
    configuration or code, another rank failed, or a collective waited past its time limit."""


class GraphError(MiniganError, RuntimeError):
    """The autograd graph was used in a way that cannot give a right answer (freed graph, non-scalar root)."""


class GradcheckError(MiniganError, AssertionError):
    """``minigan.gradcheck`` found an analytic gradient that disagrees with finite differences.

    ``str(error)`` is the full report; ``error.report`` is the :class:`~minigan.gradient_check.GradcheckReport`.
    """

    def __init__(self, message, report=None):
        super().__init__(message)
        self.report = report


class AnomalyError(MiniganError, FloatingPointError):
    """Anomaly mode (:func:`minigan.detect_anomaly`) met a NaN or an infinity.

    The message names the op, the pass (``"forward"`` or ``"backward"``), the shapes, a few offending
    values and where the op was made. The same facts are attributes: ``op``, ``phase``, ``index`` (the
    input whose gradient went wrong, in backward; None in forward) and ``trace`` (the op's creation
    stack, a list of ``(filename, line, function)``, innermost last).
    """

    def __init__(self, message, op=None, phase=None, index=None, trace=None):
        super().__init__(message)
        self.op = op
        self.phase = phase
        self.index = index
        self.trace = trace or []


class GraphvizError(MiniganError, RuntimeError):
    """``draw_graph`` was asked for Graphviz but its ``dot`` program is not on PATH, or ``dot`` failed."""
