"""Graph pictures: ``minigan.to_dot`` (Graphviz DOT text of the tape) and ``minigan.draw_graph`` (a PNG, SVG
or PDF file, drawn by Graphviz's ``dot`` when it is on PATH and by matplotlib otherwise).

Graphviz is not needed: its engine is tested with a fake ``dot`` (a script put first on PATH that records
its arguments and input and prints a made-up picture).
"""

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time

import numpy as np
import pytest

import minigan
from minigan import graph_picture
from minigan.graph import vertices_and_edges
from minigan.graph_picture import GraphvizError

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
STRING = r'"(?:[^"\\]|\\.)*"'
ATTRIBUTE = re.compile(rf'(\w+)=({STRING}|[^,\]\s]+)')
VERTEX = re.compile(r'^  (\w+) \[(.*)\];$')
EDGE = re.compile(r'^  (\w+) -> (\w+)(?: \[(.*)\])?;$')


def parse_dot(text):
    """({key: {attribute: value}}, [(source, target, {attribute: value})]) of to_dot's text; fails on any
    line that is not a vertex, an edge or one of the fixed header lines (a quote left open breaks it)."""
    lines = text.splitlines()
    assert lines[0] == "digraph minigan {" and lines[-1] == "}"
    assert [line.split(" [")[0] for line in lines[1:4]] == ["  graph", "  node", "  edge"]
    vertices, edges = {}, []
    for line in lines[4:-1]:
        edge = EDGE.match(line)
        if edge:
            edges.append((edge[1], edge[2], attributes(edge[3] or "")))
            continue
        vertex = VERTEX.match(line)
        assert vertex, f"not a vertex or an edge: {line!r}"
        vertices[vertex[1]] = attributes(vertex[2])
    return vertices, edges


def attributes(text):
    found = dict(ATTRIBUTE.findall(text))
    assert ", ".join(f"{k}={v}" for k, v in found.items()) == text, f"unparsed attributes in {text!r}"
    return found


def unquote(value):
    """The text Graphviz shows for a DOT string: quotes and backslashes unescaped, ``\\n`` a line break,
    ``&amp;`` an ampersand."""
    assert value[0] == value[-1] == '"'
    return re.sub(r"\\(.)", lambda m: "\n" if m[1] == "n" else m[1], value[1:-1]).replace("&amp;", "&")


def label(vertex):
    return unquote(vertex["label"]).split("\n")


def leaf(values, name, requires_grad=True):
    return minigan.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad, dtype="float64",
                          name=name)


# ------------------------------------------------------------------------------------------ to_dot

def test_to_dot_has_a_vertex_per_op_and_leaf_with_name_op_shape_and_dtype(backend_name):
    x = leaf([[1.0, 2.0]], "x")
    w = leaf(np.ones((2, 3)), "w")
    vertices, edges = parse_dot(minigan.to_dot(minigan.tanh(x @ w).sum()))
    assert {key: label(v) for key, v in vertices.items()} == {
        "v0": ["%0 w", "(2, 3) float64", "requires grad"],
        "v1": ["%1 x", "(1, 2) float64", "requires grad"],
        "v2": ["%2 matmul", "(1, 3) float64"],
        "v3": ["%3 tanh", "(1, 3) float64"],
        "v4": ["%4 sum", "() float64"],
    }
    assert [(source, target) for source, target, _ in edges] == [("v1", "v2"), ("v0", "v2"), ("v2", "v3"), ("v3", "v4")]


def test_to_dot_numbers_vertices_as_format_graph_does():
    x = leaf([1.0, 2.0], "x")
    y = leaf([3.0, 4.0], "y")
    root = (minigan.exp(x) * y - x).sum()
    vertices, _ = parse_dot(minigan.to_dot(root))
    listing = minigan.format_graph(root).splitlines()
    assert sorted(vertices) == [f"v{i}" for i in range(len(listing))]
    for key, vertex in vertices.items():
        number, what = label(vertex)[0].split(" ", 1)
        assert number == "%" + key[1:]
        assert re.match(rf"{number} = (leaf )?{what}\b", listing[int(key[1:])])


