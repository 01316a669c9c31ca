"""Run one emitted program as a subprocess (under torchrun for several processes, several
machines, or restarts).

Its JSON-lines events on stdout drive a live progress bar; its stderr goes to logs/, and
its tail is shown if the program fails (only its last "error: ..." line when it ends with
one of its documented exit codes; one line naming the endpoint when the machines never met).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from . import RunFailed

# Exit codes of the emitted programs (runtime.py) that come with one "error: ..." line on stderr.
PROGRAM_EXIT_CODES = {3: "diverged", 4: "cannot write", 5: "bad checkpoint", 6: "in use"}


# The phases of a run, each its own torchrun: its own rendezvous id and port (the endpoint's port, then the
# next one), so that a node that finishes training early never meets the previous phase's rendezvous.
PHASES = ("train", "sample")


class LaunchUsage(ValueError):
    """The launch options contradict each other (a usage error: exit 2)."""


@dataclass(frozen=True)
class Launch:
    """How the emitted programs start: one process; torchrun on this machine (nproc processes, restarted
    up to max_restarts times when one dies); or one node of nnodes meeting at rdzv_endpoint (torchrun's
    static rendezvous: node_rank fixes the global ranks, so node 0 holds rank 0 and alone writes)."""

    nproc: int = 1
    nnodes: int = 1
    node_rank: int = 0
    rdzv_endpoint: str | None = None  # HOST:PORT of node 0
    rdzv_id: str = "scorec"
    max_restarts: int = 0
    rdzv_timeout: int = 300  # seconds to wait for every node at the rendezvous

    @classmethod
    def checked(cls, nproc: int = 1, nnodes: int | None = None, node_rank: int | None = None,
                rdzv_endpoint: str | None = None, rdzv_id: str | None = None, max_restarts: int = 0,
                rdzv_timeout: int = 300) -> "Launch":
        """The launch the command line asks for, or LaunchUsage saying what contradicts what."""
        if node_rank is not None and nnodes is None:
            raise LaunchUsage("--node-rank needs --nnodes (how many machines take part)")
        if nnodes is not None and nnodes < 1:
            raise LaunchUsage(f"--nnodes must be at least 1 (got {nnodes})")
        nnodes = nnodes or 1
        if nnodes > 1 and node_rank is None:
            raise LaunchUsage(f"--nnodes {nnodes} needs --node-rank (this machine's number, 0 to {nnodes - 1})")
        node_rank = node_rank or 0
        if not 0 <= node_rank < nnodes:
            raise LaunchUsage(f"--node-rank {node_rank} is not one of 0..{nnodes - 1} (--nnodes {nnodes})")
        if nnodes > 1 and rdzv_endpoint is None:
            raise LaunchUsage(f"--nnodes {nnodes} needs --rdzv-endpoint HOST:PORT (node 0's address, "
                              "where the machines meet)")
        if rdzv_endpoint is not None:
            if nnodes == 1:
                raise LaunchUsage("--rdzv-endpoint is for several machines: give --nnodes and --node-rank too")
            host, _, port = rdzv_endpoint.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65535:
                raise LaunchUsage(f"--rdzv-endpoint {rdzv_endpoint!r} is not HOST:PORT (a port below 65535: "
                                  "the run uses PORT and PORT + 1)")
        if rdzv_id is not None and nnodes == 1:
            raise LaunchUsage("--rdzv-id names a rendezvous of several machines: give --nnodes too")
        if nproc < 1:
            raise LaunchUsage(f"--nproc must be at least 1 (got {nproc})")
        if max_restarts < 0:
            raise LaunchUsage(f"--max-restarts must be 0 or more (got {max_restarts})")
        if rdzv_timeout < 1:
            raise LaunchUsage(f"--rdzv-timeout must be at least 1 second (got {rdzv_timeout})")
        return cls(nproc, nnodes, node_rank, rdzv_endpoint, rdzv_id or "scorec", max_restarts, rdzv_timeout)

    @property
    def world(self) -> int:
        """Processes in all: the global batch is split over them."""
        return self.nnodes * self.nproc

    @property
    def writes(self) -> bool:
        """Whether this node holds global rank 0, which alone writes the run directory."""
        return self.node_rank == 0

    def endpoint(self, phase: str) -> str:
        host, _, port = (self.rdzv_endpoint or "").rpartition(":")
        return f"{host}:{int(port) + PHASES.index(phase)}"

    def command(self, phase: str) -> list[str]:
        """The launcher's part of the command line: [] for one plain process, else torchrun's."""
        if self.nnodes == 1 and self.nproc == 1 and self.max_restarts == 0:
            return []
        run = ["-m", "torch.distributed.run", f"--nproc-per-node={self.nproc}", f"--max-restarts={self.max_restarts}"]
        if self.nnodes == 1:
            return [*run, "--standalone"]
        return [*run, f"--nnodes={self.nnodes}", f"--node-rank={self.node_rank}", "--rdzv-backend=static",
                f"--rdzv-endpoint={self.endpoint(phase)}", f"--rdzv-id={self.rdzv_id}-{phase}",
                f"--rdzv-conf=timeout={self.rdzv_timeout}"]


# What torchrun's agent raises when the machines never meet (refused, unreachable, or too few nodes in time).
RENDEZVOUS_ERRORS = ("DistNetworkError", "DistStoreError", "RendezvousTimeoutError", "RendezvousConnectionError")


def run_program(script: Path, run_dir: Path, device: str, label: str, total: int, extra: list[str],
                 console: Console, launch: Launch = Launch(), log_dir: Path | None = None) -> None:
    """Run one emitted program with a progress bar fed by its events; under PyTorch's own launcher
    (torchrun: python -m torch.distributed.run) when `launch` asks for several processes, machines or
    restarts. Its stderr goes to log_dir (default RUN_DIR/logs)."""
    log_dir = log_dir or run_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    stderr_path = log_dir / f"{label}.stderr"
    cmd = [sys.executable, "-u", *launch.command(label), str(script), "--out", str(run_dir), "--device", device,
           *extra]
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
               TimeElapsedColumn(), TimeRemainingColumn())
    with open(stderr_path, "w") as stderr, Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(label, total=total, info="")
        # names this launch: after a restart (--max-restarts) with --fresh, train.py resumes only what it saved
        env = {**os.environ, "SCOREC_LAUNCH": uuid.uuid4().hex}
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=stderr, text=True, bufsize=1, env=env)
        try:
            _follow(proc, progress, task, total)
        except BaseException:  # Ctrl-C included: never leave the program running behind us
            proc.kill()
            proc.wait()
            raise
        code = proc.wait()
    if code != 0:
        raise RunFailed(_failure(script.name, code, stderr_path, launch, label))


def _failure(program: str, code: int, stderr_path: Path, launch: Launch = Launch(), phase: str = "train") -> str:
    """What to tell about a failed program: its own one-line message when it ended with one of
    its documented exit codes, the rendezvous that never completed, the signal that killed it, or
    else the tail of its stderr."""
    lines = stderr_path.read_text(errors="replace").strip().splitlines()
    said = [line for line in lines if line.startswith("error: ")]
    met = [line for line in lines if line.startswith(RENDEZVOUS_ERRORS) or line.startswith("torch.distributed.Dist")]
    if launch.nnodes > 1 and met and not said:
        detail = met[-1].split(": ", 1)[-1]
        return (f"{program}: the {launch.nnodes} machines did not meet at {launch.endpoint(phase)} within "
                f"--rdzv-timeout {launch.rdzv_timeout} s (this is node {launch.node_rank}: {detail}); start "
                f"scorec run with the same --nnodes and --rdzv-endpoint on every machine, node 0 on the "
                f"endpoint's host, and check that its ports {launch.endpoint('train').rpartition(':')[2]} and "
                f"{launch.endpoint('sample').rpartition(':')[2]} are reachable from here (log: {stderr_path})")
    torchrun = bool(launch.command(phase))  # which exits 1 whatever its worker's code was
    if said and (code in PROGRAM_EXIT_CODES or (torchrun and code == 1)):
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
