"""The run plumbing of scorec's emitted programs: the same for every spec.

scorec copies this file verbatim beside train.py and sample.py, which import what they use from
it. It knows nothing of the model: what differs between specs (the training hash, the network,
the objective's state) comes in as arguments. It imports only torch, numpy and the standard
library, and is unit-tested as Python (scorec's tests/test_runtime.py).

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
from torch.distributed.tensor import DTensor, distribute_tensor

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


def setup_distributed(device_name):
    """(rank, world size, device) of this process. Under torchrun (WORLD_SIZE > 1) this joins the
    process group: nccl on CUDA (one GPU per local rank), gloo on the CPU."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    device = pick_device(device_name)
    if world == 1:
        return 0, 1, device
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    rank = int(os.environ["RANK"])
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo", store=attempt_store(rank, world),
                            rank=rank, world_size=world)
    return rank, world, device


def attempt_store(rank, world):
    """torchrun's key-value store, under a prefix of this attempt. After a restart (--max-restarts) the
    agent's store still holds the dead attempt's addresses (torch 2.13 reuses it without a prefix), and
    the new processes would connect to those; env:// does the same as this, less the prefix."""
    from_agent = os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True"  # else rank 0 hosts it
    store = dist.TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), world,
                          is_master=rank == 0 and not from_agent)
    return dist.PrefixStore(f"scorec/attempt_{os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')}", store)


def rank_and_world():
    return (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)


def leave_together():
    """A barrier at the end: a rank that tears gloo down while rank 0 still writes can abort."""
    if dist.is_initialized():
        dist.barrier()


def all_gather(obj):
    """Every process's `obj`, in rank order (pickled through the process group)."""
    if not dist.is_initialized():
        return [obj]
    out = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def gather_on_rank0(obj):
    """Every process's `obj` on rank 0, in rank order (None on the other ranks). gather_object
    pickles through the process group (gloo or nccl): no shard files to clean up after a kill."""
    if not dist.is_initialized():
        return [obj]
    out = [None] * dist.get_world_size() if dist.get_rank() == 0 else None
    dist.gather_object(obj, out, dst=0)
    return out


def parallel(net, how, blocks):
    """The network as the processes train it together: itself for one process; under torchrun
    DistributedDataParallel (how "ddp": a replica in every process, gradients averaged in backward())
    or FSDP2 (how "fsdp": weights, gradients and optimizer state sharded over the processes, each of
    `blocks` gathered in turn for its forward and backward)."""
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return net
    if how == "fsdp":
        from torch.distributed.fsdp import fully_shard
        for block in blocks:
            fully_shard(block)
        fully_shard(net)  # in place: net's parameters are now this process's shards (DTensors)
        return net
    return torch.nn.parallel.DistributedDataParallel(net)


def local(tensor):
    """This process's part of a tensor (its shard under fsdp)."""
    return tensor.to_local() if isinstance(tensor, DTensor) else tensor


def gathered(state):
    """A state dict with every sharded tensor gathered whole (every process takes part, one tensor at
    a time; to the CPU), so that a checkpoint has one format however the weights were held."""
    return {name: value.full_tensor().cpu() if isinstance(value, DTensor) else value for name, value in state.items()}


def gathered_optimizer_state(state):
    return {**state, "state": {index: gathered(moments) for index, moments in state["state"].items()}}


def sharded_like(ours, saved):
    """The saved (whole) tensors cut like ours: this process's shards where ours are sharded."""
    return {name: distribute_tensor(saved[name].to(value.device), value.device_mesh, value.placements)
            if isinstance(value, DTensor) else saved[name] for name, value in ours.items()}


def sharded_optimizer_state(state, params):
    """A saved optimizer state (whole moments) cut like the parameters it belongs to."""
    moments = {index: {name: distribute_tensor(value.to(params[index].device), params[index].device_mesh,
                                               params[index].placements)
                       if isinstance(params[index], DTensor) and value.ndim > 0 else value
                       for name, value in entry.items()}
               for index, entry in state["state"].items()}
    return {**state, "state": moments}


def launch_id():
    """What names this launch of the program, the same after torchrun restarts it: scorec run's
    SCOREC_LAUNCH, else torchrun's rendezvous id (a fresh one per standalone launch); None without torchrun."""
    return os.environ.get("SCOREC_LAUNCH") or os.environ.get("TORCHELASTIC_RUN_ID")


