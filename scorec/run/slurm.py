"""`scorec launch --slurm`: a SLURM batch script that runs one `scorec run` per machine.

srun starts one task per node; each runs `scorec run ... --nnodes M --node-rank $SLURM_NODEID
--rdzv-endpoint HEAD:PORT`, whose torchrun meets the others at the first node's address (the
shape of torchtitan's multinode script: srun, then torchrun on every node). Node 0 writes the run
directory, which must be on a file system every node mounts.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

TEMPLATE = """\
#!/bin/bash
# '{name}' on {nnodes} machines x {nproc} processes, written by `scorec launch --slurm`. Submit: sbatch {file}
# Every machine runs one `scorec run`; their torchruns meet at the first node (port {port} for training,
# {port_next} for sampling). Node 0 writes {run_dir}, which every node must see (a shared file system).
# A process that dies restarts the group (up to {max_restarts} times); training resumes from its last checkpoint.
#SBATCH --job-name={name}
#SBATCH --nodes={nnodes}
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node={nproc}
#SBATCH --time={time}
#SBATCH --output=%x-%j.out
{partition}
set -euo pipefail
# sed reads all of scontrol's lines: `head -n 1` may exit first, and pipefail turns scontrol's SIGPIPE into failure
head_node=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | sed -n 1p)
head_node_ip=$(srun --nodes=1 --ntasks=1 -w "$head_node" hostname --ip-address | awk '{{print $1}}')

run=({command}
     --nnodes "$SLURM_NNODES" --rdzv-endpoint "$head_node_ip:{port}" --rdzv-id "$SLURM_JOB_ID")
# each task adds its own node rank ($SLURM_NODEID is set per task, so the inner shell expands it)
srun --kill-on-bad-exit=1 bash -c '"$@" --node-rank "$SLURM_NODEID"' scorec "${{run[@]}}"
"""


def slurm_script(spec: Path, name: str, overrides: list[str], run_dir: Path, nnodes: int, nproc: int, port: int,
                 max_restarts: int, time: str, partition: str | None) -> str:
    """The batch script's text: the spec and run directory by absolute path, every argument quoted."""
    words = [sys.executable, "-m", "scorec", "run", str(Path(spec).resolve()), "--out", str(Path(run_dir).resolve())]
    for override in overrides:
        words += ["--set", override]
    words += ["--nproc", str(nproc), "--max-restarts", str(max_restarts)]
    return TEMPLATE.format(
        name=name, nnodes=nnodes, nproc=nproc, port=port, port_next=port + 1, run_dir=Path(run_dir).resolve(),
        max_restarts=max_restarts, time=time, file=f"{name}.slurm",
        partition=f"#SBATCH --partition={partition}\n" if partition else "",
        command=" ".join(shlex.quote(word) for word in words))
