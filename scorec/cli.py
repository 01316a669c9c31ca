"""The `scorec` command line (DESIGN.md §4).

Exit codes: 0 success, 2 a mistake in the spec (diagnostics on stderr, nothing written),
1 a failure while running the emitted programs (their own one-line message: diverged, an
unwritable run directory, a checkpoint of another model; or a run directory locked by
another `scorec run`). `scorec sample|eval RUN_DIR` recompile RUN_DIR/spec.yaml with their
--set overrides (2 for a spec error or an override outside sample./eval.), and exit 1 when
the directory is not a run, is locked, or the settings would change the trained model.
`scorec diff A B` exits 0 when both resolve to the same spec, 1 when they differ, 2 for a
spec error in either; it takes no --set (write the variant as a file; a run's own resolved
spec is RUN_DIR/spec.yaml, so `scorec diff RUN_DIR/spec.yaml NEW.yaml` compares with a run).
"""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import List, Optional

import typer

from . import __version__
from .core.diagnostics import SpecError, SpecErrors, render_all, summary

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="scorec: compile score-based generative model specs into standalone PyTorch programs.",
    pretty_exceptions_enable=False,
)

SpecArg = typer.Argument(..., help="the spec file (YAML, or .score)", show_default=False)
SetOpt = typer.Option([], "--set", help="override a spec field: --set sample.steps=50 (repeatable)")


def _compile(spec: Path, overrides: list[str], checking: bool = False, option=None):
    """Compile or exit 2 with rendered diagnostics (`option`: the MetricsOption the last override is made of)."""
    from .pipeline import compile_spec

    try:
        compiled = compile_spec(spec, overrides, checking)
        for note in compiled.notes:
            typer.echo(f"note: {note}", err=True)
        return compiled
    except (SpecError, SpecErrors) as exc:
        _report(exc, spec, overrides, option)
        raise typer.Exit(2)


def _report(exc: SpecError | SpecErrors, spec: Path, overrides: list[str] = (), option=None) -> None:
    """The diagnostics on stderr, hints in the spec's own syntax, and a line counting them; those at a
    name of scorec eval's --metrics `option` point into its text."""
    from .pipeline import errors_of, hint_words, source_texts

    errors, texts = errors_of(exc), source_texts(spec, overrides)
    if option is not None:
        from .tools.metrics_option import OPTION

        errors = [option.relocated(error, f"--set #{len(overrides)}") for error in errors]
        texts[OPTION] = option.text
    typer.echo(render_all(errors, texts, hint_words(spec)), err=True)
    typer.echo(summary(errors, str(spec)), err=True)


@contextmanager
def _io_errors():
    """A file that cannot be written is a plain error (exit 1), not a traceback."""
    try:
        yield
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        typer.echo(f"error: cannot write{where}: {exc.strerror or exc}", err=True)
        raise typer.Exit(1)


@app.command()
def check(spec: Path = SpecArg, set_: List[str] = SetOpt) -> None:
    """Validate a spec; print diagnostics as file:line:col: error: message."""
    compiled = _compile(spec, set_, checking=True)
    ir = compiled.ir
    typer.echo(f"{spec}: ok ({ir.process.kind} process, {ir.sampler.kind} sampler, {ir.sampler.nfe} NFE per sample)")


@app.command("compile")
def compile_cmd(
    spec: Path = SpecArg,
    out: Path = typer.Option(..., "-o", "--out", help="directory for the emitted programs"),
    set_: List[str] = SetOpt,
) -> None:
    """Emit train.py, sample.py, common.py and spec.lock.json into OUT."""
    from .emit.render import write_files

    compiled = _compile(spec, set_)
    files = compiled.emitted()
    with _io_errors():
        for path in write_files(files, out):
            typer.echo(str(path))


