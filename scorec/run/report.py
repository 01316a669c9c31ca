"""Pictures for a run directory: samples next to data, and the training loss.

Figures are built with ``matplotlib.figure.Figure`` on an explicit Agg canvas
instead of pyplot, so plotting works headless, never switches the process-wide
backend, and leaves no pyplot figure registry behind. PNGs are written to a
temporary file in the target directory and moved into place with
``os.replace``, so a reader never sees a half-written picture.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..core.files import atomic_write

__all__ = ["image_grid", "metrics_table", "plot_field_and_trajectories", "plot_loss", "plot_samples", "write_report"]


def _new_figure(width: float, height: float):
    """A Figure attached to an Agg canvas (no pyplot, no global backend change)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _save_atomic(fig, path) -> Path:
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

    fig = _new_figure(10, 4.6 if d > 1 else 3.8)
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
    return _save_atomic(fig, path)


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
    fig = _new_figure(10, 5.4)
    for ax, images, name in zip(fig.subplots(1, 2), (reference, samples), ("data", "samples")):
        grid = image_grid(images)
        ax.imshow(grid[..., 0] if grid.shape[-1] == 1 else grid, cmap="gray", vmin=0, vmax=1,
                  interpolation="nearest")
        ax.set_title(f"{name} (first {min(64, len(images))} of {len(images)})")
        ax.axis("off")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save_atomic(fig, path)


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
    fig = _new_figure(7, 4)
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
    return _save_atomic(fig, path)


# --------------------------------------------------------------------------------- 2-D views


class _RunCode:
    """A run's emitted common.py and sample.py, imported in this process.

    sample.py does `from common import ...` and `from runtime import ...` after putting its folder
    on sys.path; a `common` or `runtime` already imported (another run's) is set aside for the
    import and restored after, so several runs can be drawn in one process."""

    def __init__(self, code_dir: Path):
        import importlib.util
        import sys

        siblings = ("common", "runtime")
        saved, saved_path = {name: sys.modules.pop(name, None) for name in siblings}, list(sys.path)
        try:
            spec = importlib.util.spec_from_file_location(f"scorec_report_sample_{id(self)}", code_dir / "sample.py")
            self.sample = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(self.sample)
        finally:
            for name in siblings:
                sys.modules.pop(name, None)
                if saved[name] is not None:
                    sys.modules[name] = saved[name]
            sys.path[:] = saved_path


def trajectories_and_field(run_dir: Path, n_paths: int = 12, grid: int = 28, seed: int = 0):
    """Run the emitted sampler in this process for a few points and record every state it
    evaluates the network at (the model's `output` is wrapped: the sampler's callback only
    gets the step number, while each network call sees the current x). Also evaluate the
    score on a grid at the sampler's last time. Returns (paths (n_paths, T, 2), field dict)."""
    import torch

    mod = _RunCode(Path(run_dir) / "code").sample
    device = torch.device("cpu")
    model = mod.ScoreModel(mod.load_network(str(run_dir), device))
    states = []
    inner = model.output

    def recording(x, t):
        states.append(x.detach().float().cpu().numpy().copy())
        return inner(x, t)

    model.output = recording
    gen = torch.Generator(device=device).manual_seed(seed)
    x = mod.prior_sample((n_paths, *mod.DATA_SHAPE), gen, device)
    t_end = mod.time_grid(mod.SAMPLE_STEPS, device)[-1]
    x = mod.sample(model, x, gen, callback=None)
    if _lock_ir(run_dir)["sampler"]["final_denoise"]:  # sample.py ends with Tweedie's denoiser
        x = model.x0(x, t_end.expand(n_paths))
    states.append(x.detach().float().cpu().numpy())
    paths = np.stack(states, axis=1)
    model.output = inner
    return paths, (model, t_end)


def _lock_ir(run_dir: Path) -> dict:
    return json.loads((Path(run_dir) / "spec.lock.json").read_text())["ir"]


def _has_energy(run_dir: Path) -> bool:
    """Whether the run's parameterization gives E(x, t) (its declared trait, read from the lock)."""
    from ..components import registry

    kind = _lock_ir(run_dir)["parameterization"]["kind"]
    return "scalar_energy" in registry.get("parameterization", kind).traits


