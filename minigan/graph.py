"""Look at the tape: list and print the graph behind a tensor, before backward frees it."""

from minigan.autograd import topological_order


def nodes(root):
    """The graph behind ``root``, inputs first and ``root``'s own vertex last.

    Each entry is a :class:`~minigan.autograd.Node` (an op's output: ``.op``, ``.shape``, ``.dtype``,
    ``.parents``) or a leaf tensor. A tensor that needs no gradient is its own one-entry graph.
    """
    if not root.requires_grad:
        return [root]
    return topological_order(root)


def format_graph(root):
    """One line per vertex of the graph: number, op (or leaf name), shape, dtype and parents' numbers.

    >>> x = minigan.tensor([1.0, 2.0], requires_grad=True, name="x")
    >>> print(format_graph((x * x).sum()))
    %0 = leaf x           (2,)  float32
    %1 = mul(%0, %0)      (2,)  float32
    %2 = sum(%1)          ()    float32

    An input that needs no gradient shows as ``const``. The gradient tensors that
    ``backward(create_graph=True)`` or ``minigan.grad(..., create_graph=True)`` return have graphs of
    their own: print one to see the backward pass as ops.
    """
    order = nodes(root)
    number = {vertex: i for i, vertex in enumerate(order)}
    lines = []
    for vertex in order:
        if vertex.is_leaf:
            what = "leaf" + (f" {vertex.name}" if vertex.name else "")
        else:
            args = ", ".join(f"%{number[p]}" if p in number else "const" for p in vertex.parents)
            what = f"{vertex.op}({args})"
        lines.append(f"%{number[vertex]} = {what:<28} {str(vertex.shape):<14} {vertex.dtype}")
    return "\n".join(lines)
