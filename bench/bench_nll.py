"""The exact likelihood's cost: 1000 two-dimensional held-out points through the emitted likelihood.py.

The probability-flow ODE is integrated by dopri5 (rtol = atol = 1e-5 unless --rtol) for the whole batch
at once, with the divergence exact (two backward passes for 2-D points) or Hutchinson's (one probe).
Two models of the 3-mode mixture of tests/test_likelihood.py under VP: the exact score (the `analytic`
network: the NFE a well-trained model needs) and the MLP of bench/specs/mlp_vp.yaml ([256, 256, 256],
fourier time features) trained for --train-steps by the emitted train.py (the cost of a real network).
One run prints, per row, the NFE, the seconds and the nll with its standard error, beside the mixture's
own nll on the same points.

    python bench/bench_nll.py [--n 1000] [--threads 2] [--rtol 1e-5] [--train-steps 1000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from emitted import build, compile_file  # noqa: E402
from scorec.metrics.likelihood import gmm_log_density  # noqa: E402

SPEC = REPO / "bench" / "specs" / "mlp_vp.yaml"


def run(args, network: str, estimator: str, work: Path) -> dict:
    """likelihood.py's own main on the CPU: (nfe, seconds, nll, se), from its likelihood.json."""
    overrides = ["eval.metrics=[nll]", f"eval.nll.n={args.n}", f"eval.nll.batch_size={args.n}",
                 f"eval.nll.rtol={args.rtol}", f"eval.nll.atol={args.rtol}", f"eval.nll.estimator={estimator}",
                 "train.compile=false", f"train.steps={args.train_steps}"]
    if network == "analytic":
        overrides.append("model.network.kind=analytic")
    programs = build(compile_file(SPEC, overrides), work)
    if network != "analytic" and not (work / "checkpoints" / "last.pt").exists():
        started = time.time()
        programs.train.main(["--out", str(work), "--device", "cpu"])
        print(f"(trained the mlp for {args.train_steps} steps in {time.time() - started:.0f} s)", flush=True)
    started = time.time()
    programs.likelihood.main(["--out", str(work), "--device", "cpu"])
    seconds = time.time() - started
    result = json.loads((work / "likelihood.json").read_text())
    points = np.asarray(programs.common.load_data("test", 0))[: result["nll_n"]]
    common = programs.common
    truth = -gmm_log_density(points, common.GMM_WEIGHTS, common.GMM_MEANS, common.GMM_STDS).mean() / 2
    return {"nfe": result["nll_nfe"], "seconds": seconds, "nll": result["nll"], "se": result["nll_se"],
            "truth": truth}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1000, help="held-out points")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (the 2-core target)")
    parser.add_argument("--rtol", type=float, default=1e-5, help="dopri5's rtol and atol")
    parser.add_argument("--train-steps", type=int, default=1000, help="training steps of the mlp")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"{args.n} points of a 2-D mixture, dopri5 rtol = atol = {args.rtol:g}, {args.threads} threads")
    print("| model | divergence | NFE | seconds | nll (nats/dim) | the mixture's own |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for network in ("analytic", "mlp"):
            for estimator in ("exact", "hutchinson"):
                r = run(args, network, estimator, Path(tmp) / network)
                print(f"| {network} | {estimator} | {r['nfe']:.0f} | {r['seconds']:.1f} | {r['nll']:.4f} ± "
                      f"{r['se']:.4f} | {r['truth']:.4f} |", flush=True)


if __name__ == "__main__":
    main()
