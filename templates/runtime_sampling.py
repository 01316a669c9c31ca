"""The run plumbing of scorec's emitted programs, for sampling: each process's share of the samples,
in batches with generators of their own, gathered and written by rank 0. Copied verbatim beside the
programs, like runtime.py.
"""

import numpy as np
import torch

from runtime import atomic_savez, rank_and_world
from runtime_parallel import gather_on_rank0


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
