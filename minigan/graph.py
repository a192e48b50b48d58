"""Look at the tape: list, print and describe as Graphviz DOT text the graph behind a tensor.

:func:`format_graph` prints one line per vertex; :func:`to_dot` writes the same graph for Graphviz, and
:func:`minigan.graph_picture.draw_graph` draws it into a PNG, SVG or PDF file. Both pictures are built
from :func:`vertices_and_edges`, so they show the same boxes with the same labels and styles:

- an op's output: a rounded box, ``%7 linear`` (or ``%7 h = linear`` while its tensor is alive and
  named), then its shape and dtype — the ``%`` numbers are :func:`format_graph`'s;
- a leaf: an oval with its name (or ``leaf``), shape, dtype and ``requires grad``; a leaf that needs no
  gradient (only a root can be one: edges to such inputs are not kept) is drawn as a constant;
- an input that needs no gradient: a small dashed ``const`` box, one per edge (the node keeps no edge
  to it, so there is no tensor to show);
- a node freed by ``backward()`` (its backward function and saved values dropped, unless
  ``retain_graph``): still drawn with its edges, which backward keeps, but dashed and grey with the
  word ``freed`` — the shape of the computation is known, backpropagating through it again is not
  possible;
- the root: a double red outline.
"""

import re
from collections import namedtuple

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


Vertex = namedtuple("Vertex", "key lines kind root")
Vertex.__doc__ = """One box of a graph picture: ``key`` (``v7`` for ``%7``; ``c0``, ``c1`` … for constant
inputs), ``lines`` (the label, one string per line), ``kind`` (a key of :data:`STYLES`) and ``root``
(True for the root's own vertex)."""

Edge = namedtuple("Edge", "source target index constant")
Edge.__doc__ = """One input of an op: from vertex key ``source`` to vertex key ``target``, the op's input
number ``index`` (0 for the first); ``constant`` is True for an input that needs no gradient."""

# Per kind of vertex: outline shape, fill, outline and text colours, dashed or not. Shared by the
# Graphviz and matplotlib pictures. "constant" is a leaf that needs no gradient, "const" an input
# without an edge.
STYLES = {
    "op": {"shape": "box", "fill": "#e8f0fe", "line": "#5f6368", "text": "#202124", "dashed": False},
    "freed": {"shape": "box", "fill": "#f1f3f4", "line": "#9aa0a6", "text": "#5f6368", "dashed": True},
    "leaf": {"shape": "oval", "fill": "#fef7e0", "line": "#5f6368", "text": "#202124", "dashed": False},
    "constant": {"shape": "oval", "fill": "#ffffff", "line": "#9aa0a6", "text": "#5f6368", "dashed": True},
    "const": {"shape": "square", "fill": "#ffffff", "line": "#9aa0a6", "text": "#5f6368", "dashed": True},
}
ROOT_COLOR = "#b3261e"
EDGE_COLOR = "#5f6368"
CONST_EDGE_COLOR = "#9aa0a6"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DOT_SHAPES = {"box": ("box", ["rounded"]), "oval": ("ellipse", []), "square": ("box", [])}


def clip_label(text, max_label):
    """``text`` on one line (control characters become spaces), at most ``max_label`` characters."""
    text = _CONTROL.sub(" ", str(text))
    return text if len(text) <= max_label else text[:max_label - 1] + "…"


def vertices_and_edges(root, max_label=40):
    """The graph behind ``root`` as ([:class:`Vertex`], [:class:`Edge`]), vertices in topological order.

    Vertex ``v{i}`` is :func:`nodes`'s i-th entry (``%i`` in :func:`format_graph`); each input that
    needs no gradient gets a ``const`` vertex of its own, ``c{k}``, listed just before the op it feeds.
    One edge per input of every op: an input used twice (``x * x``) gives two edges. No label line is
    longer than ``max_label`` characters (longer names are cut with "…").
    """
    if max_label < 2:
        raise ValueError(f"max_label must be at least 2 characters, got {max_label}")
    order = nodes(root)
    key = {vertex: f"v{i}" for i, vertex in enumerate(order)}
    vertices, edges = [], []
    constants = 0
    for i, vertex in enumerate(order):
        name = vertex.name
        if vertex.is_leaf:
            kind = "leaf" if vertex.requires_grad else "constant"
            lines = [f"%{i} {name or 'leaf'}", f"{vertex.shape} {vertex.dtype}",
                     "requires grad" if vertex.requires_grad else "no grad"]
        else:
            kind = "op" if vertex.backward is not None else "freed"
            lines = [f"%{i} {name} = {vertex.op}" if name else f"%{i} {vertex.op}", f"{vertex.shape} {vertex.dtype}"]
            if kind == "freed":
                lines.append("freed")
            for index, parent in enumerate(vertex.parents):
                if parent is None:
                    const = f"c{constants}"
                    constants += 1
                    vertices.append(Vertex(const, ("const",), "const", False))
                    edges.append(Edge(const, key[vertex], index, True))
                else:
                    edges.append(Edge(key[parent], key[vertex], index, False))
        lines = tuple(clip_label(line, max_label) for line in lines)
        vertices.append(Vertex(key[vertex], lines, kind, i == len(order) - 1))
    return vertices, edges


