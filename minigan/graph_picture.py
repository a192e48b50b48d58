"""Pictures of the tape: :func:`draw_graph` writes the graph behind a tensor to a PNG, SVG or PDF file.

Two engines draw the same picture — the vertices, labels, styles and edges of
:func:`minigan.graph.vertices_and_edges` (see :mod:`minigan.graph` for what each box means):

- **Graphviz**, when its ``dot`` program is on PATH: :func:`minigan.graph.to_dot`'s text is piped to
  ``dot -T<format>``, which lays the graph out (and draws edges around boxes, not through them).
- **matplotlib**, which minigan depends on anyway, so that a picture can be drawn on a fresh machine.
  A layered layout: an op's layer is its depth, 1 + the largest layer of its inputs; a leaf or a
  constant input sits one layer above the first op that reads it (not at the very top, which would
  stretch the edges of a deep graph's weights across the whole picture). Inside a layer the boxes are
  ordered by a few sweeps of the barycentre rule (each box under the mean position of its inputs,
  then over the mean position of its consumers), which removes most edge crossings, then moved, in
  that order, as near as the boxes beside it allow to the mean position of its neighbours. An edge
  that skips layers takes a narrow place of its own in every layer it crosses and bends there, so
  that it runs between boxes rather than through them; an op's inputs arrive left to right (top to
  bottom) in argument order. The figure grows with the graph (an inch or so per box), labels are cut
  at ``max_label`` characters, and for a raster format the resolution is lowered where a huge graph
  would pass 25 megapixels.

``engine="auto"`` takes Graphviz when ``dot`` is found and matplotlib otherwise. The file is written
atomically (:func:`minigan.serialization.atomic_write_bytes`): a failed drawing leaves the old file, or
none, never half of one.
"""

import io
import os
import shutil
import subprocess

from minigan.errors import GraphvizError
from minigan.graph import CONST_EDGE_COLOR, EDGE_COLOR, ROOT_COLOR, STYLES, clip_label, to_dot, vertices_and_edges
from minigan.serialization import atomic_write_bytes

FORMATS = ("png", "svg", "pdf")
ENGINES = ("auto", "graphviz", "matplotlib")

# The matplotlib layout, in inches (the axes span the figure with one data unit per inch).
FONT_SIZE = 8                 # points
CHAR_WIDTH = 0.068            # an average DejaVu Sans character at FONT_SIZE, a little generous
LINE_HEIGHT = FONT_SIZE * 1.25 / 72
PAD = 0.07                    # between a label and its box
GAP_ACROSS = 0.25             # between neighbouring boxes of a layer
GAP_ALONG = 0.42              # between layers, where the arrows run
MARGIN = 0.2
ROOT_GAP = 0.045              # between the root's two outlines
BEND_SLOT = 0.14              # the room a long edge takes where it crosses a layer
ARROW_LENGTH, ARROW_WIDTH = 0.07, 0.055
MAX_PIXELS, MAX_SIDE_PIXELS = 25e6, 30000
SWEEPS = 4


