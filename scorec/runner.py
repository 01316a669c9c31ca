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
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from .components import registry
from .emit import emit, write_files
from .files import TMP_SUFFIX, atomic_write_text
from .pipeline import Compiled


class RunFailed(Exception):
    """An emitted program exited with an error."""


LOCK_NAME = ".scorec.lock"
# Exit codes of the emitted programs (common.py) that come with one "error: ..." line on stderr.
PROGRAM_EXIT_CODES = {3: "diverged", 4: "cannot write", 5: "bad checkpoint"}


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
    files = emit(ir)
    for folder in (run_dir, code_dir, run_dir / "checkpoints"):
        remove_stale_temporaries(folder)
    # Decide before writing anything: code/ and spec.lock.json must keep describing the weights
    # in checkpoints/, so another model's checkpoint is refused here, not after rewriting them.
    checkpoint = run_dir / "checkpoints" / "last.pt"
    new_hash = json.loads(files["spec.lock.json"])["training_hash"]
    old_hash = _existing_training_hash(run_dir)
    if checkpoint.exists() and old_hash is not None and old_hash != new_hash:
        if not fresh:
            raise RunFailed(f"{run_dir} holds the checkpoint of another model (training hash {old_hash[:12]}..., "
                            f"this spec's is {new_hash[:12]}...); nothing was changed. Pass --fresh to start over "
                            "there, or choose another --out")
        checkpoint.unlink()  # --fresh: the directory is about to describe another model
    write_files(files, code_dir)
    shutil.copyfile(code_dir / "spec.lock.json", run_dir / "spec.lock.json")
    console.print(f"[bold]{ir.name}[/]: {ir.process.kind} process, {ir.parameterization.kind} "
                  f"{ir.network.kind}, {ir.sampler.kind} sampler -> {run_dir}")

    if ir.train is not None:
        extra = ["--fresh"] if fresh else []
        _run_program(code_dir / "train.py", run_dir, device, "train", ir.train.steps, extra, console, nproc)
    # sampling runs in one process (rank 0's job): it is short next to training
    _run_program(code_dir / "sample.py", run_dir, device, "sample", ir.sampler.n, [], console)

    metrics = evaluate(compiled, run_dir)
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
    """Hold an exclusive lock on the run directory for the whole run: a second `scorec run` on
    it stops at once and says who holds it. The lock file stays; the lock dies with its process."""
    try:
        import fcntl
    except ImportError:  # not a POSIX system: no locking
        yield
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / LOCK_NAME
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            raise RunFailed(f"{run_dir} is in use by another scorec run ({_describe_holder(fh.read())}); "
                            "wait for it to finish, or choose another --out") from None
        fh.seek(0)
        fh.truncate()
        fh.write(json.dumps({"pid": os.getpid(), "started": time.strftime("%Y-%m-%d %H:%M:%S"), "spec": name}) + "\n")
        fh.flush()
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _describe_holder(text: str) -> str:
    try:
        holder = json.loads(text)
        return f"pid {holder['pid']}, started {holder['started']}, spec '{holder['spec']}'"
    except (ValueError, KeyError, TypeError):
        return "it has not yet said who it is"


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


def evaluate(compiled: Compiled, run_dir: Path) -> dict:
    """Metrics of samples.npz against reference.npz, written to metrics.json, plus pictures."""
    from .metrics import compute_metrics, mode_shares, total_variation
    from .report import plot_loss, plot_samples

    ir = compiled.ir
    samples = np.load(run_dir / "samples.npz")
    reference = np.load(run_dir / "reference.npz")["samples"]
    x = samples["samples"]
    metrics: dict[str, float] = {"nfe": int(samples["nfe"])}
    # what the sampler reported (a Metropolis acceptance rate), averaged over samples
    metrics.update({key[len("stat_"):]: float(samples[key]) for key in samples.files if key.startswith("stat_")})
    finite = np.isfinite(x.reshape(len(x), -1)).all(axis=1)
    metrics["finite_fraction"] = float(finite.mean())
    if not finite.all():
        x = x[finite]
    if len(x) > 1:
        metrics.update(compute_metrics(list(ir.eval.metrics), x, reference, seed=ir.seed))
        if "mixture" in registry.get("data", ir.data.kind).traits:  # the modes and their weights are known
            shares = mode_shares(x.reshape(len(x), -1), np.asarray(ir.data.means))
            metrics["mode_tv"] = total_variation(shares, np.asarray(ir.data.weights))
    _write_json(run_dir / "metrics.json", metrics)
    plot_samples(x, reference, run_dir / "samples.png", title=f"{ir.name}: {ir.sampler.kind}, {metrics['nfe']} NFE")
    events = read_events(run_dir / "events.jsonl")
    if any("loss" in e for e in events):
        plot_loss(events, run_dir / "loss.png")
    return metrics


def _write_json(path: Path, obj: dict) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")