def test_to_dot_draws_one_edge_per_input_numbered_where_an_op_has_several():
    x = leaf([1.0, 2.0], "x")
    _, edges = parse_dot(minigan.to_dot((x * x).sum()))
    assert edges == [("v0", "v1", {"headlabel": '"0"'}), ("v0", "v1", {"headlabel": '"1"'}), ("v1", "v2", {})]


def test_to_dot_shows_an_input_without_gradient_as_a_dashed_const_vertex_per_edge():
    x = leaf([1.0, 2.0], "x")
    c = leaf([5.0, 6.0], "c", requires_grad=False)
    vertices, edges = parse_dot(minigan.to_dot((x * c + c * x * 2.0).sum()))
    constants = [key for key, v in vertices.items() if label(v) == ["const"]]
    assert constants == ["c0", "c1", "c2"]  # c twice and 2.0: one per edge, no tensor named c is shown
    assert not any("c" in label(v)[0].split() for v in vertices.values())
    for key in constants:
        assert "dashed" in unquote(vertices[key]["style"])
        (edge,) = [e for e in edges if e[0] == key]
        assert edge[2]["style"] == "dashed"


def test_to_dot_draws_leaves_that_require_grad_apart_from_constants():
    x = leaf([1.0, 2.0], "x")
    vertices, _ = parse_dot(minigan.to_dot((x * 2.0).sum()))
    assert vertices["v0"]["shape"] == "ellipse" and unquote(vertices["v0"]["style"]) == "filled"
    assert label(vertices["v0"])[-1] == "requires grad"
    assert vertices["c0"]["shape"] == "box" and "dashed" in unquote(vertices["c0"]["style"])
    assert vertices["v0"]["fillcolor"] != vertices["c0"]["fillcolor"]


def test_to_dot_of_a_tensor_that_needs_no_grad_is_one_constant_vertex():
    t = leaf([1.0, 2.0], "t", requires_grad=False)
    for tensor in (t, t * 2.0):
        vertices, edges = parse_dot(minigan.to_dot(tensor))
        assert list(vertices) == ["v0"] and edges == []
        assert label(vertices["v0"])[-1] == "no grad" and "dashed" in unquote(vertices["v0"]["style"])
        assert vertices["v0"]["peripheries"] == "2"  # it is the root


def test_to_dot_marks_the_root_and_nothing_else():
    x = leaf([1.0, 2.0], "x")
    vertices, _ = parse_dot(minigan.to_dot(minigan.tanh(x).sum()))
    assert [key for key, v in vertices.items() if "peripheries" in v] == ["v2"]
    assert vertices["v2"]["color"] != vertices["v1"]["color"]


def test_to_dot_escapes_quotes_backslashes_and_ampersands_and_keeps_angle_brackets_literal():
    name = 'a "quoted" \\ name <b>&lt;</b> \\n'
    x = leaf([1.0], name)
    text = minigan.to_dot((x * x).sum(), title='title "with" \\ quotes')
    vertices, _ = parse_dot(text)
    assert label(vertices["v0"])[0] == f"%0 {name}"
    assert r'label="%0 a \"quoted\" \\ name <b>&amp;lt;</b> \\n\n(1,) float64' in text
    assert 'label="title \\"with\\" \\\\ quotes"' in text
    assert "label=<" not in text  # never an HTML-like label, where < and > would be markup


def test_to_dot_puts_a_name_with_line_breaks_on_one_line():
    x = leaf([1.0], "two\nlines\r")
    vertices, _ = parse_dot(minigan.to_dot(x * x))
    assert label(vertices["v0"])[0] == "%0 two lines "


def test_to_dot_cuts_label_lines_at_max_label_characters():
    x = leaf([1.0], "w" * 100)
    vertices, _ = parse_dot(minigan.to_dot(x * x, max_label=20))
    first = label(vertices["v0"])[0]
    assert len(first) == 20 and first.endswith("…") and first.startswith("%0 www")