@app.command()
def ir(
    spec: Path = SpecArg,
    set_: List[str] = SetOpt,
    stage: str = typer.Option("ir", "--stage", help="ir: the lowered IR; spec: the validated spec, defaults explicit"),
) -> None:
    """Print the lowered IR (JSON) and its spec hash, or another stage's output."""
    from .emit.render import ir_json

    if stage not in ("ir", "spec"):
        typer.echo(f"error: unknown stage '{stage}' (ir, spec)", err=True)
        raise typer.Exit(2)
    compiled = _compile(spec, set_)
    if stage == "spec":
        typer.echo(json.dumps(compiled.spec.model_dump(mode="json"), indent=2))
    else:
        typer.echo(ir_json(compiled.ir))


@app.command()
def diff(
    a: Path = typer.Argument(..., help="the old spec", show_default=False),
    b: Path = typer.Argument(..., help="the new spec", show_default=False),
) -> None:
    """Semantic diff: the resolved fields that differ (defaults explicit), then whether a run of A
    must retrain, resume, or only resample for B. Exit 0 identical, 1 different, 2 a spec error."""
    from .tools.specdiff import diff_sides, render, side_of

    sides = []
    for path in (a, b):  # report the errors of both files before giving up
        try:
            sides.append(side_of(_compile(path, [])))
        except typer.Exit:
            sides.append(None)
    if None in sides:
        raise typer.Exit(2)
    result = diff_sides(*sides)
    typer.echo(render(result), nl=False)
    raise typer.Exit(0 if result.identical else 1)


@app.command()
def schema() -> None:
    """Print the JSON Schema of spec format v1 (for editors)."""
    from .schema.spec import json_schema

    typer.echo(json.dumps(json_schema(), indent=2))


@app.command()
def fmt(
    specs: List[Path] = typer.Argument(..., help="spec files (YAML or .score); several with --check or --write",
                                       show_default=False),
    to: Optional[str] = typer.Option(None, "--to", help="yaml or score: convert (default: the file's own format)"),
    check: bool = typer.Option(False, "--check", help="exit 1 if a file is not in canonical form (pre-commit)"),
    write: bool = typer.Option(False, "--write", help="write the result (with --to, beside SPEC with the new suffix)"),
) -> None:
    """Print a spec in canonical form (stable key order); convert between YAML and .score."""
    from .tools.fmt import FORMATS, format_of

    if to is not None and to not in FORMATS:
        typer.echo(f"error: unknown format '{to}' (yaml, score)", err=True)
        raise typer.Exit(2)
    if check and (write or (to is not None and any(to != format_of(s) for s in specs))):
        typer.echo("error: --check compares a file with its own canonical form; drop --to and --write", err=True)
        raise typer.Exit(2)
    if len(specs) > 1 and not (check or write):
        typer.echo("error: give one spec to print, or use --check or --write for several", err=True)
        raise typer.Exit(2)
    codes = [_fmt_one(spec, to, check, write) for spec in specs]
    if max(codes):
        raise typer.Exit(max(codes))


def _fmt_one(spec: Path, to: Optional[str], check: bool, write: bool) -> int:
    """Format one spec; the exit code it calls for (2 spec error, 1 not canonical)."""
    from .core.files import atomic_write_text
    from .tools.fmt import format_spec

    try:
        formatted = format_spec(spec, to)
    except (SpecError, SpecErrors) as exc:
        _report(exc, spec)
        return 2
    for note in formatted.notes:
        typer.echo(f"note: {spec}: {note}", err=True)
    if check:
        if spec.read_text(encoding="utf-8").removeprefix("\ufeff") != formatted.text:
            typer.echo(f"{spec}: not in canonical form (scorec fmt --write {spec})", err=True)
            return 1
        typer.echo(f"{spec}: canonical")
    elif write:
        with _io_errors():
            atomic_write_text(formatted.target, formatted.text)
        typer.echo(str(formatted.target))
    else:
        typer.echo(formatted.text, nl=False)
    return 0


def _launch(**options):
    """The launch the options ask for, or exit 2 saying what contradicts what (before anything is written)."""
    from .run.launch import Launch, LaunchUsage

    try:
        return Launch.checked(**options)
    except LaunchUsage as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2)