def resumable(path, fresh):
    """Whether training resumes from the checkpoint at `path`: unless --fresh, when there is one; with
    --fresh only after torchrun restarted the processes (--max-restarts) and only from a checkpoint this
    launch wrote: a restart continues what it had done, not what was there before --fresh."""
    if not os.path.exists(path):
        return False
    if not fresh:
        return True
    if int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")) == 0 or launch_id() is None:
        return False
    try:
        return torch.load(path, map_location="cpu", weights_only=True).get("launch") == launch_id()
    except Exception:  # unreadable: not this launch's (a fresh start overwrites it)
        return False


def stream_seed(seed, rank, step):
    """The seed of a process's noise stream when it cannot continue a saved one (a resume with
    another number of processes), and of a streamed dataset's order: fixed by the step."""
    return seed + rank + 7919 * step


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


def with_trackers(log, trackers, run_dir, start):
    """`log`, also handing each training event's numbers (loss, lr) to the experiment trackers named in
    train.log, by step (rank 0 only; events.jsonl stays the record). tensorboard: RUN_DIR/tensorboard/,
    through torch.utils.tensorboard; a resume from `start` purges the events logged after it."""
    if not trackers or rank_and_world()[0] != 0:
        return log
    writers = [TRACKERS[name](run_dir, start) for name in trackers]

    def tracked(**event):
        log(**event)
        if event.get("event") == "train":
            scalars = {key: value for key, value in event.items()
                       if isinstance(value, (int, float)) and not isinstance(value, bool) and key != "step"
                       and math.isfinite(value)}
            for write in writers:
                write(event["step"], scalars)

    return tracked