def _dot_string(*lines):
    r"""A DOT double-quoted string of ``lines``, joined by DOT's line break ``\n``, that Graphviz shows
    as written: backslashes and quotes escaped, and ``&`` as ``&amp;`` (Graphviz reads ``&lt;`` and
    its kin as characters even outside HTML-like labels). ``<`` and ``>`` stay as they are: they are
    special only in HTML-like ``<…>`` labels and record shapes, which these graphs do not use."""
    escaped = (line.replace("\\", "\\\\").replace('"', '\\"').replace("&", "&amp;") for line in lines)
    return '"' + "\\n".join(escaped) + '"'


def _dot_attributes(attributes):
    return ", ".join(f"{name}={value}" for name, value in attributes.items())


def to_dot(root, rankdir="TB", max_label=40, title=None):
    r"""Graphviz DOT text of the graph behind ``root``; ``dot -Tsvg`` draws it.

    One vertex per op node and per leaf, labelled and styled as the module docstring says; one
    ``const`` vertex per input that needs no gradient; one edge per input, labelled with the input's
    number where an op has several; the root outlined twice in red. ``rankdir`` "TB" puts the inputs
    at the top, "LR" on the left; ``title`` (optional) is written above the graph; no label line is
    longer than ``max_label`` characters. Labels are DOT strings that Graphviz shows as written:
    quotes, backslashes and ``&`` escaped, ``<`` and ``>`` literal. A tensor that needs no gradient
    gives a one-vertex graph; a gradient returned by ``minigan.grad(..., create_graph=True)`` gives
    the backward pass as ops.

    >>> x = minigan.tensor([1.0, 2.0], requires_grad=True, name="x")
    >>> print(to_dot(x * x))
    digraph minigan {
      graph [rankdir=TB, nodesep=0.25, ranksep=0.35, fontname="Helvetica"];
      node [fontname="Helvetica", fontsize=10, margin="0.12,0.04"];
      edge [color="#5f6368", arrowsize=0.6, fontname="Helvetica", fontsize=8, fontcolor="#80868b"];
      v0 [label="%0 x\n(2,) float32\nrequires grad", shape=ellipse, style="filled", …];
      v1 [label="%1 mul\n(2,) float32", shape=box, style="rounded,filled", …, peripheries=2, penwidth=2];
      v0 -> v1 [headlabel="0"];
      v0 -> v1 [headlabel="1"];
    }
    """
    if rankdir not in ("TB", "LR"):
        raise ValueError(f"to_dot: rankdir must be 'TB' (inputs at the top) or 'LR' (inputs on the left), "
                         f"got {rankdir!r}")
    vertices, edges = vertices_and_edges(root, max_label)
    label = f", label={_dot_string(clip_label(title, 4 * max_label))}, labelloc=t" if title else ""
    lines = ["digraph minigan {",
             f'  graph [rankdir={rankdir}, nodesep=0.25, ranksep=0.35, fontname="Helvetica"{label}];',
             '  node [fontname="Helvetica", fontsize=10, margin="0.12,0.04"];',
             f'  edge [color="{EDGE_COLOR}", arrowsize=0.6, fontname="Helvetica", fontsize=8, fontcolor="#80868b"];']
    for vertex in vertices:
        style = STYLES[vertex.kind]
        shape, styles = _DOT_SHAPES[style["shape"]]
        styles = styles + ["filled"] + (["dashed"] if style["dashed"] else [])
        attributes = {"label": _dot_string(*vertex.lines), "shape": shape,
                      "style": f'"{",".join(styles)}"', "fillcolor": f'"{style["fill"]}"',
                      "color": f'"{ROOT_COLOR if vertex.root else style["line"]}"', "fontcolor": f'"{style["text"]}"'}
        if vertex.kind == "const":
            attributes.update(fontsize=8, width=0.4, height=0.25)
        if vertex.root:
            attributes.update(peripheries=2, penwidth=2)
        lines.append(f"  {vertex.key} [{_dot_attributes(attributes)}];")
    inputs = {}
    for edge in edges:
        inputs[edge.target] = inputs.get(edge.target, 0) + 1
    for edge in edges:
        attributes = {}
        if inputs[edge.target] > 1:
            attributes["headlabel"] = f'"{edge.index}"'
        if edge.constant:
            attributes.update(style="dashed", color=f'"{CONST_EDGE_COLOR}"')
        suffix = f" [{_dot_attributes(attributes)}]" if attributes else ""
        lines.append(f"  {edge.source} -> {edge.target}{suffix};")
    lines.append("}")
    return "\n".join(lines) + "\n"
