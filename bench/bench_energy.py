"""The energy parameterization's and the score-matching objectives' costs, side by side in one process.

    OMP_NUM_THREADS=1 python bench/bench_energy.py [--quick] [--threads N]

1. score of an energy model vs a score network: the emitted ScoreModel.score of
   `parameterization: energy` (forward of a scalar-headed MLP, then autograd's gradient)
   against that of `parameterization: score` (one forward of the same MLP with a
   d-dimensional head), both under no_grad as samplers call them, per sample at batch 512,
   for d in {2, 16, 64}. A third column times the same two inside training: dsm's
   loss_fn + backward (the energy's gradient is then differentiated again: create_graph).
2. ism vs ssm: the emitted loss_fn + backward of `ism` (exact trace: one backward pass per
   coordinate) and of `ssm` (one Hessian-vector product per projection, here 1) on the
   same score MLP and batch, for d in {2, 8, 32, 128} on process none.

Each pair is timed in alternating rounds and each side's time is the median over rounds
(interleaved() from bench.py), so load on the machine hits both sides alike. Prints
ratios; never asserts timings.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(REPO / "bench")]  # this checkout's scorec, not an installed one

HIDDEN = [128, 128, 128]
BATCH = 512
SPEC = """
scorec: 1
name: bench-energy
seed: 0
data: {{source: gmm, means: [{mean}], std: 1.0, n: 4096}}
process: {process}
model: {{parameterization: {param}, network: {{kind: mlp, hidden: {hidden}}}}}
objective: {objective}
train: {{steps: 1, batch_size: {batch}, compile: false}}
sample: {{sampler: langevin, steps: 10, step_size: 0.01, n: 16}}
"""


def programs(workdir, dim, param, objective, process="{kind: vp}"):
    from emitted import build, compile_text

    text = SPEC.format(mean=[0.0] * dim, process=process, param=param, hidden=HIDDEN, objective=objective,
                       batch=BATCH)
    return build(compile_text(text), Path(workdir) / f"{param}_{dim}_{len(list(Path(workdir).iterdir()))}")


def score_call(p, dim):
    """ScoreModel.score at batch BATCH under no_grad, as a sampler calls it."""
    import torch

    model = p.common.ScoreModel(p.common.build_network())
    x, t = torch.randn(BATCH, dim), torch.full((BATCH,), 0.5)

    def call():
        with torch.no_grad():
            model.score(x, t)
    return call


def train_call(p, dim):
    """The emitted loss_fn + backward at batch BATCH (no optimizer step: the same for both sides)."""
    import torch

    net = p.common.build_network()
    model = p.common.ScoreModel(net)
    x0, generator = torch.randn(BATCH, dim), torch.Generator().manual_seed(0)

    def call():
        net.zero_grad(set_to_none=True)
        p.train.loss_fn(model, x0, generator).backward()
    return call


def bench_energy_score(workdir, rounds, calls, dims):
    from bench import interleaved, row

    for dim in dims:
        energy = programs(workdir, dim, "energy", "{kind: dsm}")
        score = programs(workdir, dim, "score", "{kind: dsm}")
        t = interleaved({"energy": (score_call(energy, dim), calls), "score": (score_call(score, dim), calls)}, rounds)
        row(f"score eval, d={dim}", "energy fwd+grad", t["energy"] / BATCH, "score net fwd", t["score"] / BATCH,
            f"per sample, batch {BATCH}, mlp {HIDDEN}, no_grad")
        t = interleaved({"energy": (train_call(energy, dim), calls), "score": (train_call(score, dim), calls)}, rounds)
        row(f"dsm loss+backward, d={dim}", "energy", t["energy"] / BATCH, "score", t["score"] / BATCH,
            "per sample; energy: create_graph, then double backward")


def bench_ism_ssm(workdir, rounds, calls, dims):
    from bench import interleaved, row

    for dim in dims:
        ism = programs(workdir, dim, "score", f"{{kind: ism, max_dim: {max(dims)}}}", "{kind: none}")
        ssm = programs(workdir, dim, "score", "{kind: ssm}", "{kind: none}")
        n = max(1, calls // max(1, dim // 8))  # ism's calls grow with d: keep each round's time bounded
        t = interleaved({"ism": (train_call(ism, dim), n), "ssm": (train_call(ssm, dim), n)}, rounds)
        row(f"ism vs ssm, d={dim}", "ism", t["ism"], "ssm", t["ssm"],
            f"loss+backward, batch {BATCH}, score mlp {HIDDEN}, process none; ism: {dim} backward passes")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer rounds and calls")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (see bench/NOTES.md)")
    args = parser.parse_args()
    import torch
    from bench import print_table

    torch.set_num_threads(args.threads)
    rounds, calls = (3, 3) if args.quick else (7, 10)
    print(f"scorec bench_energy, {'quick' if args.quick else 'full'} mode; python {platform.python_version()}, "
          f"torch {torch.__version__}, torch threads {torch.get_num_threads()}")
    with tempfile.TemporaryDirectory(prefix="scorec-bench-energy-") as workdir:
        bench_energy_score(workdir, rounds, calls, dims=(2, 16, 64))
        bench_ism_ssm(workdir, rounds, calls, dims=(2, 8, 32, 128))
    print()
    print_table()


if __name__ == "__main__":
    main()