def tensorboard_writer(run_dir, start):
    """A function (step, scalars) writing train/<name> scalars to RUN_DIR/tensorboard/."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        fail(1, "train.log names tensorboard, which is not installed: pip install 'scorec[trackers]' (or tensorboard)")
    writer = SummaryWriter(os.path.join(run_dir, "tensorboard"), purge_step=start + 1 if start else None)

    def write(step, scalars):
        for name, value in scalars.items():
            writer.add_scalar(f"train/{name}", value, step)
        writer.flush()

    return write


TRACKERS = {"tensorboard": tensorboard_writer}  # train.log's choices


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


# ------------------------------------------------------------------------------ checkpoints


def load_checkpoint(path, device, net, training_hash, optimizer=None, generator=None, keys=(),
                    hint="train it again with --fresh"):
    """torch.load of tensors and plain values only (nothing in the file can run code), then a check
    that it is one of this model's: its keys, step, training hash and every tensor's shape. A file
    that fails is an error (EXIT_CHECKPOINT) that says why, never a traceback from load_state_dict."""
    try:
        if os.path.isfile(path) and os.path.getsize(path) == 0:
            raise EOFError("the file is empty (0 bytes)")
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # empty, truncated, foreign, a directory, a pickle that would run code
        fail(EXIT_CHECKPOINT, f"cannot read checkpoint {path}: {first_line(exc)}; delete it, or {hint}")
    problem = checkpoint_problem(state, net, training_hash, optimizer, generator, keys)
    if problem:
        fail(EXIT_CHECKPOINT, f"{path}: this checkpoint is not one of this model's: {problem}; delete it, or {hint}")
    return state


def checkpoint_problem(state, net, training_hash, optimizer=None, generator=None, keys=()):
    """What makes a loaded checkpoint unusable here, or None. The optimizer's and the generator's
    states are checked only when given (train.py resumes them; sample.py reads the EMA weights);
    `keys`: further entries it must have (an objective's state)."""
    if not isinstance(state, dict):
        return f"it holds a {type(state).__name__}, not a dict"
    if state.get("training_hash") != training_hash:
        return f"it holds another model (training hash {str(state.get('training_hash'))[:80]})"
    needed = ["step", "net", "ema"] + (["optimizer"] if optimizer else []) + (["generator"] if generator else [])
    missing = [key for key in needed + list(keys) if key not in state]
    if missing:
        return "it has no " + ", ".join(repr(key) for key in missing)
    step = state["step"]
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        return f"its step is {step!r}, not a count of steps"
    expected = {key: value.shape for key, value in net.state_dict().items()}
    for part in ("net", "ema"):
        weights = state[part]
        if not isinstance(weights, dict):
            return f"its {part!r} is a {type(weights).__name__}, not a dict of weights"
        if set(weights) != set(expected):
            return f"its {part!r} weights are named {sorted(set(weights) ^ set(expected))[:3]} unlike this network's"
        for key, shape in expected.items():
            if not isinstance(weights[key], torch.Tensor) or weights[key].shape != shape:
                found = tuple(weights[key].shape) if isinstance(weights[key], torch.Tensor) else type(weights[key])
                return f"{part}.{key} has shape {found} where this network has {tuple(shape)}"
    if optimizer is not None:
        problem = optimizer_state_problem(state["optimizer"], optimizer)
        if problem:
            return problem
    if generator is not None:
        saved, ours = state["generator"], generator.get_state()
        if not isinstance(saved, torch.Tensor) or saved.dtype != torch.uint8 or saved.shape != ours.shape:
            return (f"its generator state is not a {tuple(ours.shape)} byte tensor of this device's generator "
                    "(was it trained on another kind of device?)")
    return None


def optimizer_state_problem(saved, optimizer):
    """Whether a saved AdamW state fits `optimizer`: its groups, parameters and moment shapes."""
    if not isinstance(saved, dict) or not isinstance(saved.get("state"), dict) \
            or not isinstance(saved.get("param_groups"), list):
        return "its optimizer state is not a dict with 'state' and 'param_groups'"
    params = [p for group in optimizer.param_groups for p in group["params"]]
    groups = saved["param_groups"]
    if len(groups) != len(optimizer.param_groups) or not all(isinstance(g, dict) for g in groups) \
            or sum(len(g.get("params", ())) for g in groups) != len(params):
        return "its optimizer state is for another set of parameters"
    for index, moments in saved["state"].items():
        if not isinstance(index, int) or not 0 <= index < len(params) or not isinstance(moments, dict):
            return f"its optimizer state has an entry {index!r} for no parameter"
        for name, value in moments.items():
            if not isinstance(value, torch.Tensor) or (value.ndim > 0 and value.shape != params[index].shape):
                return f"its optimizer's {name} of parameter {index} does not fit that parameter"
    return None


def load_ema_weights(net, run_dir, device, training_hash):
    """The EMA weights train.py saved in RUN_DIR/checkpoints/last.pt, into `net`."""
    path = os.path.join(run_dir, CHECKPOINT)
    if not os.path.exists(path):
        fail(EXIT_CHECKPOINT, f"no checkpoint at {path}: run train.py --out {run_dir} first")
    state = load_checkpoint(path, device, net, training_hash,
                            hint=f"train this model first (train.py --out {run_dir} --fresh)")
    net.load_state_dict(state["ema"])
    return net


# ------------------------------------------------------------------------------ training


class Trainer:
    """What train.py's loop keeps besides the mathematics: the EMA copy of the weights, checkpoints
    (saved, resumed and validated, with every process's noise stream and the objective's state),
    the mean loss between events, and divergence, tracked on the device without a host sync per step:
    first_bad is the first step whose loss or gradient norm is not finite (0: none yet), read at every
    event and checkpoint, so that no checkpoint holds weights from after it."""

    def __init__(self, run_dir, net, optimizer, generator, training_hash, objective_state=None):
        self.net, self.optimizer, self.generator, self.training_hash = net, optimizer, generator, training_hash
        # the EMA weights (and a copy of the buffers), by name; sharded like the weights under fsdp
        self.ema = {name: value.detach().clone() for name, value in net.state_dict().items()}
        self.params = [p for _, p in net.named_parameters()]
        self.ema_params = [self.ema[name] for name, _ in net.named_parameters()]
        self.objective_state = objective_state  # (state_dict(), load_state_dict(state)) of a stateful objective
        self.run_dir, self.path = run_dir, os.path.join(run_dir, CHECKPOINT)
        self.saved_step = None  # the step of the checkpoint on disk that this run stands on
        self.rank, self.world = rank_and_world()
        device = next(net.parameters()).device
        self.step = torch.zeros((), dtype=torch.long, device=device)
        self.first_bad = torch.zeros((), dtype=torch.long, device=device)
        self.loss_sum, self.loss_count = torch.zeros((), device=device), 0
        self.log = lambda **event: None

    def start(self, fresh, seed):
        """Resume from last.pt unless `fresh` (weights, EMA, optimizer, this process's noise stream, the
        objective's state) and open the event log (rank 0's, cut back to the checkpoint's step).
        Returns the step training starts from."""
        if self.rank == 0:
            prepare_folder(os.path.dirname(self.path))
        # rank 0 decides for all: on a shared file system another machine may see last.pt a moment late
        resume = all_gather(self.rank == 0 and resumable(self.path, fresh))[0]
        start = self.resume(seed) if resume else 0
        self.log = event_log(os.path.join(self.run_dir, "events.jsonl"), start)
        return start

    def resume(self, seed):
        state = load_checkpoint(self.path, self.step.device, self.net, self.training_hash, self.optimizer,
                                self.generator, keys=("objective",) if self.objective_state else (),
                                hint="pass --fresh to overwrite it, or choose another --out")
        self.net.load_state_dict(sharded_like(self.net.state_dict(), state["net"]))
        for name, value in sharded_like(self.ema, state["ema"]).items():
            self.ema[name].copy_(value)
        self.optimizer.load_state_dict(sharded_optimizer_state(state["optimizer"], self.params))
        rank, world = self.rank, self.world
        generators = state.get("rank_generators", [])
        saved = state["generator"] if rank == 0 else generators[rank] if rank < len(generators) else None
        if saved is not None and len(generators) in (0, world):
            self.generator.set_state(saved.to(self.generator.get_state().device))
        else:  # resumed with another number of processes: a fresh stream, fixed by the step
            self.generator.manual_seed(stream_seed(seed, rank, state["step"]))
        objectives = state.get("rank_objectives", [])
        if self.objective_state and (rank == 0 or len(objectives) == world):  # else keep the fresh state
            self.objective_state[1](state["objective"] if rank == 0 else objectives[rank])
        self.step.fill_(state["step"])
        self.saved_step = state["step"]
        return state["step"]

    @torch.no_grad()
    def after_step(self, loss, grad_norm, ema_decay):
        """ema <- ema_decay ema + (1 - ema_decay) weights; the loss's running sum; divergence."""
        torch._foreach_lerp_(self.ema_params, self.params, 1.0 - ema_decay)
        grad_norm = grad_norm.full_tensor() if isinstance(grad_norm, DTensor) else grad_norm  # fsdp: replicated
        self.step += 1
        finite = torch.isfinite(loss) & torch.isfinite(grad_norm)
        self.first_bad = torch.where(finite | (self.first_bad > 0), self.first_bad, self.step)
        self.loss_sum, self.loss_count = self.loss_sum + loss, self.loss_count + 1

    def mean_loss(self):
        """The mean loss since the last call, over every process (reads the device: syncs only here)."""
        total = self.loss_sum
        if self.world > 1:
            dist.all_reduce(total)
            total = total / self.world
        mean = (total / max(self.loss_count, 1)).item()
        self.loss_sum, self.loss_count = torch.zeros_like(self.loss_sum), 0
        return mean

    def stop_if_diverged(self, step):
        """Exit (EXIT_DIVERGED) if any process had a non-finite loss or gradient by now (reads the device)."""
        bad = self.first_bad
        if self.world > 1:  # the first bad step of any process
            never = torch.iinfo(torch.long).max
            bad = torch.where(bad > 0, bad, never)
            dist.all_reduce(bad, op=dist.ReduceOp.MIN)
            bad = torch.where(bad == never, 0, bad)
        bad = int(bad)
        if bad > 0:
            self.log(event="diverged", step=bad)
            hint = ("no update had happened yet at step 1: does objective.weighting overflow?" if bad == 1
                    else "Try a smaller train.lr or train.grad_clip.")
            fail(EXIT_DIVERGED, f"training diverged: the loss or its gradient is not finite from step {bad} "
                                f"(stopped at step {step}); {self.what_is_kept()}. {hint}")

    def what_is_kept(self):
        if self.saved_step is not None:
            return f"{self.path} keeps the weights of step {self.saved_step}, from before it"
        if os.path.exists(self.path):
            return f"no checkpoint of this run was written; {self.path} from before --fresh is untouched"
        return "no checkpoint was written"

    def save(self, step):
        """Checkpoint `step` (every process calls it; rank 0 writes) after checking that nothing diverged,
        and export the EMA weights."""
        self.stop_if_diverged(step)
        finite = torch.tensor([all(bool(torch.isfinite(local(p)).all()) for p in self.params)])
        if self.world > 1:  # each process holds its shard of the weights (all of them under ddp)
            dist.all_reduce(finite, op=dist.ReduceOp.MIN)
        if not finite.item():  # finite steps, infinite weights
            fail(EXIT_DIVERGED, f"the weights are not finite at step {step}; {self.what_is_kept()}. "
                                "Try a smaller train.lr or train.grad_clip.")
        # the same format whether the weights are sharded (fsdp: gathered here) or not
        state = {"step": step, "net": gathered(self.net.state_dict()), "ema": gathered(self.ema),
                 "optimizer": gathered_optimizer_state(self.optimizer.state_dict()),
                 "generator": self.generator.get_state(), "training_hash": self.training_hash,
                 "launch": launch_id()}
        if self.objective_state:  # a replay buffer, fitted statistics: resumed exactly
            state["objective"] = self.objective_state[0]()
        if self.world > 1:  # every process's noise stream (and objective state), for an exact resume
            state["rank_generators"] = all_gather(self.generator.get_state())
            if self.objective_state:
                state["rank_objectives"] = all_gather(state["objective"])
        if self.rank == 0:
            atomic_save(state, self.path)
            weights = os.path.join(os.path.dirname(self.path), "model.safetensors")
            note = export_weights(state["ema"], weights, self.training_hash)
            if note and self.saved_step is None:
                self.log(event="note", step=step, note=note)
        self.saved_step = step


def export_weights(ema, path, training_hash):
    """The EMA weights (a state dict) as a .safetensors file (safetensors is optional: without it, say so
    and go on)."""
    try:
        from safetensors.torch import save_file
    except ImportError:
        return "safetensors is not installed: model.safetensors not written (pip install safetensors)"
    tensors = {name: value.detach().contiguous().cpu() for name, value in ema.items()}
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata={"training_hash": training_hash}))
    return None


