"""The three jobs on a run directory: `scorec run` (compile into it, train, sample,
evaluate), `scorec sample` (new samples from its trained model) and `scorec eval` (new
metrics from its samples). Each holds the directory's lock throughout (lock.py)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from rich.console import Console

from ..core.files import atomic_write_text
from ..core.ir import canonical_json
from ..emit.render import write_files
from ..metrics.registry import summary
from ..pipeline import Compiled
from . import RunFailed
from .conditional import sample_sweep
from .evaluate import evaluate
from .launch import Launch, run_program
from .lock import remove_stale_temporaries, run_lock
from .lockmismatch import another_model_message, environment_notes, lock_changes, lock_notes


def run_spec(compiled: Compiled, run_dir: str | os.PathLike, device: str = "auto", fresh: bool = False,
             console: Console | None = None, launch: Launch = Launch()) -> dict | None:
    """Compile into run_dir, train (under torchrun for several processes or machines), sample, evaluate.
    On a machine other than node 0 of several: train and sample only (its ranks write nothing), and None."""
    console = console or Console(stderr=True)
    ir = compiled.ir
    run_dir = Path(run_dir)
    if ir.train is not None and ir.train.batch_size % launch.world:
        over = f"--nproc {launch.nproc}" + (f" x --nnodes {launch.nnodes}" if launch.nnodes > 1 else "")
        raise RunFailed(f"train.batch_size {ir.train.batch_size} does not split evenly over {over}: "
                        "the global batch is train.batch_size whatever the number of processes")
    if not launch.writes:
        return _run_on_another_node(compiled, run_dir, device, fresh, console, launch)
    with run_lock(run_dir, ir.name):
        return _run_locked(compiled, run_dir, device, fresh, console, launch)


def _run_on_another_node(compiled: Compiled, run_dir: Path, device: str, fresh: bool, console: Console,
                         launch: Launch) -> None:
    """Node R > 0 of several: its own copy of the programs (the same bytes node 0 writes into code/) and
    its logs in a private folder; its ranks read RUN_DIR (a shared file system) and write nothing there."""
    ir = compiled.ir
    with tempfile.TemporaryDirectory(prefix=f"scorec-{ir.name}-node{launch.node_rank}-") as private:
        code_dir = Path(private) / "code"
        write_files(compiled.emitted(), code_dir)
        console.print(f"[bold]{ir.name}[/]: node {launch.node_rank} of {launch.nnodes}, meeting at "
                      f"{launch.rdzv_endpoint}; node 0 writes {run_dir}")
        logs = Path(private) / "logs"
        if ir.train is not None:
            run_program(code_dir / "train.py", run_dir, device, "train", ir.train.steps, ["--fresh"] if fresh else [],
                        console, launch, logs)
        run_program(code_dir / "sample.py", run_dir, device, "sample", ir.sampler.n, [], console, launch, logs)
    console.print(f"node {launch.node_rank}: done; node 0 evaluates and writes the report")
    return None


def _run_locked(compiled: Compiled, run_dir: Path, device: str, fresh: bool, console: Console,
                launch: Launch = Launch()) -> dict:
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
        run_program(code_dir / "train.py", run_dir, device, "train", ir.train.steps, extra, console, launch)
    # sampling shares its batches out over the same processes; rank 0 gathers them into samples.npz
    run_program(code_dir / "sample.py", run_dir, device, "sample", ir.sampler.n, [], console, launch)
    sample_sweep(compiled, run_dir, device, console, launch)  # issue 16: a guidance sweep's other scales

    metrics = evaluate(compiled, run_dir, console, device)
    print_metrics(metrics, console)
    return metrics


def print_metrics(metrics: dict, console: Console) -> None:
    """One line per metric, its floor and ratio beside it: `swd 0.043 (floor 0.021, 2.0x)`."""
    console.print("metrics:\n" + "\n".join(f"  {line}" for line in summary(metrics)), markup=False, highlight=False)


RUN_SPEC = "spec.yaml"
# What `scorec eval` may change in a finished run (`scorec sample`: tools/specdiff.py RESAMPLE_SECTIONS);
# the rest is the trained model.
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
             launch: Launch = Launch()) -> dict:
    """scorec sample: draw new samples from a trained run with (possibly) new sampling settings,
    then evaluate and report. The weights must be this model's: same training hash. With several
    processes sample.py runs under torchrun and the processes share the batches out."""
    console = console or Console(stderr=True)
    ir = compiled.ir
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
        run_program(run_dir / "code" / "sample.py", run_dir, device, "sample", ir.sampler.n, [], console, launch)
        sample_sweep(compiled, run_dir, device, console, launch)  # issue 16: a guidance sweep's other scales
        metrics = evaluate(compiled, run_dir, console, device)
    print_metrics(metrics, console)
    return metrics


def reevaluate(compiled: Compiled, run_dir: Path, console: Console | None = None, device: str = "auto") -> dict:
    """scorec eval: recompute metrics.json and the report from the run's samples.npz (and the
    likelihood metrics from its trained model, on `device`), with (possibly) new evaluation
    settings. Everything but `eval` must be the run's own."""
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
        metrics = evaluate(compiled, run_dir, console, device)
    print_metrics(metrics, console)
    return metrics


def _existing_training_hash(run_dir: Path) -> str | None:
    """The training hash the run directory's weights were made under: its spec.lock.json says."""
    try:
        lock = json.loads((run_dir / "spec.lock.json").read_text())
    except (OSError, ValueError):
        return None  # no lock (train.py run by hand): train.py itself checks the checkpoint's hash
    value = lock.get("training_hash") if isinstance(lock, dict) else None
    return value if isinstance(value, str) else None


