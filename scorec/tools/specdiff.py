"""Semantic diff of two specs: which resolved fields differ, and what that means for a run.

Both sides are *resolved* specs (the validated Spec dumped to JSON, every default explicit,
as `scorec ir --stage spec` prints it), so `steps: 500` written out and `steps` left at its
default of 500 are the same. Fields are compared by dotted path (`sample.corrector.snr`);
lists are compared whole. The verdict comes from the IR hashes, not from the field names:
the training hash (ir.training_hash) says whether the trained weights would mean something
else, the spec hash whether the emitted programs differ at all.

Used by `scorec diff A B` and by `scorec run` on a run directory whose spec.lock.json
records another spec. Nothing here imports torch, numpy or sympy.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from typing import Any

from ..core.ir import spec_hash, training_hash
from ..pipeline import Compiled
from ..schema.query import TAG_FIELDS


class _Missing:
    """A field one side does not have (another component kind takes other options)."""

    def __repr__(self) -> str:
        return "(unset)"


MISSING: Any = _Missing()
# Sections that `scorec sample` / `scorec eval` may change on a trained run (run/jobs.py takes them from here).
RESAMPLE_SECTIONS = ("sample", "eval")
# train fields that say for how long (or how verbosely) to train, not what: ir._SCHEDULE_FIELDS.
_SCHEDULE_PATHS = ("train.steps", "train.checkpoint_every", "train.log_every")


@dataclass(frozen=True)
class Side:
    """What the diff needs of one spec: its resolved form and its IR hashes."""

    spec: dict  # the resolved spec, as JSON
    spec_hash: str
    training_hash: str
    trains: bool  # whether anything is trained (an exact score trains nothing)


@dataclass(frozen=True)
class Change:
    path: str  # dotted, e.g. sample.steps
    old: Any  # MISSING where A has no such field
    new: Any  # MISSING where B has no such field


@dataclass(frozen=True)
class SpecDiff:
    changes: tuple[Change, ...]
    same_program: bool  # equal spec hashes: the emitted programs are the same
    same_training: bool  # equal training hashes: a checkpoint of A is a checkpoint of B
    trains: bool

    @property
    def identical(self) -> bool:
        return not self.changes and self.same_program


def side_of(compiled: Compiled) -> Side:
    return Side(compiled.spec.model_dump(mode="json"), spec_hash(compiled.ir), training_hash(compiled.ir),
                compiled.ir.trains)


def diff_sides(a: Side, b: Side) -> SpecDiff:
    return SpecDiff(tuple(field_changes(a.spec, b.spec)), a.spec_hash == b.spec_hash,
                    a.training_hash == b.training_hash, a.trains or b.trains)


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """{dotted path: value} of the leaves of nested dicts; lists and empty dicts are leaves.
    A section's component tag (kind, source, sampler) comes first: it says what the rest means."""
    if not isinstance(tree, dict) or (not tree and prefix):
        return {prefix: tree}
    out: dict[str, Any] = {}
    for key, value in sorted(tree.items(), key=lambda item: item[0] not in TAG_FIELDS):
        out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def field_changes(old: dict, new: dict) -> list[Change]:
    """The fields whose values differ, in the order the spec states them (B's order, with
    fields only A has placed after their predecessor in A)."""
    a, b = flatten(old), flatten(new)
    order = list(b)
    previous = None
    for path in a:
        if path not in b:
            at = order.index(previous) + 1 if previous in order else len(order)
            order.insert(at, path)
        previous = path
    return [Change(p, a.get(p, MISSING), b.get(p, MISSING)) for p in order
            if a.get(p, MISSING) != b.get(p, MISSING) or type(a.get(p)) is not type(b.get(p))]


_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def show(value: Any) -> str:
    """A value as the diff prints it: names bare, other strings quoted, the rest as JSON."""
    if value is MISSING:
        return "(unset)"
    if isinstance(value, str) and _PLAIN.match(value) and value not in ("true", "false", "null"):
        return value
    return json.dumps(value, separators=(", ", ": "))


def change_lines(diff: SpecDiff) -> list[str]:
    return [f"{c.path}: {show(c.old)} → {show(c.new)}" for c in diff.changes]


def set_options(diff: SpecDiff) -> str:
    """--set options that turn A's run into B's for the fields B states (shell-quoted)."""
    return " ".join(f"--set {shlex.quote(f'{c.path}={show(c.new)}')}" for c in diff.changes if c.new is not MISSING)


def verdict(diff: SpecDiff, run_dir: str = "RUN_DIR") -> str:
    """What the difference means for a run of A: nothing, resample, resume, or retrain."""
    if diff.identical:
        return "identical: both specs resolve to the same fields"
    if not diff.changes:  # equal resolved specs whose lowering differs (another scorec, a timed-out derivation)
        return "the resolved fields are equal but the programs differ (spec hash): recompile"
    sections = {c.path.split(".")[0] for c in diff.changes}
    if not diff.same_training:
        return f"training differs → retrain needed (scorec run SPEC --fresh --out {run_dir}, or a new --out)"
    if diff.same_program:
        return "same program: the emitted code is identical (the fields that differ are unused by this spec)"
    schedule = [c.path for c in diff.changes if c.path in _SCHEDULE_PATHS]
    if diff.trains and schedule:
        return (f"same model, another training schedule ({', '.join(schedule)}) → "
                f"scorec run SPEC --out {run_dir} resumes from the run's checkpoint")
    if sections <= set(RESAMPLE_SECTIONS):
        command = "sample" if "sample" in sections else "eval"
        return (f"only sampling/eval differ → resample/re-evaluate only "
                f"(scorec {command} {run_dir} {set_options(diff)})")
    return "same trained model; the run's name or unused training settings differ → no retraining needed"


def render(diff: SpecDiff, run_dir: str = "RUN_DIR") -> str:
    """The report of `scorec diff`: one line per changed field, then the verdict."""
    return "\n".join(change_lines(diff) + [verdict(diff, run_dir)]) + "\n"
