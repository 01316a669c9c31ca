"""The run plumbing of scorec's emitted programs: the same for every spec.

scorec copies this file and its siblings (runtime_parallel.py: processes and sharding;
runtime_training.py: checkpoints and the training loop's bookkeeping; runtime_sampling.py: the
sampling share; runtime_trackers.py: the experiment trackers of train.log) verbatim beside train.py
and sample.py, which import what they use from each. This one holds what the others build on:
failures and exit codes, atomic files, the run lock, a program's entry and arguments, and the event
log. None knows anything of the model: what differs between specs (the training hash, the network,
the objective's state) comes in as arguments. They import only torch, numpy, the standard library and
each other (runtime <- runtime_parallel <- runtime_training, runtime_sampling; runtime <-
runtime_trackers, which imports a tracker's library only when train.log names it: no cycles), and
are unit-tested as Python (scorec's tests/test_runtime*.py).

The EXIT_* codes below are train.py's and sample.py's, each with one line "error: ..." on stderr;
`scorec run` reports any of them as a runtime error (its own exit 1).
"""

import argparse
import contextlib
import errno
import json
import math
import os
import sys
import tempfile
import time

import numpy as np
import torch
import torch.distributed as dist

EXIT_MISSING_PACKAGE = 1  # an optional package the spec needs (a tracker of train.log) is not installed
EXIT_USAGE = 2  # a command line (argparse's own exit), or a batch that does not split over the processes
EXIT_DIVERGED = 3  # the loss or its gradient stopped being finite; no checkpoint holds weights from after
EXIT_IO = 4  # a file of the run directory cannot be written (read-only, not a directory, disk full, size limit)
EXIT_CHECKPOINT = 5  # checkpoints/last.pt is missing, unreadable, or not one of this model's
EXIT_IN_USE = 6  # another run (scorec run, train.py or sample.py) holds the run directory's lock

# Temporary files of the atomic writer are named .NAME.XXXXXXXX.scorec-tmp: a kill while
# writing leaves one behind, and prepare_folder recognises it as ours.
TMP_SUFFIX = ".scorec-tmp"
LOCK_NAME = ".scorec.lock"  # in the run directory; it names its holder
# While a process holds a run directory's lock, this variable carries the lock's token to the
# programs it starts (scorec run's train.py and sample.py, torchrun's workers): they run inside it.
LOCK_TOKEN_VARIABLE = "SCOREC_RUN_LOCK"
CHECKPOINT = os.path.join("checkpoints", "last.pt")  # in the run directory


