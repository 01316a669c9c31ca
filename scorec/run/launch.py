"""Run one emitted program as a subprocess (under torchrun for several processes).

Its JSON-lines events on stdout drive a live progress bar; its stderr goes to logs/, and
its tail is shown if the program fails (only its last "error: ..." line when it ends with
one of its documented exit codes).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from . import RunFailed

# Exit codes of the emitted programs (runtime.py) that come with one "error: ..." line on stderr.
PROGRAM_EXIT_CODES = {3: "diverged", 4: "cannot write", 5: "bad checkpoint", 6: "in use"}


def run_program(script: Path, run_dir: Path, device: str, label: str, total: int, extra: list[str],
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
        event = parse_event(line)
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
        elif event.get("event") == "likelihood_start":  # the points there are (a small test split: fewer)
            total = event["total"]
            progress.update(task, total=total)
        elif event.get("event") == "likelihood_progress":
            progress.update(task, completed=round(event["fraction"] * total))
        elif event.get("event") == "likelihood":
            progress.update(task, completed=event["done"], info=f"nfe {event['nfe']} per batch")


def parse_event(line: str) -> dict | None:
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
    return [e for e in (parse_event(line) for line in path.read_text().splitlines()) if e is not None]
