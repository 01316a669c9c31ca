"""spec.lock.json: what a compiled directory (and a run directory) was made from.

    scorec_version   the compiler that emitted the code
    spec_hash        sha256 of the canonical IR (ir.spec_hash): equal for the same program
    training_hash    what the trained weights depend on (ir.training_hash)
    ir               the canonical IR
    spec             the resolved spec (every default explicit), as `scorec ir --stage spec`
    files            sha256 of each emitted program file (the runtime*.py modules, the same for every spec, included)
    versions         scorec, torch and numpy as installed when the lock was written

`versions` describes the environment, not the spec: `emit` writes it only when asked
(`scorec compile` and `scorec run` do), so golden records of emitted code stay the same
on every machine. The versions are read from the installed packages' metadata
(importlib.metadata), never by importing torch: compiling stays torch-free and fast.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from .. import __version__
from ..core.ir import ProgramIR, canonical_json, spec_hash, training_hash

LOCK_NAME = "spec.lock.json"
# The packages whose versions a lock records (scorec's own is __version__).
VERSIONED = ("torch", "numpy")


def installed_versions() -> dict[str, str | None]:
    """{package: version} of scorec, torch and numpy as installed (None: not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {"scorec": __version__}
    for name in VERSIONED:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def lock_text(ir: ProgramIR, spec: dict | None = None, versions: dict | None = None,
              files: dict[str, str] | None = None) -> str:
    """The lock's JSON text: sorted keys, so the same inputs give the same bytes. `files`: the
    emitted programs {name: text}, recorded by their sha256."""
    lock: dict[str, Any] = {
        "scorec_version": __version__,
        "spec_hash": spec_hash(ir),
        "training_hash": training_hash(ir),
        "ir": json.loads(canonical_json(ir)),
    }
    if spec is not None:
        lock["spec"] = spec
    if versions is not None:
        lock["versions"] = versions
    if files:
        lock["files"] = {name: hashlib.sha256(text.encode("utf-8")).hexdigest() for name, text in files.items()}
    return json.dumps(lock, indent=2, sort_keys=True) + "\n"


def read_lock(run_dir: str | Path) -> dict:
    """RUN_DIR/spec.lock.json as a dict; {} when it is missing or unreadable."""
    try:
        lock = json.loads((Path(run_dir) / LOCK_NAME).read_text())
    except (OSError, ValueError):
        return {}
    return lock if isinstance(lock, dict) else {}


def version_notes(lock: dict, installed: dict[str, str | None]) -> list[str]:
    """One line per package (torch, numpy) whose version differs from the lock's."""
    recorded = lock.get("versions")
    if not isinstance(recorded, dict):
        return []
    return [f"{name} {recorded.get(name)} (now {installed.get(name)})" for name in VERSIONED
            if name in recorded and recorded.get(name) != installed.get(name)]