def draw_graph(root, path, engine="auto", rankdir="TB", max_label=28, title=None, dpi=100):
    """Draw the graph behind ``root`` into ``path`` (``.png``, ``.svg`` or ``.pdf``); returns the path.

    ``engine`` "auto" (Graphviz if ``dot`` is on PATH, else matplotlib), "graphviz" or "matplotlib";
    ``rankdir`` "TB" puts the inputs at the top, "LR" on the left; no label line is longer than
    ``max_label`` characters; ``title`` (optional) is written above the graph; ``dpi`` is the
    matplotlib engine's resolution for PNG (Graphviz uses its own, 96). Works on any tensor: one that
    needs no gradient is a one-vertex picture, the gradient from ``minigan.grad(...,
    create_graph=True)`` shows the backward pass as ops, and a graph already freed by ``backward()``
    is drawn with its freed nodes marked.

    >>> minigan.draw_graph(loss, "graph.png")        # the tape behind loss, before loss.backward()
    'graph.png'
    """
    fmt = _format_of(path)
    if engine not in ENGINES:
        raise ValueError(f"draw_graph: engine must be one of {ENGINES}, got {engine!r}")
    if rankdir not in ("TB", "LR"):
        raise ValueError(f"draw_graph: rankdir must be 'TB' (inputs at the top) or 'LR' (inputs on the left), "
                         f"got {rankdir!r}")
    dot = shutil.which("dot") if engine != "matplotlib" else None
    if engine == "graphviz" and dot is None:
        raise GraphvizError(
            "draw_graph(engine='graphviz'): Graphviz's dot program is not on PATH. Install Graphviz "
            "(apt install graphviz, brew install graphviz, conda install graphviz) or pass "
            "engine='matplotlib' (engine='auto' falls back to matplotlib by itself)"
        )
    if dot is not None:
        picture = _graphviz(dot, to_dot(root, rankdir=rankdir, max_label=max_label, title=title), fmt)
    else:
        picture = _matplotlib(root, fmt, rankdir, max_label, title, dpi)
    atomic_write_bytes(path, lambda f: f.write(picture))
    return os.fspath(path)


def _format_of(path):
    fmt = os.path.splitext(os.fspath(path))[1].lower().lstrip(".")
    if fmt not in FORMATS:
        raise ValueError(f"draw_graph: cannot tell the picture's format from {os.fspath(path)!r}: "
                         f"name the file .png, .svg or .pdf")
    return fmt


def _graphviz(dot, text, fmt):
    """The bytes ``dot -T<fmt>`` makes of the DOT ``text``."""
    try:
        result = subprocess.run([dot, f"-T{fmt}"], input=text.encode("utf-8"), capture_output=True)
    except OSError as exc:
        raise GraphvizError(f"draw_graph: could not run Graphviz's dot ({dot}): {exc}") from exc
    if result.returncode != 0 or not result.stdout:
        message = result.stderr.decode("utf-8", "replace").strip() or "no output"
        raise GraphvizError(f"draw_graph: Graphviz's dot ({dot}) failed with exit status {result.returncode}: "
                            f"{message}")
    return result.stdout


# ------------------------------------------------------------------------------- the matplotlib engine

def _layout(vertices, edges, slot):
    """The layered layout of the module docstring: ({key: (layer, across)}, [bends of each edge]).

    ``across`` is a box's centre across the layers, in inches; ``slot`` the room a box takes there.
    An edge that skips layers bends at one point in each layer it crosses (a place of
    :data:`BEND_SLOT` inches, ordered with the boxes, so that long edges pass between boxes, not
    through them); its bends are (layer, across) pairs, from the input towards its consumer.
    """
    inputs = {v.key: [] for v in vertices}
    consumers = {v.key: [] for v in vertices}
    for edge in edges:
        inputs[edge.target].append(edge.source)
        consumers[edge.source].append(edge.target)
    depth = {}
    for vertex in vertices:  # topological: every input's depth is known before its consumer's
        depth[vertex.key] = 1 + max((depth[k] for k in inputs[vertex.key]), default=-1)
    layer = {key: (d if inputs[key] else min((depth[c] for c in consumers[key]), default=1) - 1)
             for key, d in depth.items()}
    rows = [[] for _ in range(max(layer.values()) + 1)]
    for vertex in vertices:
        rows[layer[vertex.key]].append(vertex.key)
    # The graph with a bend point in every skipped layer: every edge then joins neighbouring layers.
    # Neighbours are (key, nudge) pairs: an op's inputs are pulled a little towards the side of the op
    # where they arrive (argument order), which decides between inputs that would otherwise tie.
    up = {key: [] for key in layer}
    down = {key: [] for key in layer}
    width = dict.fromkeys(layer, slot)
    count = {key: len(keys) for key, keys in inputs.items()}
    bends = []
    for e, edge in enumerate(edges):
        chain = [edge.source]
        for k in range(layer[edge.source] + 1, layer[edge.target]):
            bend = ("bend", e, k)
            rows[k].append(bend)
            up[bend], down[bend], width[bend] = [], [], BEND_SLOT
            chain.append(bend)
        chain.append(edge.target)
        for a, b in zip(chain, chain[1:]):
            nudge = 0.01 * (edge.index - (count[edge.target] - 1) / 2) if b == edge.target else 0.0
            down[a].append((b, nudge))
            up[b].append((a, 0.0))
        bends.append(chain[1:-1])
    across = {}

    def place(row):
        left = -sum(width[key] for key in row) / 2
        for key in row:
            across[key] = left + width[key] / 2
            left += width[key]

    for row in rows:
        place(row)
    for _ in range(SWEEPS):  # the order inside each layer
        for neighbours, sweep in ((up, rows[1:]), (down, rows[-2::-1])):
            for row in sweep:
                row.sort(key=lambda key: _barycentre(across, neighbours[key], across[key]))
                place(row)
    both = {key: up[key] + down[key] for key in up}
    for _ in range(SWEEPS):  # then the positions, the order kept
        for neighbours, sweep in ((up, rows[1:]), (down, rows[-2::-1]), (both, rows), (both, rows[::-1])):
            for row in sweep:
                _move_toward(row, [_barycentre(across, neighbours[key], across[key]) for key in row], width, across)
    where = {key: (layer[key], across[key]) for key in layer}
    return where, [[(bend[2], across[bend]) for bend in chain] for chain in bends]


