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
from functools import partial
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

        def check(spec: Path, cache: str | None = None) -> None:
            run(["-m", "scorec", "check", str(spec)], cache or tempfile.mkdtemp(dir=tmp))  # None: a fresh cache

        cases = {"torch": (partial(run, ["-c", "import torch"]), 1), "vp": (partial(check, VP, warm), 1)}
        for label, spec in SPECS.items():
            check(spec, warm)  # fill the warm cache
            cases[f"cold {label}"] = (partial(check, spec), 1)
            cases[f"warm {label}"] = (partial(check, spec, warm), 1)
        t = interleaved(cases, args.rounds)
    torch = t["torch"]
    for name in cases:
        if name != "torch":
            spec = SPECS.get(name.split(" ", 1)[-1], VP).name
            row(f"scorec check, {name}", "check", t[name], "import torch", torch, f"{spec}, median of {args.rounds}")
    print_table()


if __name__ == "__main__":
    main()
