"""`scorec run`: compile into a run directory, run the emitted programs, evaluate.

The emitted programs run as subprocesses (they never import scorec). Their JSON-lines
events on stdout drive a live progress bar; their stderr goes to logs/, and its tail is
shown if a program fails (only its last "error: ..." line when it ends with one of its
documented exit codes). One `scorec run` at a time holds a run directory (an exclusive lock
on .scorec.lock, which names the holder). The run directory ends up holding:

    code/            the emitted programs and spec.lock.json
    checkpoints/     last.pt (when something is trained)
    events.jsonl     training events; sample_events.jsonl
    samples.npz      samples (n, *data_shape); reference.npz: fresh data samples
    metrics.json     flat {name: number}, nfe included
    samples.png      samples beside data;  loss.png: the training loss
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from contextlib import ExitStack, contextmanager
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from .components import registry
from .emit import write_files
from .ir import canonical_json
from .files import TMP_SUFFIX, atomic_write, atomic_write_text
from .lockmismatch import another_model_message, environment_notes, lock_changes, lock_notes
from .pipeline import Compiled


class RunFailed(Exception):
    """An emitted program exited with an error."""


# Exit codes of the emitted programs (runtime.py) that come with one "error: ..." line on stderr.
PROGRAM_EXIT_CODES = {3: "diverged", 4: "cannot write", 5: "bad checkpoint", 6: "in use"}


def run_spec(compiled: Compiled, run_dir: str | os.PathLike, device: str = "auto", fresh: bool = False,
             console: Console | None = None, nproc: int = 1) -> dict:
    """Compile into run_dir, train (under torchrun when nproc > 1), sample, evaluate."""
    console = console or Console(stderr=True)
    ir = compiled.ir
    run_dir = Path(run_dir)
    if nproc < 1:
        raise RunFailed(f"--nproc must be at least 1 (got {nproc})")
    if ir.train is not None and ir.train.batch_size % nproc:
        raise RunFailed(f"train.batch_size {ir.train.batch_size} does not split evenly over --nproc {nproc}: "
                        "the global batch is train.batch_size whatever the number of processes")
    with run_lock(run_dir, ir.name):
        return _run_locked(compiled, run_dir, device, fresh, console, nproc)


def _run_locked(compiled: Compiled, run_dir: Path, device: str, fresh: bool, console: Console,
                nproc: int = 1) -> dict:
    ir = compiled.ir
    code_dir = run_dir / "code"
    files = compiled.emitted()
    for folder in (run_dir, code_dir, run_dir / "checkpoints"):
        remove_stale_temporaries(folder)
    # Decide before writing anything: code/ and spec.lock.json must keep describing the weights
    # in checkpoints/, so another model's checkpoint is refused here, not after rewriting them.
    checkpoint = run_dir / "checkpoints" / "last.pt"
    new_hash = json.loads(files["spec.lock.json"])["training_hash"]
    old_hash = _existing_training_hash(run_dir)
    changed = lock_changes(compiled, run_dir)
    if checkpoint.exists() and old_hash is not None and old_hash != new_hash:
        if not fresh:
            raise RunFailed(another_model_message(run_dir, changed, old_hash, new_hash))
        checkpoint.unlink()  # --fresh: the directory is about to describe another model
    for note in lock_notes(run_dir, changed, fresh, checkpoint.exists()):
        console.print(note, markup=False, highlight=False, soft_wrap=True)
    write_files(files, code_dir)
    shutil.copyfile(code_dir / "spec.lock.json", run_dir / "spec.lock.json")
    write_run_spec(compiled, run_dir)
    console.print(f"[bold]{ir.name}[/]: {ir.process.kind} process, {ir.parameterization.kind} "
                  f"{ir.network.kind}, {ir.sampler.kind} sampler -> {run_dir}")

    if ir.train is not None:
        extra = ["--fresh"] if fresh else []
        _run_program(code_dir / "train.py", run_dir, device, "train", ir.train.steps, extra, console, nproc)
    # sampling shares its batches out over the same processes; rank 0 gathers them into samples.npz
    _run_program(code_dir / "sample.py", run_dir, device, "sample", ir.sampler.n, [], console, nproc)

    metrics = evaluate(compiled, run_dir, console)
    console.print("metrics: " + ", ".join(f"{k}={v:.4g}" for k, v in metrics.items()))
    return metrics


RUN_SPEC = "spec.yaml"
# What `scorec sample` and `scorec eval` may change in a finished run; the rest is the trained model.
RESAMPLE_SECTIONS = ("sample", "eval")
REEVAL_SECTIONS = ("eval",)


def write_run_spec(compiled: Compiled, run_dir: Path) -> None:
    """The validated spec, every default explicit, as YAML: `scorec sample` and `scorec eval`
    recompile it (with their --set overrides) and so need neither the original file nor its path."""
    import io

    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.default_flow_style = None
    yaml.width = 100
    buf = io.StringIO()
    yaml.dump(compiled.spec.model_dump(mode="json"), buf)
    header = ("# The validated spec of this run (defaults explicit), written by scorec run.\n"
              "# scorec sample / scorec eval recompile it; edit the original spec, not this file.\n")
    atomic_write_text(run_dir / RUN_SPEC, header + buf.getvalue())


def run_spec_path(run_dir: Path) -> Path:
    """RUN_DIR/spec.yaml, or RunFailed saying why this is not a finished run directory."""
    path = Path(run_dir) / RUN_SPEC
    if not Path(run_dir).is_dir():
        raise RunFailed(f"{run_dir} is not a directory")
    if not path.is_file() or not (Path(run_dir) / "spec.lock.json").is_file():
        raise RunFailed(f"{run_dir} holds no run of scorec (no {RUN_SPEC} and spec.lock.json; "
                        "it is written by scorec run)")
    return path


def overrides_outside(overrides: list[str], sections: tuple[str, ...]) -> list[str]:
    """The --set overrides that touch a section other than `sections`."""
    return [o for o in overrides if o.split("=", 1)[0].strip().split(".")[0] not in sections]


def _lock_ir(run_dir: Path) -> dict:
    try:
        lock = json.loads((run_dir / "spec.lock.json").read_text())
        return lock if isinstance(lock, dict) else {}
    except (OSError, ValueError):
        return {}


def resample(compiled: Compiled, run_dir: Path, device: str = "auto", console: Console | None = None,
             nproc: int = 1) -> dict:
    """scorec sample: draw new samples from a trained run with (possibly) new sampling settings,
    then evaluate and report. The weights must be this model's: same training hash. With nproc > 1
    sample.py runs under torchrun and the processes share the batches out."""
    console = console or Console(stderr=True)
    ir = compiled.ir
    if nproc < 1:
        raise RunFailed(f"--nproc must be at least 1 (got {nproc})")
    with run_lock(run_dir, ir.name):
        files = compiled.emitted()
        new_hash = json.loads(files["spec.lock.json"])["training_hash"]
        old_hash = _existing_training_hash(run_dir)
        if old_hash != new_hash:
            raise RunFailed(f"these settings change the trained model (training hash {new_hash[:12]}..., "
                            f"the run's is {str(old_hash)[:12]}...); scorec sample changes only sampling and "
                            "evaluation: use scorec run for a new model")
        if ir.trains and not (run_dir / "checkpoints" / "last.pt").is_file():
            raise RunFailed(f"{run_dir} has no checkpoint (checkpoints/last.pt): train it first with scorec run")
        for note in environment_notes(run_dir):
            console.print(note, markup=False, highlight=False, soft_wrap=True)
        for folder in (run_dir, run_dir / "code"):
            remove_stale_temporaries(folder)
        write_files(files, run_dir / "code")
        shutil.copyfile(run_dir / "code" / "spec.lock.json", run_dir / "spec.lock.json")
        write_run_spec(compiled, run_dir)
        console.print(f"[bold]{ir.name}[/]: resampling with the {ir.sampler.kind} sampler, "
                      f"{ir.sampler.steps} steps, n={ir.sampler.n} -> {run_dir}")
        _run_program(run_dir / "code" / "sample.py", run_dir, device, "sample", ir.sampler.n, [], console, nproc)
        metrics = evaluate(compiled, run_dir, console)
    console.print("metrics: " + ", ".join(f"{k}={v:.4g}" for k, v in metrics.items()))
    return metrics


def reevaluate(compiled: Compiled, run_dir: Path, console: Console | None = None) -> dict:
    """scorec eval: recompute metrics.json and the report from the run's samples.npz, with
    (possibly) new evaluation settings. Everything but `eval` must be the run's own."""
    console = console or Console(stderr=True)
    ir = compiled.ir
    with run_lock(run_dir, ir.name):
        old = _lock_ir(run_dir).get("ir")
        new = json.loads(canonical_json(ir))
        if not isinstance(old, dict) or {k: v for k, v in old.items() if k != "eval"} != \
                {k: v for k, v in new.items() if k != "eval"}:
            raise RunFailed(f"{run_dir}/spec.lock.json does not describe this spec's model and sampler "
                            "(edited by hand?); run scorec run or scorec sample first")
        if not (run_dir / "samples.npz").is_file():
            raise RunFailed(f"{run_dir} has no samples.npz: sample it first (scorec sample {run_dir})")
        remove_stale_temporaries(run_dir)
        if old.get("eval") != new.get("eval"):  # keep code/ and the lock saying what was evaluated
            files = compiled.emitted()
            write_files(files, run_dir / "code")
            shutil.copyfile(run_dir / "code" / "spec.lock.json", run_dir / "spec.lock.json")
            write_run_spec(compiled, run_dir)
        metrics = evaluate(compiled, run_dir, console)
    console.print("metrics: " + ", ".join(f"{k}={v:.4g}" for k, v in metrics.items()))
    return metrics


