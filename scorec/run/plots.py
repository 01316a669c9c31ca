"""Pictures for a run directory: samples next to data, the training loss, and for 2-D data the
learned score field with the sampler's paths.

Figures are built with ``matplotlib.figure.Figure`` on an explicit Agg canvas
instead of pyplot, so plotting works headless, never switches the process-wide
backend, and leaves no pyplot figure registry behind. PNGs are written to a
temporary file in the target directory and moved into place with
``os.replace``, so a reader never sees a half-written picture.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..core.files import atomic_write

__all__ = ["image_grid", "plot_field_and_trajectories", "plot_loss", "plot_samples"]


def new_figure(width: float, height: float):
    """A Figure attached to an Agg canvas (no pyplot, no global backend change)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig, path) -> Path:
    """Write ``fig`` as PNG atomically (see scorec.files), then free its memory."""
    try:
        return atomic_write(path, lambda fh: fig.savefig(fh, format="png"))
    finally:
        fig.clear()


def _flat_finite(a, max_points: int, rng: np.random.Generator) -> np.ndarray:
    """(n, *shape) -> (n', d) with non-finite rows dropped and at most max_points rows.

    Diverged samplers produce NaN/inf; plotting the finite rest is more useful
    than failing.
    """
    a = np.asarray(a, dtype=np.float64)
    a = a[:, None] if a.ndim == 1 else a.reshape(a.shape[0], -1)
    a = a[np.isfinite(a).all(axis=1)]
    if len(a) > max_points:
        a = a[rng.choice(len(a), size=max_points, replace=False)]
    return a


def _limits(ref: np.ndarray) -> list[tuple[float, float]]:
    """Per-coordinate axis limits from robust quantiles of the reference, padded.

    Using the data (not the samples) keeps both panels comparable and stops a
    few far-off samples from squashing the picture.
    """
    lims = []
    for col in ref.T:
        if len(col) == 0:
            lims.append((-1.0, 1.0))
            continue
        lo, hi = np.quantile(col, [0.005, 0.995])
        pad = 0.15 * (hi - lo) if hi > lo else 1.0
        lims.append((float(lo - pad), float(hi + pad)))
    return lims


def plot_samples(samples, reference, path, title=None, max_points: int = 5000) -> Path:
    """Two panels, "data" and "samples", on identical axes; returns ``path``.

    samples, reference: (n, *shape) arrays.  path: PNG to write.  title:
    figure title.  max_points: per-panel cap (seeded subsample) so scatter
    plots stay light.  d == 1 draws histograms; d > 2 shows the first two
    coordinates and says so in the title.
    """
    if np.ndim(samples) == 4:  # images (n, C, H, W): grids of data and samples
        return _plot_image_grids(samples, reference, path, title)
    rng = np.random.default_rng(0)
    ref = _flat_finite(reference, max_points, rng)
    smp = _flat_finite(samples, max_points, rng)
    d = ref.shape[1]
    lims = _limits(ref)
    suptitle = title or ""
    if d > 2:
        note = f"first 2 of {d} coordinates"
        suptitle = f"{suptitle} ({note})" if suptitle else note

    fig = new_figure(10, 4.6 if d > 1 else 3.8)
    axes = fig.subplots(1, 2, sharex=True, sharey=True)
    for ax, pts, name, colour in ((axes[0], ref, "data", "tab:blue"),
                                  (axes[1], smp, "samples", "tab:orange")):
        if d == 1:
            bins = np.linspace(*lims[0], 81)
            ax.hist(pts[:, 0], bins=bins, density=True, color=colour, alpha=0.7)
        else:
            ax.scatter(pts[:, 0], pts[:, 1], s=2, alpha=0.35, color=colour,
                       linewidths=0, rasterized=True)
            ax.set_ylim(*lims[1])
            ax.set_aspect("auto")
        ax.set_xlim(*lims[0])
        ax.set_title(f"{name} (n={len(pts)})")
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return save_figure(fig, path)


