"""One job at a time holds a run directory: the emitted programs' own lock (runtime.RunLock on
.scorec.lock, which names the holder); and the cleanup of what a killed atomic write left behind."""

from __future__ import annotations

import importlib.util
import sys
from contextlib import ExitStack, contextmanager
from pathlib import Path

from ..core.files import TMP_SUFFIX
from ..emit.render import runtime_file
from . import RunFailed


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
    runtime = emitted_runtime()
    with ExitStack() as held:
        try:
            held.enter_context(runtime.RunLock(run_dir, name, "scorec run"))
        except runtime.RunDirectoryInUse as exc:
            raise RunFailed(str(exc)) from None
        yield


def emitted_runtime():
    """templates/runtime.py as a module (imported once; it imports torch)."""
    name = "scorec_emitted_runtime"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, runtime_file())
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
    return sys.modules[name]
