"""A content-addressed on-disk cache of compile-time derivations (an `sde` process's kernel).

Deriving a kernel imports sympy (about 0.8 s) and may spend seconds integrating; the same
equation gives the same result, so `scorec check` of a spec seen before need not redo it.
An entry's key is the sha256 of everything the result depends on: the caller's inputs
(the inlined equation's Exprs), the versions of scorec, sympy and numpy, and the source of
the modules that compute it (so an edit of the derivation invalidates old entries).

    location   $SCOREC_KERNEL_CACHE, else kernels/ in scorec's cache ($SCOREC_CACHE, else
               $XDG_CACHE_HOME/scorec, else ~/.cache/scorec: where image features are cached);
               SCOREC_KERNEL_CACHE=off turns the cache off
    entries    <location>/<key>.json, written atomically (write beside, then rename)

A cache never changes a result: an entry that cannot be read or parsed, or that the caller
rejects, is ignored and rewritten; a location that cannot be written is not an error.
Entries are trusted like the user's own files: the caller checks their shape (and a closed
form against its tables), so damage is caught, but a hand-edited table of the right shape
would be used as it is.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from ... import __version__
from ...core.files import atomic_write_text

CACHE_ENV = "SCOREC_KERNEL_CACHE"
OFF = "off"
FORMAT = 1  # bump when the entries' layout changes
# Packages whose versions can change a derivation's result (sympy's integrator, numpy's quadrature).
_DEPENDENCIES = ("sympy", "numpy")


def cache_dir() -> Path | None:
    """Where entries live; None when the cache is turned off."""
    chosen = os.environ.get(CACHE_ENV)
    if chosen:
        return None if chosen.strip().lower() == OFF else Path(chosen)
    if os.environ.get("SCOREC_CACHE"):
        return Path(os.environ["SCOREC_CACHE"]) / "kernels"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "scorec" / "kernels"


@lru_cache(maxsize=None)
def _environment() -> tuple:
    from importlib.metadata import PackageNotFoundError, version

    def installed(name: str) -> str | None:
        try:
            return version(name)
        except PackageNotFoundError:
            return None

    return (FORMAT, __version__, *(installed(name) for name in _DEPENDENCIES))


@lru_cache(maxsize=None)
def _source_digest(paths: tuple[str, ...]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        try:
            digest.update(Path(path).read_bytes())
        except OSError:  # installed without its sources (a zip): the versions still key the entry
            digest.update(path.encode())
    return digest.hexdigest()


def key(inputs: Any, sources: tuple[str, ...]) -> str:
    """sha256 of the inputs (JSON), the environment and the source files of the derivation."""
    payload = {"inputs": inputs, "environment": _environment(), "source": _source_digest(sources)}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _entry(name: str) -> Path | None:
    folder = cache_dir()
    return None if folder is None else folder / f"{name}.json"


def get(name: str) -> Any | None:
    """The stored JSON value, or None (no cache, no entry, or an unreadable one)."""
    path = _entry(name)
    if path is None:
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))["value"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def put(name: str, value: Any) -> None:
    """Store a JSON value atomically; a cache that cannot be written is silently skipped."""
    path = _entry(name)
    if path is None:
        return
    try:
        atomic_write_text(path, json.dumps({"format": FORMAT, "value": value}, sort_keys=True))
    except (OSError, ValueError):
        pass