def _existing_training_hash(run_dir: Path) -> str | None:
    """The training hash the run directory's weights were made under: its spec.lock.json says."""
    try:
        lock = json.loads((run_dir / "spec.lock.json").read_text())
    except (OSError, ValueError):
        return None  # no lock (train.py run by hand): train.py itself checks the checkpoint's hash
    value = lock.get("training_hash") if isinstance(lock, dict) else None
    return value if isinstance(value, str) else None


def remove_stale_temporaries(folder: Path) -> None:
    """Delete what a killed atomic write left behind: only our own temporaries, by their name."""
    if folder.is_dir():
        for path in folder.iterdir():
            if path.name.startswith(".") and path.name.endswith(TMP_SUFFIX) and path.is_file():
                path.unlink()


@contextmanager
def run_lock(run_dir: Path, name: str):
    """Hold the run directory's lock for the whole run: another scorec run, or a train.py or sample.py
    run by hand, on it stops at once and says who holds it; the programs this run starts run inside it.
    The lock is the emitted programs' own (runtime.RunLock), so that both take one lock the same way."""
    runtime = _runtime()
    with ExitStack() as held:
        try:
            held.enter_context(runtime.RunLock(run_dir, name, "scorec run"))
        except runtime.RunDirectoryInUse as exc:
            raise RunFailed(str(exc)) from None
        yield


