"""`scorec check` of `sde` specs, cold and warm derivation cache, vs `import torch`.

    python bench/bench_sde_check.py [--rounds N]

Every side is a subprocess from start to exit, run from the repository root with this
interpreter (`python -m scorec`, so the checkout's scorec is measured). The sides run in
alternating rounds and each is the median over rounds (bench.py's interleaved()):

    cold   SCOREC_KERNEL_CACHE is a fresh empty folder every call: sympy's derivation runs
    warm   a folder filled once before timing: the kernel is read from the cache
    vp     a spec with a built-in process, for scale: nothing to derive
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import interleaved, print_table, row

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "spec_examples"
SPECS = {"closed form": EXAMPLES / "gmm_sde_shifted_analytic_pc.yaml", "tables": EXAMPLES / "moons_sde_tables_em.yaml"}
VP = EXAMPLES / "swissroll_vp_pc.yaml"


def run(args, cache: str | None = None) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if cache is not None:
        env["SCOREC_KERNEL_CACHE"] = cache
    subprocess.run([sys.executable, *args], check=True, capture_output=True, cwd=REPO, env=env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        warm = os.path.join(tmp, "warm")
        cases = {"torch": (lambda: run(["-c", "import torch"]), 1),
                 "vp": (lambda: run(["-m", "scorec", "check", str(VP)], warm), 1)}
        for label, spec in SPECS.items():
            run(["-m", "scorec", "check", str(spec)], warm)  # fill the warm cache
            cold = lambda s=spec: run(["-m", "scorec", "check", str(s)], tempfile.mkdtemp(dir=tmp))  # noqa: E731
            cases[f"cold {label}"] = (cold, 1)
            cases[f"warm {label}"] = (lambda s=spec: run(["-m", "scorec", "check", str(s)], warm), 1)
        t = interleaved(cases, args.rounds)
    torch = t["torch"]
    for name in cases:
        if name != "torch":
            spec = SPECS.get(name.split(" ", 1)[-1], VP).name
            row(f"scorec check, {name}", "check", t[name], "import torch", torch, f"{spec}, median of {args.rounds}")
    print_table()


if __name__ == "__main__":
    main()