def test_to_dot_names_an_intermediate_tensor_while_it_lives():
    x = leaf([1.0, 2.0], "x")
    h = minigan.tanh(x)
    h.name = "h"
    vertices, _ = parse_dot(minigan.to_dot(h.sum()))
    assert label(vertices["v1"])[0] == "%1 h = tanh"


def test_to_dot_of_a_create_graph_gradient_shows_the_backward_pass_as_ops(backend_name):
    x = leaf([0.5, -1.0], "x")
    (g,) = minigan.grad(minigan.tanh(x * x).sum(), x, create_graph=True)
    text = minigan.to_dot(g)
    vertices, edges = parse_dot(text)
    ops = [label(v)[0].split(" ", 1)[1] for key, v in vertices.items() if key.startswith("v")]
    assert ops[0] == "x" and ops[1:3] == ["mul", "tanh"]  # the forward pass the backward reads
    assert {"sub", "add"} <= set(ops[3:]) and ops.count("mul") >= 4  # (1 − t²) · g · 2x, as ops
    assert len(vertices) == len(minigan.format_graph(g).splitlines()) + sum(k.startswith("c") for k in vertices)
    assert all(source in vertices and target in vertices for source, target, _ in edges)


def test_to_dot_of_a_freed_graph_keeps_its_edges_and_marks_the_freed_nodes():
    x = leaf([1.0, 2.0], "x")
    loss = (minigan.exp(x) * x).sum()
    before, edges_before = parse_dot(minigan.to_dot(loss))
    loss.backward()
    after, edges_after = parse_dot(minigan.to_dot(loss))
    assert edges_after == edges_before
    for key in ("v1", "v2", "v3"):
        assert label(after[key]) == label(before[key]) + ["freed"]
        assert "dashed" in unquote(after[key]["style"]) and "dashed" not in unquote(before[key]["style"])
    assert label(after["v0"]) == label(before["v0"])  # a leaf is never freed


def test_to_dot_lays_inputs_left_with_rankdir_lr_and_refuses_other_directions():
    x = leaf([1.0], "x")
    assert "rankdir=LR" in minigan.to_dot(x * x, rankdir="LR")
    with pytest.raises(ValueError, match="rankdir must be 'TB'.*or 'LR'"):
        minigan.to_dot(x * x, rankdir="BT")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_real_graphviz_reads_the_dot_text_and_shows_names_as_written():
    import html

    name = 'x "q" \\ <b>&lt;'
    x = leaf([1.0], name)
    result = subprocess.run([shutil.which("dot"), "-Tsvg"], input=minigan.to_dot((x * 2.0).sum()).encode(),
                            capture_output=True, check=True)
    assert result.stderr == b""
    texts = [html.unescape(t) for t in re.findall(r"<text[^>]*>(.*?)</text>", result.stdout.decode())]
    assert f"%0 {name}" in texts and "%2 sum" in texts and "const" in texts


# ------------------------------------------------------------------------------ the matplotlib engine

def small_graph():
    x = leaf([[1.0, 2.0]], "x")
    w = leaf(np.ones((2, 3)), "w")
    return (minigan.tanh(x @ w) * 2.0).sum()


def test_the_matplotlib_engine_writes_a_png_and_returns_the_path(tmp_path):
    import matplotlib.image

    path = tmp_path / "graph.png"
    assert minigan.draw_graph(small_graph(), path, engine="matplotlib") == str(path)
    assert path.read_bytes().startswith(PNG_MAGIC)
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    assert image[..., :3].min() < 0.5  # something was drawn on the white page
    assert sorted(os.listdir(tmp_path)) == ["graph.png"]  # no temporary file left


def test_without_dot_the_auto_engine_draws_with_matplotlib(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name, *args, **kwargs: None)
    path = minigan.draw_graph(small_graph(), tmp_path / "graph.png")
    with open(path, "rb") as f:
        assert f.read().startswith(PNG_MAGIC)