def _runtime():
    """templates/runtime.py as a module (imported once; it imports torch)."""
    import importlib.util

    from .emit import runtime_file

    name = "scorec_emitted_runtime"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, runtime_file())
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
    return sys.modules[name]


def _run_program(script: Path, run_dir: Path, device: str, label: str, total: int, extra: list[str],
                 console: Console, nproc: int = 1) -> None:
    """Run one emitted program with a progress bar fed by its events; with nproc > 1 under
    PyTorch's own launcher (torchrun: python -m torch.distributed.run), one process per rank."""
    log_dir = run_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    stderr_path = log_dir / f"{label}.stderr"
    cmd = [sys.executable, "-u", str(script), "--out", str(run_dir), "--device", device, *extra]
    if nproc > 1:
        cmd[2:2] = ["-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}"]
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
               TimeElapsedColumn(), TimeRemainingColumn())
    with open(stderr_path, "w") as stderr, Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(label, total=total, info="")
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=stderr, text=True, bufsize=1)
        try:
            _follow(proc, progress, task, total)
        except BaseException:  # Ctrl-C included: never leave the program running behind us
            proc.kill()
            proc.wait()
            raise
        code = proc.wait()
    if code != 0:
        raise RunFailed(_failure(script.name, code, stderr_path))


def _failure(program: str, code: int, stderr_path: Path) -> str:
    """What to tell about a failed program: its own one-line message when it ended with one of
    its documented exit codes, the signal that killed it, or else the tail of its stderr."""
    lines = stderr_path.read_text(errors="replace").strip().splitlines()
    said = [line for line in lines if line.startswith("error: ")]
    if code in PROGRAM_EXIT_CODES and said:
        return f"{program}: {said[-1][len('error: '):]} (exit {code}; log: {stderr_path})"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        cause = {"SIGXFSZ": ": a file reached the file-size limit (ulimit -f)",
                 "SIGKILL": " (out of memory, or killed by someone); rerun to resume from the last checkpoint"}
        return f"{program} was killed by {name}{cause.get(name, '')} (log: {stderr_path})"
    return f"{program} exited with status {code}; last lines of {stderr_path}:\n" + "\n".join(lines[-25:])


def _follow(proc: subprocess.Popen, progress: Progress, task, total: int) -> None:
    """Turn the program's events into progress; pass its other output through."""
    assert proc.stdout is not None
    for line in proc.stdout:
        event = _parse_event(line)
        if event is None:
            progress.console.print(line.rstrip())
            continue
        if event.get("event") == "train_start":
            progress.update(task, completed=event.get("step", 0), info="compiling" if event.get("compile") else "")
        elif event.get("event") == "train":
            loss = event.get("loss")
            info = f"loss {loss:.4g}" if isinstance(loss, (int, float)) else "loss not finite"
            progress.update(task, completed=event.get("step", 0), info=info)
        elif event.get("event") == "sample_progress":
            progress.update(task, completed=round(event["fraction"] * total))
        elif event.get("event") == "sample":
            progress.update(task, completed=event["done"], info=f"nfe {event['nfe']}")