def tensor_batches(data, batch, generator, device):
    """Endless training batches of `batch` samples drawn with `generator` from this process's shard of
    the data (rows rank, rank + world, ...: all of it for one process), held on the device."""
    rank, world = rank_and_world()
    data = torch.as_tensor(data[rank::world]).to(device)
    if len(data) == 0:
        fail(EXIT_USAGE, f"{world} processes need at least {world} training samples, one shard each")
    while True:
        yield data[torch.randint(len(data), (batch,), generator=generator, device=device)]


def labelled_batches(data, labels, batch, generator, device):
    """Endless training batches (examples, their labels) drawn with `generator` from data held on the device."""
    data, labels = torch.as_tensor(data).to(device), torch.as_tensor(labels, dtype=torch.long).to(device)
    while True:
        index = torch.randint(len(data), (batch,), generator=generator, device=device)
        yield data[index], labels[index]


class LabelledDataset(torch.utils.data.Dataset):
    """A Dataset's items paired with their labels: item i is (dataset[i], labels[i])."""

    def __init__(self, dataset, labels):
        self.dataset, self.labels = dataset, torch.as_tensor(labels, dtype=torch.long)
        self.workers = getattr(dataset, "workers", 0)

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, index):
        return self.dataset[index], self.labels[index]


def streamed_batches(dataset, batch, device, seed):
    """Endless training batches of a Dataset larger than memory, streamed by DataLoader workers
    (its `workers` attribute) from this process's shard (items rank, rank + world, ...), sampled with
    replacement in an order fixed by `seed`."""
    workers = getattr(dataset, "workers", 0)
    rank, world = rank_and_world()
    if world > 1:
        dataset = torch.utils.data.Subset(dataset, range(rank, len(dataset), world))
    sampler = torch.utils.data.RandomSampler(dataset, replacement=True, num_samples=2**62,
                                             generator=torch.Generator().manual_seed(seed))
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch, sampler=sampler, num_workers=workers,
                                         pin_memory=device.type == "cuda", persistent_workers=workers > 0)
    for x in loader:  # a tensor, or [examples, labels] from a LabelledDataset
        if torch.is_tensor(x):
            yield x.to(device, non_blocking=True)
        else:
            yield [part.to(device, non_blocking=True) for part in x]