@pytest.mark.parametrize("suffix, start", [(".svg", b"<?xml"), (".pdf", b"%PDF"), (".PNG", PNG_MAGIC)])
def test_the_matplotlib_engine_takes_the_format_from_the_suffix(tmp_path, suffix, start):
    path = tmp_path / f"graph{suffix}"
    minigan.draw_graph(small_graph(), path, engine="matplotlib", rankdir="LR", title="a title")
    assert path.read_bytes().startswith(start)


def test_the_matplotlib_engine_draws_a_one_vertex_graph_a_gradient_graph_and_a_freed_graph(tmp_path):
    x = leaf([0.5, -1.0], "x")
    loss = minigan.tanh(x * x).sum()
    (g,) = minigan.grad(loss, x, create_graph=True)
    minigan.draw_graph(leaf([1.0], "c", requires_grad=False), tmp_path / "one.png", engine="matplotlib")
    minigan.draw_graph(g, tmp_path / "gradient.png", engine="matplotlib")
    loss.backward()
    minigan.draw_graph(loss, tmp_path / "freed.png", engine="matplotlib")
    for name in ("one", "gradient", "freed"):
        assert (tmp_path / f"{name}.png").read_bytes().startswith(PNG_MAGIC)


def test_the_layout_puts_every_input_above_its_consumer_and_keeps_boxes_of_a_layer_apart():
    x = leaf([0.5, -1.0], "x")
    y = leaf([2.0, 3.0], "y")
    (g,) = minigan.grad((minigan.exp(x) * y + x * 3.0).sum(), x, create_graph=True)
    vertices, edges = vertices_and_edges(g * y)
    slot = 1.5
    where, bends = graph_picture._layout(vertices, edges, slot)
    assert set(where) == {v.key for v in vertices}
    for edge, bend in zip(edges, bends):
        layers = [where[edge.source][0]] + [layer for layer, _ in bend] + [where[edge.target][0]]
        assert layers == list(range(layers[0], layers[-1] + 1)) and len(layers) >= 2  # one bend per layer crossed
    for layer in {layer for layer, _ in where.values()}:
        across = sorted(a for lay, a in where.values() if lay == layer)
        assert all(b - a >= slot - 1e-9 for a, b in zip(across, across[1:]))
    sources = {v.key for v in vertices} - {e.target for e in edges}
    for key in sources:  # a leaf or constant sits right above its first consumer
        first = min(where[e.target][0] for e in edges if e.source == key)
        assert where[key][0] == first - 1


def test_a_big_graph_renders_in_reasonable_time_within_the_pixel_budget(tmp_path):
    import matplotlib.image

    rng = np.random.default_rng(0)
    h = x = leaf(rng.standard_normal((3, 4)), "x")
    for i in range(16):
        h = minigan.tanh(h @ leaf(rng.standard_normal((4, 4)), f"W{i}")) + h * 0.5
    (g,) = minigan.grad((h * h).sum(), x, create_graph=True)
    root = (g * g).sum()
    assert len(vertices_and_edges(root)[0]) > 240  # with its const inputs
    started = time.perf_counter()
    minigan.draw_graph(root, tmp_path / "big.png", engine="matplotlib", max_label=16)
    assert time.perf_counter() - started < 60
    rows, columns = matplotlib.image.imread(tmp_path / "big.png").shape[:2]
    assert rows * columns <= graph_picture.MAX_PIXELS and rows > 3000  # scaled with the graph, under the cap


# ------------------------------------------------------------------------------- the Graphviz engine

FAKE_DOT = """#!{python}
import json, sys
with open({record!r}, "w") as f:
    json.dump({{"args": sys.argv[1:], "stdin": sys.stdin.read()}}, f)
fmt = sys.argv[1][2:]
sys.stdout.write("fake " + fmt + " picture")
sys.stdout.flush()
if {fail!r}:
    sys.stderr.write("Error: syntax error in line 1")
    sys.exit(1)
"""