@app.command()
def run(
    spec: Path = SpecArg,
    out: Optional[Path] = typer.Option(None, "--out", help="run directory (default runs/NAME)"),
    set_: List[str] = SetOpt,
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda, ..."),
    fresh: bool = typer.Option(False, "--fresh", help="train from scratch even if a checkpoint exists"),
    nproc: int = typer.Option(1, "--nproc", help="training and sampling processes (torchrun; DDP, gloo on CPU, "
                              "nccl on CUDA); per machine with --nnodes"),
    nnodes: Optional[int] = typer.Option(None, "--nnodes", help="machines taking part (run this on each; they "
                                         "share the run directory's file system)"),
    node_rank: Optional[int] = typer.Option(None, "--node-rank", help="this machine's number, 0..nnodes-1; "
                                            "node 0 writes the run directory"),
    rdzv_endpoint: Optional[str] = typer.Option(None, "--rdzv-endpoint", help="HOST:PORT of node 0, where the "
                                                "machines meet (training on PORT, sampling on PORT + 1)"),
    rdzv_id: Optional[str] = typer.Option(None, "--rdzv-id", help="names this rendezvous (e.g. a job id)"),
    rdzv_timeout: int = typer.Option(300, "--rdzv-timeout", help="seconds to wait for every machine"),
    max_restarts: int = typer.Option(0, "--max-restarts", help="restart the processes this many times when one "
                                     "dies; training resumes from its last checkpoint"),
) -> None:
    """Compile, train, sample, evaluate; write metrics.json and pictures into the run directory."""
    from .run import RunFailed
    from .run.jobs import run_spec

    launch = _launch(nproc=nproc, nnodes=nnodes, node_rank=node_rank, rdzv_endpoint=rdzv_endpoint, rdzv_id=rdzv_id,
                     max_restarts=max_restarts, rdzv_timeout=rdzv_timeout)
    compiled = _compile(spec, set_)
    run_dir = out or Path("runs") / compiled.ir.name
    try:
        with _io_errors():
            metrics = run_spec(compiled, run_dir, device=device, fresh=fresh, launch=launch)
    except RunFailed as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1)
    if metrics is not None:  # None: another machine than node 0, which reports
        typer.echo(json.dumps(metrics, indent=2))


@app.command()
def launch(
    spec: Path = SpecArg,
    slurm: bool = typer.Option(False, "--slurm", help="write a SLURM batch script (srun + torchrun)"),
    nnodes: int = typer.Option(2, "--nnodes", help="machines"),
    nproc: int = typer.Option(8, "--nproc", help="processes per machine (its GPUs)"),
    out: Optional[Path] = typer.Option(None, "--out", help="run directory on the shared file system "
                                       "(default runs/NAME)"),
    set_: List[str] = SetOpt,
    port: int = typer.Option(29500, "--port", help="node 0's rendezvous port (and the next one)"),
    max_restarts: int = typer.Option(1, "--max-restarts", help="restarts after a dead process"),
    time_limit: str = typer.Option("04:00:00", "--time", help="SLURM time limit"),
    partition: Optional[str] = typer.Option(None, "--partition", help="SLURM partition"),
    script: Optional[Path] = typer.Option(None, "--script", help="write the script here instead of printing it"),
) -> None:
    """Print (or write) a batch script that runs SPEC on several machines: sbatch it."""
    from .core.files import atomic_write_text
    from .run.slurm import slurm_script

    if not slurm:
        typer.echo("error: scorec launch writes SLURM scripts only for now: pass --slurm", err=True)
        raise typer.Exit(2)
    _launch(nproc=nproc, nnodes=nnodes, node_rank=0, rdzv_endpoint=f"node0:{port}", max_restarts=max_restarts)
    compiled = _compile(spec, set_)
    text = slurm_script(spec, compiled.ir.name, set_, out or Path("runs") / compiled.ir.name, nnodes, nproc, port,
                        max_restarts, time_limit, partition)
    if script is None:
        typer.echo(text, nl=False)
        return
    with _io_errors():
        atomic_write_text(script, text)
    typer.echo(str(script))


RunDirArg = typer.Argument(..., help="a run directory written by scorec run", show_default=False)


