"""report.html: one self-contained page per run (PNGs embedded): the metrics with their floors and
ratios beside the samples, the score field and the sampler's paths for 2-D data, the loss, the spec.
The pictures are drawn by plots.py; the run's code is reached through its RunProgram."""

from __future__ import annotations

import base64
import html
from pathlib import Path

import numpy as np

from ..core.files import atomic_write
from ..metrics.registry import floored, get

__all__ = ["metrics_table", "write_report"]


def _png_tag(path: Path, alt: str) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"><figcaption>' \
           f'{html.escape(alt)}</figcaption></figure>'


def _fmt(v) -> str:
    if isinstance(v, float):
        return "nan" if v != v else f"{v:.5g}"
    return str(v)


def metrics_table(metrics: dict) -> str:
    """Rows metric | value | floor | ratio: the floor is the same metric between two independent
    draws of real data of the samples' size (for images the test split against the train split)."""
    rows = []
    for key in sorted(metrics):
        if key.endswith("_floor") and key[: -len("_floor")] in metrics:
            continue
        pair = floored(key, metrics)
        cells = ("", "") if pair is None else (_fmt(pair[1]), f"{pair[2]:.2f}x")
        rows.append(f"<tr><td>{html.escape(key)}</td><td>{_fmt(metrics[key])}</td><td>{cells[0]}</td>"
                    f"<td>{cells[1]}</td></tr>")
    return ("<table><thead><tr><th>metric</th><th>value</th><th>floor (data vs data)</th><th>ratio</th></tr>"
            f"</thead><tbody>{''.join(rows)}</tbody></table>")


def metric_paragraphs(run_dir: Path, ir, metrics: dict) -> list[tuple[str, str]]:
    """(heading, text) of each computed metric that explains itself (its registered `report`: how a
    likelihood was computed, with its settings), in eval.metrics' order."""
    out = []
    for name in ir.eval.metrics:
        report = get(name).report
        text = report(run_dir, metrics) if report is not None and name in metrics else None
        if text:
            out.append((get(name).heading, text))
    return out


CSS = """body{font-family:system-ui,sans-serif;max-width:1150px;margin:2em auto;padding:0 1em;color:#222}
h1{margin-bottom:0.2em} .sub{color:#666;margin-top:0} table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:4px 10px;text-align:right} td:first-child,th:first-child{text-align:left}
pre{background:#f6f6f6;padding:1em;overflow-x:auto;font-size:12px} img{max-width:100%}
figure{margin:1em 0} figcaption{color:#666;font-size:13px} .note{color:#a60}
.beside{display:flex;flex-wrap:wrap;gap:1.5em;align-items:flex-start} .beside figure{flex:1 1 560px}"""


def _field_picture(run_dir: Path, ir, program, notes: list[str]) -> None:
    """field.png for 2-D data: the learned score and the sampler's paths (never fails the run)."""
    from ..components import registry
    from .plots import plot_field_and_trajectories

    if not (len(ir.data.shape) == 1 and ir.data.shape[0] == 2 and (run_dir / "code" / "sample.py").is_file()):
        return
    try:
        reference = np.load(run_dir / "reference.npz")["samples"]
        energy = "scalar_energy" in registry.get("parameterization", ir.parameterization.kind).traits
        plot_field_and_trajectories(program, reference, run_dir / "field.png", energy=energy)
    except Exception as exc:  # a picture must never fail a finished run
        notes.append(f"no score field / trajectories: {type(exc).__name__}: {exc}")


def write_report(run_dir, ir, metrics: dict, program, console=None) -> Path:
    """report.html: the spec, the metrics with floors beside the samples (or the sample grid for
    images), the loss curve, and for 2-D data the learned score field and the sampler's paths
    (field.png, drawn here). program: the run's code (RunProgram)."""
    run_dir = Path(run_dir)
    notes: list[str] = []
    _field_picture(run_dir, ir, program, notes)
    spec_text = (run_dir / "spec.yaml").read_text() if (run_dir / "spec.yaml").is_file() else ""
    samples = _png_tag(run_dir / "samples.png", "samples beside data") if (run_dir / "samples.png").is_file() else ""
    parts = [f"<h1>{html.escape(ir.name)}</h1>",
             f'<p class="sub">{html.escape(ir.process.kind)} process, {html.escape(ir.parameterization.kind)} '
             f'{html.escape(ir.network.kind)}, {html.escape(ir.sampler.kind)} sampler '
             f'({ir.sampler.steps} steps, {ir.sampler.nfe} NFE per sample)</p>',
             "<h2>Samples and metrics</h2>", f'<div class="beside">{samples}{metrics_table(metrics)}</div>']
    for heading, paragraph in metric_paragraphs(run_dir, ir, metrics):
        parts += [f"<h2>{html.escape(heading)}</h2>", f"<p>{html.escape(paragraph)}</p>"]
    for name, caption in (("classes.png", "samples by class, a row each"),
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
