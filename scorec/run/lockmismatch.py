"""What `scorec run` says when a run directory was made from another spec or environment.

The run directory's spec.lock.json records the resolved spec, the IR hashes and the
versions of torch and numpy it ran under. Before touching the directory, `scorec run`
compares it with the spec at hand through the semantic diff (specdiff.py):

* another trained model (training hash differs) and a checkpoint there: refused, listing
  the fields that changed and the ways out (--fresh, a new --out);
* the same trained model with other sampling, evaluation or schedule settings: a note
  listing the fields, and the cheaper command (scorec sample) when only sampling differs;
* another torch or numpy than the checkpoint was written under: a note, not a refusal.
  A checkpoint is a state dict of tensors that loads across versions, and refusing
  would strand every run at each upgrade; what can differ is the last digits of a
  resumed or resampled run, and the note says so (--fresh retrains under the new ones).
"""

from __future__ import annotations

from pathlib import Path

from ..core.diagnostics import SpecError, SpecErrors
from ..emit.lockfile import LOCK_NAME, installed_versions, read_lock, version_notes
from ..pipeline import Compiled, compile_spec
from ..tools.specdiff import Side, SpecDiff, change_lines, diff_sides, side_of, verdict

INDENT = "    "


def lock_changes(compiled: Compiled, run_dir: Path) -> SpecDiff | None:
    """The diff from the run directory's lock to this spec; None when there is no usable lock."""
    lock = read_lock(run_dir)
    old = _lock_side(lock, Path(run_dir))
    return None if old is None else diff_sides(old, side_of(compiled))


def _lock_side(lock: dict, run_dir: Path) -> Side | None:
    hashes = lock.get("spec_hash"), lock.get("training_hash")
    if not all(isinstance(h, str) for h in hashes):
        return None
    spec = lock.get("spec")
    if not isinstance(spec, dict):  # a lock of an older scorec: the run's spec.yaml is the resolved spec
        spec = _run_spec(run_dir)
    if spec is None:
        return None
    ir = lock.get("ir")
    trains = isinstance(ir, dict) and ir.get("train") is not None
    return Side(spec, hashes[0], hashes[1], trains)


def _run_spec(run_dir: Path) -> dict | None:
    try:
        return compile_spec(run_dir / "spec.yaml").spec.model_dump(mode="json")
    except (SpecError, SpecErrors, OSError):
        return None


def _fields(diff: SpecDiff | None) -> str:
    if diff is None or not diff.changes:
        return f"{INDENT}(its lock does not record the fields)"
    return "\n".join(INDENT + line for line in change_lines(diff))


def another_model_message(run_dir: Path, diff: SpecDiff | None, old_hash: str, new_hash: str) -> str:
    """Why `scorec run` refuses a directory holding another model's checkpoint, and what to do."""
    return (f"{run_dir} holds the checkpoint of another model; nothing was changed. This spec differs from "
            f"its {LOCK_NAME} in:\n{_fields(diff)}\n"
            f"so the training differs (training hash {old_hash[:12]}... → {new_hash[:12]}...). To train this spec, "
            f"pass --fresh (replaces the checkpoint in {run_dir}) or choose a new --out")


def lock_notes(run_dir: Path, diff: SpecDiff | None, fresh: bool, has_checkpoint: bool) -> list[str]:
    """Notes for a run that goes ahead in a directory made from another spec or environment."""
    notes = []
    if diff is not None and diff.changes:
        if fresh:
            then = "--fresh: training starts over"
        elif not diff.same_training:
            then = "another model, and no checkpoint there to keep: the run starts from scratch"
        else:
            then = verdict(diff, str(run_dir))
        notes.append(f"note: this spec differs from {run_dir}/{LOCK_NAME} in:\n{_fields(diff)}\n{INDENT}{then}")
    if has_checkpoint:
        notes += environment_notes(run_dir)
    return notes


def environment_notes(run_dir: Path) -> list[str]:
    """A note when the run's checkpoint was written under another torch or numpy than installed."""
    changed = version_notes(read_lock(run_dir), installed_versions())
    if not changed:
        return []
    return [f"note: {run_dir} was run under {', '.join(changed)}; its checkpoint is reused (weights load across "
            "versions), but resumed training and sampling may differ in the last digits from a run under one "
            "version; --fresh retrains under the installed ones"]
