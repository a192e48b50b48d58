"""Look at the tape: list and print the graph behind a tensor, before backward frees it."""

from minigan.autograd import topological_order


def nodes(root):
    """The tensors ``root`` was computed from (those needing gradients), inputs first, ``root`` last."""
    if not root.requires_grad:
        return [root]
    return topological_order(root)


def format_graph(root):
    """One line per tensor of the graph: number, op (or leaf name), shape, dtype and parents' numbers.

    >>> x = minigan.tensor([1.0, 2.0], requires_grad=True, name="x")
    >>> print(format_graph((x * x).sum()))
    %0 = leaf x           (2,)  float32
    %1 = mul(%0, %0)      (2,)  float32
    %2 = sum(%1)          ()    float32
    """
    order = nodes(root)
    number = {node: i for i, node in enumerate(order)}
    lines = []
    for node in order:
        if node.op is None:
            what = "leaf" + (f" {node.name}" if node.name else "")
        else:
            args = ", ".join(f"%{number[p]}" if p in number else "const" for p in node.parents)
            what = f"{node.op}({args})"
        lines.append(f"%{number[node]} = {what:<28} {str(node.shape):<14} {node.dtype}")
    return "\n".join(lines)