def image_grid(images, rows: int = 8, cols: int = 8) -> np.ndarray:
    """(n, C, H, W) images in [-1, 1] -> one (rows*(H+1)-1, cols*(W+1)-1, C) picture in [0, 1], row by row;
    non-finite pixels show as 0."""
    x = np.nan_to_num(np.asarray(images, dtype=np.float64)[: rows * cols], nan=-1.0, posinf=1.0, neginf=-1.0)
    x = np.clip((x + 1.0) / 2.0, 0.0, 1.0).transpose(0, 2, 3, 1)
    n, h, w, c = x.shape
    rows = max(1, -(-n // cols))
    grid = np.ones((rows * (h + 1) - 1, cols * (w + 1) - 1, c))
    for i in range(n):
        r, q = divmod(i, cols)
        grid[r * (h + 1): r * (h + 1) + h, q * (w + 1): q * (w + 1) + w] = x[i]
    return grid


def _plot_image_grids(samples, reference, path, title) -> Path:
    fig = new_figure(10, 5.4)
    for ax, images, name in zip(fig.subplots(1, 2), (reference, samples), ("data", "samples")):
        grid = image_grid(images)
        ax.imshow(grid[..., 0] if grid.shape[-1] == 1 else grid, cmap="gray", vmin=0, vmax=1,
                  interpolation="nearest")
        ax.set_title(f"{name} (first {min(64, len(images))} of {len(images)})")
        ax.axis("off")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, path)


def _moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over ``window`` points (shorter at the start), same length."""
    csum = np.concatenate(([0.0], np.cumsum(values)))
    idx = np.arange(1, len(values) + 1)
    lo = np.maximum(idx - window, 0)
    return (csum[idx] - csum[lo]) / (idx - lo)


def plot_loss(events, path) -> Path:
    """Training loss against step, raw (light) and smoothed; returns ``path``.

    events: dicts as in ``events.jsonl``; only ``step`` and ``loss`` are used,
    events without a finite loss are skipped.  path: PNG to write.  The y axis
    is logarithmic unless some loss is <= 0 (e.g. NLL-type losses).
    """
    pts = [(float(e["step"]), float(e["loss"])) for e in events
           if e.get("loss") is not None and "step" in e and np.isfinite(float(e["loss"]))]
    fig = new_figure(7, 4)
    ax = fig.add_subplot(1, 1, 1)
    if pts:
        steps, loss = np.array(pts).T
        window = int(np.clip(len(loss) // 20, 1, 500))
        ax.plot(steps, loss, color="tab:blue", alpha=0.25, linewidth=0.8, label="loss")
        ax.plot(steps, _moving_average(loss, window), color="tab:blue", linewidth=1.6,
                label=f"moving average ({window})")
        if np.all(loss > 0):
            ax.set_yscale("log")
        ax.legend(loc="upper right")
    else:
        ax.text(0.5, 0.5, "no loss events", ha="center", va="center",
                transform=ax.transAxes)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path)


# --------------------------------------------------------------------------------- 2-D views


def trajectories(program, n_paths: int = 12, seed: int = 0) -> np.ndarray:
    """Draw n_paths samples with the run's own sampler (sample.py's draw_batch) and keep the state
    after each step (its callback gets it): (n_paths, 1 + steps, *shape), the prior first."""
    import torch

    device = torch.device("cpu")
    sample = program.sample
    gen = torch.Generator(device=device).manual_seed(seed)
    x = sample.prior_sample((n_paths, *sample.DATA_SHAPE), gen, device)
    states = [x.float().numpy().copy()]
    with torch.no_grad():  # as sample.py draws (an energy model enables gradients where it needs them)
        x = sample.draw_batch(program.model(), x, gen,
                              callback=lambda step, x: states.append(x.detach().float().numpy().copy()))
    states[-1] = x.detach().float().numpy()  # with a final denoise, the samples themselves
    return np.stack(states, axis=1)


def plot_field_and_trajectories(program, reference, path, energy: bool = False) -> Path:
    """Two panels for 2-D data: the learned score field at the sampler's last time (arrows of
    unit length, coloured by log |score|; the energy as background where the model has one),
    and 400 sampler paths seen at four moments, from the prior to the samples, over the data.
    program: the run's code (scorec.run.program.RunProgram).  energy: the model has E(x, t)."""
    import torch

    # many paths seen at a few moments read better than a few whole paths: a noisy step-by-step
    # path of a stochastic sampler is a scribble
    paths = trajectories(program, n_paths=400)
    model = program.model()
    t_end = program.sample.time_grid(program.sample.SAMPLE_STEPS, torch.device("cpu"))[-1]
    ref = _flat_finite(reference, 3000, np.random.default_rng(0))
    (x0, x1), (y0, y1) = _limits(ref)[:2]
    gx, gy = np.meshgrid(np.linspace(x0, x1, 28), np.linspace(y0, y1, 28))
    pts = torch.tensor(np.stack([gx.ravel(), gy.ravel()], 1), dtype=torch.float32)
    t = t_end.expand(len(pts))
    with torch.enable_grad():  # energy parameterizations differentiate E to get the score
        score = model.score(pts, t).detach().numpy()
        energy = model.energy(pts, t).detach().numpy().reshape(gx.shape) if energy else None
    mag = np.linalg.norm(score, axis=1) + 1e-12

    fig = new_figure(12, 5)
    grid = fig.add_gridspec(2, 4)
    ax1 = fig.add_subplot(grid[:, :2])
    snapshot_axes = [fig.add_subplot(grid[i // 2, 2 + i % 2]) for i in range(4)]
    if energy is not None:
        im = ax1.contourf(gx, gy, energy, levels=30, cmap="viridis")
        fig.colorbar(im, ax=ax1, label="energy E(x, t)")
    ax1.scatter(ref[:, 0], ref[:, 1], s=2, color="0.55", linewidths=0, rasterized=True)
    q = ax1.quiver(gx.ravel(), gy.ravel(), score[:, 0] / mag, score[:, 1] / mag, np.log10(mag),
                   cmap="magma", angles="xy", scale=40, width=0.003)
    fig.colorbar(q, ax=ax1, label="log10 |score|")
    ax1.set_title(f"learned score at t = {float(t_end):.3g} (direction)")
    for ax, fraction in zip(snapshot_axes, (0.0, 0.5, 0.9, 1.0)):
        k = round(fraction * (paths.shape[1] - 1))
        pts = paths[:, k].reshape(len(paths), -1)
        ax.scatter(ref[:, 0], ref[:, 1], s=1, color="0.8", linewidths=0, rasterized=True)
        ax.scatter(pts[:, 0], pts[:, 1], s=3, color="C0", linewidths=0)
        ax.set_title(f"{fraction:.0%} of the sampler's steps", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in (ax1, *snapshot_axes):
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
    fig.tight_layout()
    return save_figure(fig, path)