def fail(code, message):
    """Exit with `code` and one line on stderr: a user's mistake or the machine's, never a traceback."""
    print(f"error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(code)


def first_line(exc):
    """An exception's first line, or its type's name when it says nothing (an empty file's EOFError)."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def io_error_message(exc):
    """One line for an OSError: the file and the operating system's reason."""
    where = f"{exc.filename}: " if exc.filename else ""
    return f"cannot write the run directory: {where}{exc.strerror or exc}"


# ------------------------------------------------------------------------------ atomic writes


def atomic_write(path, write):
    """Call write(temporary path) beside `path`, then rename: never a half-written file."""
    folder, name = os.path.split(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=TMP_SUFFIX)
    os.close(fd)
    try:
        try:
            write(tmp)
        except RuntimeError as exc:  # torch.save's own word for a failed write is "unexpected pos"
            raise OSError(errno.EIO, write_failure_cause(folder, exc), path) from None
        os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp makes it private; a plain open would not
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_failure_cause(folder, exc):
    """The likely cause of a failed torch.save: a full disk, or a file-size limit (ulimit -f)."""
    stats = os.statvfs(folder) if hasattr(os, "statvfs") else None
    if stats is not None and stats.f_bavail * stats.f_frsize < 1 << 20:
        return "No space left on device"
    try:
        import resource
        limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
        if limit != resource.RLIM_INFINITY:
            return f"File too large (over the file-size limit, ulimit -f, of {limit} bytes)"
    except ImportError:  # not a POSIX system
        pass
    lines = str(exc).strip().splitlines()
    return lines[-1] if lines else type(exc).__name__


def atomic_save(obj, path):
    """torch.save, atomically."""
    atomic_write(path, lambda tmp: torch.save(obj, tmp))


def atomic_savez(path, **arrays):
    """np.savez, atomically (to an open file, so numpy adds no .npz suffix)."""
    def write(tmp):
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
    atomic_write(path, write)


def prepare_folder(folder):
    """Create `folder` and write a file in it now, so that a read-only run directory fails before
    any work is done rather than at the first checkpoint; then delete the temporaries a killed
    atomic write left there (only ours, by their name)."""
    os.makedirs(folder, exist_ok=True)
    fd, probe = tempfile.mkstemp(dir=folder, prefix=".probe.", suffix=TMP_SUFFIX)
    os.close(fd)
    os.unlink(probe)
    for name in os.listdir(folder):
        if name.startswith(".") and name.endswith(TMP_SUFFIX):
            os.unlink(os.path.join(folder, name))


# ------------------------------------------------------------------------------ the run lock


class RunDirectoryInUse(Exception):
    """Another run holds the run directory's lock; the message names it."""


class RunLock:
    """An exclusive lock on a run directory (flock on RUN_DIR/.scorec.lock, which names its holder):
    one run writes a directory at a time. The file stays; the lock dies with its process. While it
    is held, LOCK_TOKEN_VARIABLE tells the programs this process starts that they run inside it."""

    def __init__(self, run_dir, spec, program):
        self.run_dir, self.spec, self.program = str(run_dir), spec, program
        self.file, self.outer_token = None, None

    def __enter__(self):
        try:
            import fcntl
        except ImportError:  # not a POSIX system: no locking
            return self
        os.makedirs(self.run_dir, exist_ok=True)
        fh = open(os.path.join(self.run_dir, LOCK_NAME), "a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = lock_holder(fh.read())
            fh.close()
            if holder.get("token") == os.environ.get(LOCK_TOKEN_VARIABLE, False) and holder.get("pid") != os.getpid():
                return self  # started by the holder, inside its lock
            raise RunDirectoryInUse(f"{self.run_dir} is in use by {describe_holder(holder)}; "
                                    "wait for it to finish, or choose another --out") from None
        token = os.urandom(8).hex()
        fh.seek(0)
        fh.truncate()
        fh.write(json.dumps({"pid": os.getpid(), "started": time.strftime("%Y-%m-%d %H:%M:%S"), "spec": self.spec,
                             "program": self.program, "token": token}) + "\n")
        fh.flush()
        self.file, self.outer_token = fh, os.environ.get(LOCK_TOKEN_VARIABLE)
        os.environ[LOCK_TOKEN_VARIABLE] = token
        return self

    def __exit__(self, *exc_info):
        if self.file is None:
            return
        if self.outer_token is None:
            os.environ.pop(LOCK_TOKEN_VARIABLE, None)
        else:
            os.environ[LOCK_TOKEN_VARIABLE] = self.outer_token
        self.file.close()  # closing the last descriptor of the open file releases the flock
        self.file = None


def lock_holder(text):
    try:
        holder = json.loads(text)
    except ValueError:
        return {}
    return holder if isinstance(holder, dict) else {}


def describe_holder(holder):
    try:
        what = "another scorec run" if holder.get("program", "scorec run") == "scorec run" else holder["program"]
        return f"{what} (pid {holder['pid']}, started {holder['started']}, spec '{holder['spec']}')"
    except KeyError:
        return "another scorec run (it has not yet said who it is)"


# ------------------------------------------------------------------------------ programs


def program_arguments(doc):
    """The options every program takes (--out, --device); each adds its own."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="run directory")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    return parser


def run_program(work, args, spec, program):
    """work(args) in the run directory args.out, holding its lock (under torchrun, rank 0 takes it
    for all and checks that it can write there); the machine's failures are one line and an exit
    code, never a traceback."""
    first = int(os.environ.get("RANK", "0")) == 0
    try:
        with RunLock(args.out, spec, program) if first else contextlib.nullcontext():
            if first:
                prepare_folder(args.out)
            work(args)
    except RunDirectoryInUse as exc:
        fail(EXIT_IN_USE, str(exc))
    except OSError as exc:  # an unwritable --out, a full disk, a file-size limit
        fail(EXIT_IO, io_error_message(exc))
    # After success only: a failed rank just exits and torchrun stops the others, whereas tearing the
    # group down while they still wait in a collective can hang (with nccl).
    if dist.is_initialized():
        dist.destroy_process_group()


def pick_device(name):
    """'auto' takes CUDA when present, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def rank_and_world():
    return (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)


# ------------------------------------------------------------------------------ events


class EventLog:
    """JSON-lines events, appended to a file and echoed on stdout for `scorec run`."""

    def __init__(self, path):
        self.path = path
        self.start = time.time()

    def __call__(self, **event):
        event["time"] = round(time.time() - self.start, 3)
        # JSON has no inf or nan: a non-finite number is written as null (the caller adds a flag)
        event = {key: None if isinstance(value, float) and not math.isfinite(value) else value
                 for key, value in event.items()}
        line = json.dumps(event, allow_nan=False)
        with open(self.path, "a") as fh:
            fh.write(line + "\n")
        print(line, flush=True)


def event_log(path, start=None):
    """Rank 0's event log (the other processes log nothing). With `start`, the log of a training run
    from that step: a new log at step 0, else the existing one cut back to it."""
    if rank_and_world()[0] != 0:
        return lambda **event: None
    if start == 0 and os.path.exists(path):
        os.remove(path)
    if start is not None:
        truncate_events(path, start)
    return EventLog(path)


def truncate_events(path, step):
    """Cut the event log back to `step`: a resume repeats the steps logged after its checkpoint,
    and a kill may have torn the last line."""
    if not os.path.exists(path):
        return
    keep = 0
    with open(path, "rb") as fh:
        for line in fh:
            try:
                event = json.loads(line)
            except ValueError:
                break
            if not line.endswith(b"\n") or not isinstance(event, dict) or not isinstance(event.get("step"), int) \
                    or event["step"] > step:
                break
            keep += len(line)
    os.truncate(path, keep)