def _move_toward(row, wanted, width, across):
    """Put the boxes of ``row`` as near their ``wanted`` positions as their order and widths allow.

    Pushing every box right of its left neighbour, and separately left of its right neighbour, gives
    two placements that keep boxes apart; so does their mean, which is used (it does not favour a side).
    """
    n = len(row)
    right, left = list(wanted), list(wanted)
    for i in range(1, n):
        right[i] = max(right[i], right[i - 1] + (width[row[i - 1]] + width[row[i]]) / 2)
    for i in range(n - 2, -1, -1):
        left[i] = min(left[i], left[i + 1] - (width[row[i]] + width[row[i + 1]]) / 2)
    for key, a, b in zip(row, right, left):
        across[key] = (a + b) / 2


def _barycentre(across, neighbours, own):
    if not neighbours:
        return own
    return sum(across[k] + nudge for k, nudge in neighbours) / len(neighbours)


def _boxstyle(shape, height):
    """Graphviz's shapes in matplotlib: a rounded box, an oval (a box with half-round ends), a box."""
    return {"box": "round,pad=0,rounding_size=0.06", "oval": f"round,pad=0,rounding_size={height / 2}",
            "square": "square,pad=0"}[shape]


def _matplotlib(root, fmt, rankdir, max_label, title, dpi):
    """The picture's bytes, drawn with matplotlib's object interface (no pyplot, no global backend)."""
    from matplotlib.collections import LineCollection, PatchCollection, PolyCollection
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyBboxPatch

    vertices, edges = vertices_and_edges(root, max_label)
    size = {v.key: (max(len(line) for line in v.lines) * CHAR_WIDTH + 2 * PAD, len(v.lines) * LINE_HEIGHT + 2 * PAD)
            for v in vertices}
    box_width = max(w for w, _ in size.values())
    box_height = max(h for _, h in size.values())
    if rankdir == "TB":
        pitch, slot = box_height + GAP_ALONG, box_width + GAP_ACROSS
    else:
        pitch, slot = box_width + GAP_ALONG, box_height + GAP_ACROSS
    where, bends = _layout(vertices, edges, slot)
    layers = 1 + max(layer for layer, _ in where.values())
    low = min(across for _, across in where.values()) - slot / 2
    high = max(across for _, across in where.values()) + slot / 2
    top = 0.4 if title else 0.0
    along, across = 2 * MARGIN + layers * pitch, 2 * MARGIN + high - low
    width, height = (across, along + top) if rankdir == "TB" else (along, across + top)

    def point(layer, offset):
        """Figure coordinates (inches) of a layer and an offset across it."""
        if rankdir == "TB":
            return MARGIN + offset - low, height - top - MARGIN - (layer + 0.5) * pitch
        return MARGIN + (layer + 0.5) * pitch, height - top - MARGIN - (offset - low)

    fig = Figure(figsize=(width, height))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.axis("off")
    patches = []
    for vertex in vertices:
        style = STYLES[vertex.kind]
        (x, y), (w, h) = point(*where[vertex.key]), size[vertex.key]
        outline = ROOT_COLOR if vertex.root else style["line"]
        patches.append(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle=_boxstyle(style["shape"], h),
                                      facecolor=style["fill"], edgecolor=outline, linewidth=1.4 if vertex.root else 0.8,
                                      linestyle="--" if style["dashed"] else "-"))
        if vertex.root:  # a second outline around the first, as Graphviz's peripheries=2
            w, h = w + 2 * ROOT_GAP, h + 2 * ROOT_GAP
            patches.append(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle=_boxstyle(style["shape"], h),
                                          facecolor="none", edgecolor=ROOT_COLOR, linewidth=1.4))
        ax.text(x, y, "\n".join(vertex.lines), ha="center", va="center", multialignment="center",
                fontsize=FONT_SIZE, color=style["text"], zorder=3)
    ax.add_collection(PatchCollection(patches, match_original=True, zorder=2))
    lines, heads, colours, styles = _arrows(vertices, edges, bends, where, point, size, rankdir)
    ax.add_collection(LineCollection(lines, colors=colours, linestyles=styles, linewidths=0.8, zorder=1))
    ax.add_collection(PolyCollection(heads, facecolors=colours, edgecolors="none", zorder=1))
    if title:
        ax.text(width / 2, height - MARGIN - top / 2, clip_label(title, 4 * max_label), ha="center",
                va="center", fontsize=FONT_SIZE + 2)
    if fmt == "png":
        dpi = min(dpi, MAX_SIDE_PIXELS / max(width, height), (MAX_PIXELS / (width * height)) ** 0.5)
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, dpi=dpi, facecolor="white")
    return buffer.getvalue()