def fake_dot(tmp_path, monkeypatch, fail=False):
    """Put a fake ``dot`` first on PATH; returns the file where it records its arguments and input."""
    directory = tmp_path / "bin"
    directory.mkdir()
    record = tmp_path / "dot-call.json"
    program = directory / "dot"
    program.write_text(FAKE_DOT.format(python=sys.executable, record=str(record), fail=fail))
    program.chmod(program.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    monkeypatch.setenv("PATH", str(directory) + os.pathsep + os.environ.get("PATH", ""))
    return record


@pytest.mark.skipif(sys.platform == "win32", reason="the fake dot is a script with a #! line")
@pytest.mark.parametrize("fmt", ["png", "svg", "pdf"])
@pytest.mark.parametrize("engine", ["graphviz", "auto"])
def test_the_graphviz_engine_feeds_the_dot_text_to_dot_in_the_format_of_the_suffix(tmp_path, monkeypatch,
                                                                                    fmt, engine):
    record = fake_dot(tmp_path, monkeypatch)
    root = small_graph()
    out = tmp_path / "pictures" / f"graph.{fmt}"
    assert minigan.draw_graph(root, out, engine=engine, rankdir="LR", title="t") == str(out)
    call = json.loads(record.read_text())
    assert call["args"] == [f"-T{fmt}"]
    assert call["stdin"] == minigan.to_dot(root, rankdir="LR", max_label=28, title="t")
    assert out.read_bytes() == f"fake {fmt} picture".encode()
    assert os.listdir(out.parent) == [f"graph.{fmt}"]


def test_forcing_graphviz_without_dot_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name, *args, **kwargs: None)
    path = tmp_path / "graph.png"
    with pytest.raises(GraphvizError, match=r"(?s)dot program is not on PATH.*Install Graphviz.*engine='matplotlib'"):
        minigan.draw_graph(small_graph(), path, engine="graphviz")
    assert not path.exists()
    assert issubclass(GraphvizError, minigan.MiniganError)


@pytest.mark.skipif(sys.platform == "win32", reason="the fake dot is a script with a #! line")
def test_a_failing_dot_leaves_the_old_file_whole_and_no_partial_one(tmp_path, monkeypatch):
    fake_dot(tmp_path, monkeypatch, fail=True)
    path = tmp_path / "graph.svg"
    path.write_bytes(b"the old picture")
    with pytest.raises(GraphvizError, match="exit status 1: Error: syntax error in line 1"):
        minigan.draw_graph(small_graph(), path)
    assert path.read_bytes() == b"the old picture"
    assert sorted(os.listdir(tmp_path)) == ["bin", "dot-call.json", "graph.svg"]


def test_a_failing_matplotlib_drawing_leaves_the_old_file_whole_and_no_partial_one(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    def savefig(self, fname, **kwargs):
        fname.write(PNG_MAGIC + b"half a picture")
        raise MemoryError("out of memory half-way")

    monkeypatch.setattr(Figure, "savefig", savefig)
    path = tmp_path / "graph.png"
    path.write_bytes(b"the old picture")
    with pytest.raises(MemoryError):
        minigan.draw_graph(small_graph(), path, engine="matplotlib")
    assert path.read_bytes() == b"the old picture"
    assert os.listdir(tmp_path) == ["graph.png"]


@pytest.mark.parametrize("path, engine, message", [
    ("graph.jpg", "auto", r"cannot tell the picture's format from .*graph\.jpg.*\.png, \.svg or \.pdf"),
    ("graph", "auto", "cannot tell the picture's format"),
    ("graph.png", "pydot", "engine must be one of"),
])
def test_an_unknown_suffix_or_engine_is_an_error_before_anything_is_written(tmp_path, path, engine, message):
    with pytest.raises(ValueError, match=message):
        minigan.draw_graph(small_graph(), tmp_path / path, engine=engine)
    assert os.listdir(tmp_path) == []
