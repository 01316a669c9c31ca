"""One job at a time holds a run directory: an exclusive lock on .scorec.lock, which names
the holder; and the cleanup of what a killed atomic write left behind."""

from __future__ import annotations

import json
import os
import time
from contextlib import contextmanager
from pathlib import Path

from ..core.files import TMP_SUFFIX
from . import RunFailed

LOCK_NAME = ".scorec.lock"


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