def _run_dir_spec(run_dir: Path, set_: list[str], allowed: tuple[str, ...], command: str, option=None):
    """Compile RUN_DIR/spec.yaml with the overrides, which may touch only `allowed` sections."""
    from .run import RunFailed
    from .run.jobs import overrides_outside, run_spec_path

    try:
        path = run_spec_path(run_dir)
    except RunFailed as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1)
    foreign = overrides_outside(set_, allowed)
    if foreign:
        typer.echo(f"error: scorec {command} changes only {', '.join(s + '.*' for s in allowed)}; "
                   f"--set {foreign[0]} would change the trained run (use scorec run)", err=True)
        raise typer.Exit(2)
    return _compile(path, set_, option=option)


def _finish(action) -> None:
    from .run import RunFailed

    try:
        with _io_errors():
            metrics = action()
    except RunFailed as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1)
    typer.echo(json.dumps(metrics, indent=2))


@app.command()
def sample(
    run_dir: Path = RunDirArg,
    set_: List[str] = typer.Option([], "--set", help="new sampling (or eval) settings: --set sample.steps=50"),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda, ..."),
    nproc: int = typer.Option(1, "--nproc", help="sampling processes (torchrun; the batches shared out over them)"),
) -> None:
    """Resample a trained run with new sampling settings, then re-evaluate and re-report."""
    from .run.jobs import resample
    from .tools.specdiff import RESAMPLE_SECTIONS

    launch = _launch(nproc=nproc)
    compiled = _run_dir_spec(run_dir, set_, RESAMPLE_SECTIONS, "sample")
    _finish(lambda: resample(compiled, run_dir, device=device, launch=launch))


@app.command("eval")
def eval_cmd(
    run_dir: Path = RunDirArg,
    set_: List[str] = typer.Option([], "--set", help="new evaluation settings: --set eval.metrics=[mmd,c2st]"),
    metrics: Optional[str] = typer.Option(None, "--metrics", help="evaluate these metrics too, e.g. --metrics nll "
                                          "(added to the run's eval.metrics; --set eval.metrics=[...] replaces it)"),
    device: str = typer.Option("auto", "--device", help="where the likelihood metrics run the model: auto, cpu, cuda"),
) -> None:
    """Re-evaluate a run's samples (metrics.json, pictures, report.html); the likelihood metrics
    (nll, vlb) evaluate its trained model on held-out data."""
    from .run.jobs import REEVAL_SECTIONS, reevaluate
    from .tools.metrics_option import OPTION, MetricsOption

    compiled = _run_dir_spec(run_dir, set_, REEVAL_SECTIONS, "eval")
    if metrics:
        option = MetricsOption.parse(metrics)
        unknown = option.unknown()
        if unknown:  # refused in the option's words, before a generated --set could quote them
            typer.echo(render_all(unknown, {OPTION: option.text}), err=True)
            typer.echo(summary(unknown, OPTION), err=True)
            raise typer.Exit(2)
        added = option.override(list(compiled.spec.eval.metrics))
        if added:
            compiled = _run_dir_spec(run_dir, [*set_, added], REEVAL_SECTIONS, "eval", option)
    _finish(lambda: reevaluate(compiled, run_dir, device=device))


@app.command()
def explain(code: Optional[str] = typer.Argument(None, help="a diagnostic code, e.g. E0205 (none: list them)",
                                                 show_default=False)) -> None:
    """Explain a diagnostic code: what the mistake is, an example of it and its fix."""
    from .core.codes import explain as long_form, listing, lookup, suggest

    if code is None:
        typer.echo(listing(), nl=False)
        return
    found = lookup(code)
    if found is None:
        close = suggest(code)
        typer.echo(f"error: no diagnostic code '{code}'" + (f"; did you mean {close}?" if close else ""), err=True)
        if close is None:
            typer.echo("the codes:\n" + listing(), err=True, nl=False)
        raise typer.Exit(2)
    typer.echo(long_form(found), nl=False)


@app.command()
def version() -> None:
    """Print the scorec version."""
    typer.echo(__version__)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