def _parse_event(line: str) -> dict | None:
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        event = json.loads(line)
    except json.JSONDecodeError:
        return None
    return event if isinstance(event, dict) else None


def read_events(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [e for e in (_parse_event(line) for line in path.read_text().splitlines()) if e is not None]


def _reference(ir, run_dir: Path) -> np.ndarray:
    """reference.npz (sample.py writes it); rebuilt through the run's common.py when eval.n_reference
    changed since (scorec eval --set eval.n_reference=...)."""
    path = run_dir / "reference.npz"
    if path.is_file():
        reference = np.load(path)["samples"]
        if len(reference) == ir.eval.n_reference:
            return reference
    from .metrics.images import import_common

    reference = np.asarray(import_common(run_dir / "code").reference_data(ir.eval.n_reference, ir.seed + 2))
    atomic_write(path, lambda fh: np.savez(fh, samples=reference))
    return reference


def evaluate(compiled: Compiled, run_dir: Path, console: Console | None = None) -> dict:
    """Metrics of samples.npz, written to metrics.json, plus pictures and report.html.

    Point metrics (mmd, swd, c2st, energy_distance) compare with reference.npz; image metrics
    (fid, kid, is, precision_recall; data of shape (C, H, W)) compare features with the
    dataset's train split and add floors (the test split against the same reference)."""
    from .metrics import compute_metrics, mode_shares, total_variation
    from .metrics.images import IMAGE_METRICS, evaluate_images, import_common, load_image_data
    from .report import plot_loss, plot_samples, write_report

    console = console or Console(stderr=True)
    ir = compiled.ir
    samples = np.load(run_dir / "samples.npz")
    reference = _reference(ir, run_dir)
    x = samples["samples"]
    metrics: dict[str, float] = {"nfe": int(samples["nfe"])}
    # what the sampler reported (a Metropolis acceptance rate), averaged over samples
    metrics.update({key[len("stat_"):]: float(samples[key]) for key in samples.files if key.startswith("stat_")})
    finite = np.isfinite(x.reshape(len(x), -1)).all(axis=1)
    metrics["finite_fraction"] = float(finite.mean())
    if not finite.all():
        x = x[finite]
    point_names = [n for n in ir.eval.metrics if n not in IMAGE_METRICS]
    image_names = [n for n in ir.eval.metrics if n in IMAGE_METRICS]
    if len(x) > 1:
        metrics.update(compute_metrics(point_names, x, reference, seed=ir.seed))
        if image_names and len(ir.data.shape) == 3:
            from .metrics.features import FeatureError, MissingExtra

            data = load_image_data(import_common(run_dir / "code"), ir.seed)
            try:
                metrics.update(evaluate_images(image_names, x, data, ir.eval.features, ir.eval.n_reference,
                                               seed=ir.seed, log=console.print))
            except (MissingExtra, FeatureError) as exc:
                raise RunFailed(str(exc)) from None
        if "mixture" in registry.get("data", ir.data.kind).traits:  # the modes and their weights are known
            shares = mode_shares(x.reshape(len(x), -1), np.asarray(ir.data.means))
            metrics["mode_tv"] = total_variation(shares, np.asarray(ir.data.weights))
    if "normalized" in registry.get("objective", ir.objective.kind).traits and ir.trains:
        metrics.update(_log_likelihood(ir, run_dir))
    _write_json(run_dir / "metrics.json", metrics)
    plot_samples(x, reference, run_dir / "samples.png", title=f"{ir.name}: {ir.sampler.kind}, {metrics['nfe']} NFE")
    events = read_events(run_dir / "events.jsonl")
    if any("loss" in e for e in events):
        plot_loss(events, run_dir / "loss.png")
    write_report(run_dir, ir, metrics, console=console)
    return metrics


def _log_likelihood(ir, run_dir: Path) -> dict:
    """The trained model is a normalized density: its mean log p on held-out data (and, for a
    mixture, the data's own on the same points)."""
    from .metrics.images import import_common
    from .metrics.likelihood import held_out_log_likelihood

    mixture = None
    if "mixture" in registry.get("data", ir.data.kind).traits:
        mixture = (ir.data.weights, ir.data.means, ir.data.stds)
    return held_out_log_likelihood(import_common(run_dir / "code"), run_dir, ir.seed, mixture)


def _write_json(path: Path, obj: dict) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")
