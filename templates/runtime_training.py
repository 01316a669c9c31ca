"""The run plumbing of scorec's emitted programs, for training: checkpoints (loaded and validated),
the Trainer (EMA, resume, divergence, saving), the exported weights, and training batches.
Copied verbatim beside the programs, like runtime.py.
"""

import os

import torch
import torch.distributed as dist
from torch.distributed.tensor import DTensor

from runtime import (
    CHECKPOINT, EXIT_CHECKPOINT, EXIT_DIVERGED, EXIT_USAGE, atomic_save, atomic_write, event_log, fail, first_line,
    prepare_folder, rank_and_world,
)
from runtime_parallel import (
    all_gather, gathered, gathered_optimizer_state, launch_id, local, resumable, sharded_like,
    sharded_optimizer_state, stream_seed,
)


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