def share_of_batch(batch_size, world):
    """This process's share of a global batch."""
    if batch_size % world:
        fail(EXIT_USAGE, f"the batch size {batch_size} does not split evenly over {world} processes")
    return batch_size // world


# ------------------------------------------------------------------------------ sampling


class SampleShare:
    """This process's share of n samples, drawn in batches of batch_size: rank r of N draws batches
    r, r + N, ... Batch k has its own generator, seeded by (seed, k), so a batch is the same whichever
    process draws it; rank 0 gathers every batch, in order, and alone writes samples.npz."""

    def __init__(self, n, batch_size, seed, steps, device, log):
        self.n, self.seed, self.steps, self.device, self.log = n, seed, steps, device, log
        self.rank, self.world = rank_and_world()
        self.sizes = batch_sizes(n, batch_size)
        self.mine = range(self.rank, len(self.sizes), self.world)
        self.total = sum(self.sizes[index] for index in self.mine)
        self.drawn, self.stats, self.nfe, self.done = {}, {}, 0, 0
        self.labels = {}  # a conditional model's: the label each sample asked for, by batch

    def __iter__(self):
        """(size, generator, progress) of each of this process's batches; progress(step, x) is the
        sampler's callback: about 50 events a batch (rank 0's share stands for all: the ranks keep pace)."""
        for index in self.mine:
            size = self.sizes[index]

            def progress(step, x=None, size=size):
                if step % max(1, self.steps // 50) == 0:
                    self.log(event="sample_progress", fraction=(self.done + size * step / self.steps) / self.total)

            self.index, self.start = index, sum(self.sizes[:index])  # the batch's first sample is sample `start`
            yield size, batch_generator(self.seed, index, self.device), progress

    def keep(self, x, model, labels=None):
        """Batch x is drawn: its samples, what the model counted (NFE, a sampler's stats by name), and the
        labels its samples asked for (a conditional model)."""
        if labels is not None:
            self.labels[self.index] = labels.cpu().numpy()
        for key, value in model.stats.items():  # averaged over samples: stat_<name> in samples.npz
            self.stats[key] = self.stats.get(key, 0.0) + float(value) * len(x)
        self.drawn[self.index] = x.float().cpu().numpy()
        self.nfe = model.nfe
        self.done += len(x)
        self.log(event="sample", done=round(self.n * self.done / self.total), total=self.n, nfe=model.nfe)

    def write(self, path, **arrays):
        """Every process's batches on rank 0, in batch order, written to `path` (samples, nfe, the stats
        averaged over samples, a conditional model's labels, and `arrays`: what else the program records).
        Returns what the sample_done event says; None on the other ranks."""
        parts = gather_on_rank0({"batches": self.drawn, "stats": self.stats, "nfe": self.nfe, "labels": self.labels})
        if parts is None:
            return None
        batches = {index: x for part in parts for index, x in part["batches"].items()}
        samples = np.concatenate([batches[index] for index in range(len(self.sizes))])
        nfe = max(part["nfe"] for part in parts)  # the same in every batch (0 for a rank left without one)
        keys = sorted({key for part in parts for key in part["stats"]})
        extra = {f"stat_{key}": np.array(sum(part["stats"].get(key, 0.0) for part in parts) / len(samples))
                 for key in keys}
        labels = {index: y for part in parts for index, y in part["labels"].items()}
        if labels:  # sample i asked for labels[i]
            extra["labels"] = np.concatenate([labels[index] for index in range(len(self.sizes))])
        extra.update({key: np.asarray(value) for key, value in arrays.items()})
        atomic_savez(path, samples=samples, nfe=np.array(nfe), **extra)
        return {"n": len(samples), "nfe": nfe, "finite": bool(np.isfinite(samples).all())}


def batch_sizes(n, batch_size):
    """The sizes of the batches that make up n samples: full batches, then the rest."""
    return [min(batch_size, n - start) for start in range(0, n, batch_size)]


def batch_generator(seed, index, device):
    """The generator of batch `index`: a stream of its own, so that a batch does not depend on which
    process draws it, nor on the batches drawn before it. Batch 0 is seeded by `seed` itself (a run of
    one batch draws what one generator for all samples drew); batch k > 0 by a seed derived from
    (seed, k) by numpy's SeedSequence, which is built for spawning independent streams."""
    if index > 0:
        seed = int(np.random.SeedSequence(seed, spawn_key=(index,)).generate_state(1, np.uint64)[0])
    return torch.Generator(device=device).manual_seed(seed)