def _arrows(vertices, edges, bends, where, point, size, rankdir):
    """Polylines, arrowhead triangles, colours and line styles of the edges: from the middle of the
    input's far side, through the edge's bends, to the consumer's near side, where an op's inputs
    arrive spread out in argument order."""
    count = {}
    for edge in edges:
        count[edge.target] = count.get(edge.target, 0) + 1
    root = {v.key for v in vertices if v.root}
    lines, heads, colours, styles = [], [], [], []
    for edge, bend in zip(edges, bends):
        (x0, y0), (w0, h0) = point(*where[edge.source]), size[edge.source]
        (x1, y1), (w1, h1) = point(*where[edge.target]), size[edge.target]
        if edge.target in root:
            w1, h1 = w1 + 2 * ROOT_GAP, h1 + 2 * ROOT_GAP
        n = count[edge.target]
        spread = (edge.index - (n - 1) / 2) * min(0.15, 0.8 * (w1 if rankdir == "TB" else h1) / n) if n > 1 else 0.0
        if rankdir == "TB":
            start, end = (x0, y0 - h0 / 2), (x1 + spread, y1 + h1 / 2)
        else:
            start, end = (x0 + w0 / 2, y0), (x1 - w1 / 2, y1 - spread)
        path = [start] + [point(*b) for b in bend]
        dx, dy = end[0] - path[-1][0], end[1] - path[-1][1]
        length = max((dx * dx + dy * dy) ** 0.5, 1e-9)
        ux, uy = dx / length, dy / length
        base = (end[0] - ARROW_LENGTH * ux, end[1] - ARROW_LENGTH * uy)
        side = (-uy * ARROW_WIDTH / 2, ux * ARROW_WIDTH / 2)
        lines.append(path + [base])
        heads.append((end, (base[0] + side[0], base[1] + side[1]), (base[0] - side[0], base[1] - side[1])))
        colours.append(CONST_EDGE_COLOR if edge.constant else EDGE_COLOR)
        styles.append("--" if edge.constant else "-")
    return lines, heads, colours, styles
