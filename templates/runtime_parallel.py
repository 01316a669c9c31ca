"""The run plumbing of scorec's emitted programs, across processes: joining torchrun's process group,
gathering objects, DDP/FSDP wrapping and the sharded state of weights and optimizer, and what decides a
resume (launch id, noise-stream seeds). Copied verbatim beside the programs, like runtime.py.
"""

import os

import torch
import torch.distributed as dist
from torch.distributed.tensor import DTensor, distribute_tensor

from runtime import pick_device


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