def plot_field_and_trajectories(run_dir, reference, path) -> Path:
    """Two panels for 2-D data: the learned score field at the sampler's last time (arrows of
    unit length, coloured by log |score|; the energy as background where the model has one),
    and 400 sampler paths seen at four moments, from the prior to the samples, over the data."""
    import torch

    run_dir = Path(run_dir)
    # many paths seen at a few moments read better than a few whole paths: a noisy step-by-step
    # path of a stochastic sampler is a scribble
    paths, (model, t_end) = trajectories_and_field(run_dir, n_paths=400)
    ref = _flat_finite(reference, 3000, np.random.default_rng(0))
    (x0, x1), (y0, y1) = _limits(ref)[:2]
    gx, gy = np.meshgrid(np.linspace(x0, x1, 28), np.linspace(y0, y1, 28))
    pts = torch.tensor(np.stack([gx.ravel(), gy.ravel()], 1), dtype=torch.float32)
    t = t_end.expand(len(pts))
    energy = None
    with torch.enable_grad():  # energy parameterizations differentiate E to get the score
        score = model.score(pts, t).detach().numpy()
        if _has_energy(run_dir):
            energy = model.energy(pts, t).detach().numpy().reshape(gx.shape)
    mag = np.linalg.norm(score, axis=1) + 1e-12

    fig = _new_figure(12, 5)
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
    return _save_atomic(fig, path)


# ------------------------------------------------------------------------------ report.html


def _png_tag(path: Path, alt: str) -> str:
    import base64
    import html

    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"><figcaption>' \
           f'{html.escape(alt)}</figcaption></figure>'


def _fmt(v) -> str:
    if isinstance(v, float):
        return "nan" if v != v else f"{v:.5g}"
    return str(v)


def metrics_table(metrics: dict) -> str:
    """Rows metric | value | floor (the test split against the train split, where computed)."""
    import html

    rows = []
    for key in sorted(metrics):
        if key.endswith("_floor"):
            continue
        floor = metrics.get(f"{key}_floor")
        rows.append(f"<tr><td>{html.escape(key)}</td><td>{_fmt(metrics[key])}</td>"
                    f"<td>{'' if floor is None else _fmt(floor)}</td></tr>")
    return ("<table><thead><tr><th>metric</th><th>value</th><th>floor (test vs train)</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


CSS = """body{font-family:system-ui,sans-serif;max-width:1150px;margin:2em auto;padding:0 1em;color:#222}
h1{margin-bottom:0.2em} .sub{color:#666;margin-top:0} table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:4px 10px;text-align:right} td:first-child,th:first-child{text-align:left}
pre{background:#f6f6f6;padding:1em;overflow-x:auto;font-size:12px} img{max-width:100%}
figure{margin:1em 0} figcaption{color:#666;font-size:13px} .note{color:#a60}"""


def write_report(run_dir, ir, metrics: dict, console=None) -> Path:
    """report.html: one self-contained file (PNGs embedded as base64): the spec, the metrics with
    floors, the loss curve, samples beside data (or the sample grid for images), and for 2-D data
    the learned score field and a few sampler trajectories (field.png, drawn here)."""
    import html

    from .likelihood import likelihood_summary

    run_dir = Path(run_dir)
    notes = []
    if len(ir.data.shape) == 1 and ir.data.shape[0] == 2 and (run_dir / "code" / "sample.py").is_file():
        try:
            reference = np.load(run_dir / "reference.npz")["samples"]
            plot_field_and_trajectories(run_dir, reference, run_dir / "field.png")
        except Exception as exc:  # a picture must never fail a finished run
            notes.append(f"no score field / trajectories: {type(exc).__name__}: {exc}")
    spec_text = (run_dir / "spec.yaml").read_text() if (run_dir / "spec.yaml").is_file() else ""
    parts = [f"<h1>{html.escape(ir.name)}</h1>",
             f'<p class="sub">{html.escape(ir.process.kind)} process, {html.escape(ir.parameterization.kind)} '
             f'{html.escape(ir.network.kind)}, {html.escape(ir.sampler.kind)} sampler '
             f'({ir.sampler.steps} steps, {ir.sampler.nfe} NFE per sample)</p>',
             "<h2>Metrics</h2>", metrics_table(metrics)]
    likelihood = likelihood_summary(run_dir, metrics)  # nll, vlb: the model's own, with their settings
    if likelihood is not None:
        parts += ["<h2>Likelihood</h2>", f"<p>{html.escape(likelihood)}</p>"]
    for name, caption in (("samples.png", "samples beside data"), ("classes.png", "samples by class, a row each"),
                          ("guidance.png", "metrics against the guidance scale"),
                          ("field.png", "score field and trajectories"), ("loss.png", "training loss")):
        if (run_dir / name).is_file():
            parts += [f"<h2>{caption[0].upper() + caption[1:]}</h2>", _png_tag(run_dir / name, caption)]
    parts += [f'<p class="note">{html.escape(n)}</p>' for n in notes]
    parts += ["<h2>Spec</h2>", f"<pre>{html.escape(spec_text)}</pre>"]
    doc = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(ir.name)}: scorec report"
           f"</title><style>{CSS}</style></head><body>{''.join(parts)}</body></html>\n")
    if console is not None:
        for n in notes:
            console.print(f"report: {n}")
    return atomic_write(run_dir / "report.html", lambda fh: fh.write(doc.encode("utf-8")))
