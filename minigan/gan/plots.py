"""Figures of a run: sample grids, 2-D scatter plots, and the training curves. Written atomically."""

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from minigan.serialization import atomic_write_bytes  # noqa: E402

EVALUATION_COLUMNS = 4  # panels a row in the evaluation part of the curves


def _save(fig, path):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, lambda f: f.write(buffer.getvalue()))


def image_grid(samples, image_shape, columns=8):
    """Tile samples (N, D) into one image with 1-pixel gaps: (rows·(H+1) − 1, columns·(W+1) − 1) for
    grey images, image_shape (H, W) with D = H·W, and that by 3 for colour ones, image_shape (H, W, 3)
    with D = H·W·3 (each sample flattened channel-last, row by row).

    Grey gaps are 0 (white in the reversed grey map :func:`save_sample_grid` draws with), colour gaps 1
    (white in RGB).
    """
    image_shape = tuple(image_shape)
    if len(image_shape) == 2:
        h, w = image_shape
        gap = 0.0
    elif len(image_shape) == 3 and image_shape[2] == 3:
        h, w = image_shape[:2]
        gap = 1.0
    else:
        raise ValueError(f"image_grid: image_shape must be (H, W) or (H, W, 3), got {image_shape}")
    n = len(samples)
    rows = -(-n // columns)
    grid = np.full((rows * (h + 1) - 1, columns * (w + 1) - 1) + image_shape[2:], gap)
    for i, sample in enumerate(samples):
        r, c = divmod(i, columns)
        grid[r * (h + 1):r * (h + 1) + h, c * (w + 1):c * (w + 1) + w] = sample.reshape(image_shape)
    return grid


def save_sample_grid(path, samples, image_shape, title=None, columns=8):
    """The samples (N, D) as a grid of images (:func:`image_grid`): grey, dark ink on white, for
    image_shape (H, W); in colour, each channel an RGB component clipped to [0, 1], for (H, W, 3)."""
    grid = image_grid(samples, image_shape, columns)
    fig, ax = plt.subplots(figsize=(columns * 0.6, grid.shape[0] / grid.shape[1] * columns * 0.6 + 0.4))
    if grid.ndim == 3:
        # imshow clips RGB floats to [0, 1] itself, with a warning per call; NaN (a diverged G) shows black.
        ax.imshow(np.clip(np.nan_to_num(grid, nan=0.0), 0.0, 1.0), interpolation="nearest")
    else:
        ax.imshow(grid, cmap="gray_r", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
    _save(fig, path)


def save_scatter(path, samples, real=None, modes=None, title=None, labels=None):
    """2-D samples over the real points and the mode centres; the generated points are drawn last, on
    top, and the legend sits outside the axes, so that neither hides whether a mode is covered. With
    ``labels`` (the class each sample was generated for, a conditional run) the samples are coloured by
    it, and each mode centre is numbered with its label."""
    fig, ax = plt.subplots(figsize=(5.6, 4.5))
    if real is not None:
        ax.scatter(real[:, 0], real[:, 1], s=2, c="tab:gray", alpha=0.3, label="real")
    if modes is not None:
        ax.scatter(modes[:, 0], modes[:, 1], s=30, marker="x", linewidths=0.8, c="tab:red", label="modes")
    if labels is None:
        ax.scatter(samples[:, 0], samples[:, 1], s=3, c="tab:blue", alpha=0.5, label="generated")
    else:
        labels = np.asarray(labels)
        ax.scatter(samples[:, 0], samples[:, 1], s=3, c=labels % 20, cmap="tab20", vmin=0, vmax=19, alpha=0.6,
                   label="generated (colour: its label)")
        if modes is not None:
            for k, (x, y) in enumerate(modes):
                ax.annotate(str(k), (x, y), fontsize=6, xytext=(3, 3), textcoords="offset points")
    ax.set_aspect("equal")
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize=7)
    if title:
        ax.set_title(title, fontsize=9)
    _save(fig, path)


def save_curves(path, records, evaluations=None):
    """Losses, D(x) and D(G(z)), and per-layer gradient norms against step, from the metrics log.

    ``evaluations``, a list of evaluation records (dicts with "step" and the metrics of
    :func:`minigan.gan.evaluation.evaluate_samples`), adds a row of panels below: each scalar metric
    against step, one small panel a metric (lists such as the per-mode counts are left out; a None value
    leaves a gap), with a dotted line at 1, the data's value, for the ratios. Without evaluations (None
    or empty) the figure is the three panels alone.
    """
    _save(curves_figure(records, evaluations), path)


def curves_figure(records, evaluations=None):
    """The figure :func:`save_curves` writes, left open for the caller."""
    metrics = _scalar_metrics(evaluations or [])
    if not metrics:
        fig, axes = plt.subplots(1, 3, figsize=(15, 4))  # the figure as it was before evaluations could be shown
    else:
        columns = min(len(metrics), EVALUATION_COLUMNS)
        rows = -(-len(metrics) // columns)
        fig = plt.figure(figsize=(15, 4 + 3.2 * rows), layout="constrained")
        top, bottom = fig.add_gridspec(2, 1, height_ratios=[4, 3.2 * rows])
        axes = top.subgridspec(1, 3).subplots()
        evaluation_axes = bottom.subgridspec(rows, columns).subplots(squeeze=False).ravel()
        _plot_evaluations(evaluation_axes, evaluations, metrics)
    _plot_training(axes, records)
    return fig


def _scalar_metrics(evaluations):
    """The keys, in order of first appearance, whose values are numbers (or None) in every evaluation."""
    keys = []
    for record in evaluations:
        keys.extend(k for k in record if k != "step" and k not in keys)
    return [k for k in keys
            if all(_is_number(r.get(k)) or r.get(k) is None for r in evaluations)
            and any(_is_number(r.get(k)) for r in evaluations)]


def _is_number(value):
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def _plot_evaluations(axes, evaluations, metrics):
    steps = [r["step"] for r in evaluations]
    for ax, key in zip(axes, metrics):
        values = [np.nan if r.get(key) is None else float(r[key]) for r in evaluations]
        ax.plot(steps, values, marker="o", markersize=3)
        if key.endswith("_ratio"):
            ax.axhline(1.0, color="tab:gray", linestyle=":", linewidth=1)
        ax.set_title(f"evaluation: {key}", fontsize=9)
        ax.set_xlabel("step")
    for ax in axes[len(metrics):]:
        ax.set_axis_off()


def _plot_training(axes, records):
    steps = [r["step"] for r in records]
    axes[0].plot(steps, [r["d_loss"] for r in records], label="D loss")
    axes[0].plot(steps, [r["g_loss"] for r in records], label="G loss")
    axes[0].set_title("losses")
    axes[1].plot(steps, [r["d_real"] for r in records], label="D(x)")
    axes[1].plot(steps, [r["d_fake"] for r in records], label="D(G(z))")
    axes[1].set_ylim(0, 1)
    axes[1].set_title("discriminator outputs")
    names = sorted({k for r in records for k in r.get("grad_norms", {})})
    for name in names:
        values = [r.get("grad_norms", {}).get(name, np.nan) for r in records]
        axes[2].semilogy(steps, values, label=name, linestyle="-" if name.startswith("G.") else "--")
    axes[2].set_title("gradient norm per weight (G solid, D dashed)")
    for ax in axes:
        ax.set_xlabel("step")
        ax.legend(fontsize=6)
