"""scorec benchmarks: ratios measured side by side in one run, never pass/fail timings.

    python bench/bench.py [--quick]

1. compiler latency   `scorec check SPEC` vs `python -c "import torch"` (subprocesses),
                      and compile_spec() in-process
2. training step      the emitted loop body (loss_fn + backward + clip + AdamW + EMA) vs a
                      bare step of the same network (forward + MSE backward + AdamW),
                      with train.compile false and true
3. sampler overhead   emitted sample(model, x, generator) vs model.nfe bare
                      net(x, t) forwards, under torch.inference_mode

Each ratio's two sides are timed in alternating rounds (A, B, A, B, ...) and each side's
time is the median over rounds, so background load hits both sides alike.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parents[1]
SPECS = REPO / "bench" / "specs"
VP_SPEC = SPECS / "mlp_vp.yaml"
DISCRETE_SPEC = SPECS / "mlp_discrete.yaml"
BIN = Path(sys.executable).parent


def interleaved(cases, rounds, clock=time.perf_counter, per_round=None):
    """Median seconds per call of each case, the cases timed in alternating rounds.

    cases: {name: (fn, calls)}; each round runs every case's fn `calls` times in a row. clock: wall time,
    or time.process_time (this process's CPU time: with one thread, what other jobs on the box do not add).
    Returns {name: median over rounds of (round time / calls)}; `per_round`, a dict, gets each case's
    list of round times / calls.
    """
    samples = {name: [] for name in cases}
    for _ in range(rounds):
        for name, (fn, calls) in cases.items():
            start = clock()
            for _ in range(calls):
                fn()
            samples[name].append((clock() - start) / calls)
    if per_round is not None:
        per_round.update(samples)
    return {name: statistics.median(values) for name, values in samples.items()}


ROWS = []


def row(bench, a_name, a, b_name, b, note=""):
    """One table line: a / b, both in seconds."""
    ROWS.append((bench, f"{a_name} {fmt(a)}", f"{b_name} {fmt(b)}", f"{a / b:.3f}", note))


def fmt(seconds):
    return f"{seconds * 1e3:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"


def print_table():
    header = ("benchmark", "A", "B", "A/B", "note")
    widths = [max(len(str(r[i])) for r in [header, *ROWS]) for i in range(len(header))]
    for r in [header, tuple("-" * w for w in widths), *ROWS]:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())


# ----------------------------------------------------------------------- compiled programs


def compile_to(spec, overrides, out):
    """Compile a spec in-process (what `scorec compile` does) into out/."""
    from scorec.emit.render import emit, write_files
    from scorec.pipeline import compile_spec

    write_files(emit(compile_spec(spec, overrides).ir), out)
    return out


def load_emitted(out, *names):
    """Import the runtime modules, common.py and the named programs of one compiled dir as fresh
    modules: [runtime, common, *programs], `runtime` one namespace of every runtime module's names.

    Each module is registered in sys.modules under a unique name (torch.compile looks
    functions' globals up there). The programs import their names from the runtime modules and
    `common` by those names, so sys.modules points at this dir's while they load (several
    compiled dirs live in one process).
    """
    from scorec.emit.render import RUNTIME_MODULES

    tag = f"bench_{Path(out).name}"
    modules = {}
    siblings = (*(Path(name).stem for name in RUNTIME_MODULES), "common")
    for name in (*siblings, *names):
        spec = importlib.util.spec_from_file_location(f"{tag}_{name}", Path(out) / f"{name}.py")
        module = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
        saved = {sibling: sys.modules.get(sibling) for sibling in siblings}
        sys.modules.update({sibling: modules[sibling] for sibling in siblings if sibling in modules})
        try:
            spec.loader.exec_module(module)
        finally:
            for sibling, previous in saved.items():
                if previous is None:
                    sys.modules.pop(sibling, None)
                else:
                    sys.modules[sibling] = previous
        modules[name] = module
    runtime = SimpleNamespace(**{key: value for sibling in siblings[:-1] for key, value in vars(modules[sibling]).items()
                                 if not key.startswith("__")})
    return [runtime, modules["common"], *(modules[n] for n in names)]


# ---------------------------------------------------------------------- 1. compiler latency


def bench_compiler(rounds):
    scorec = str(BIN / "scorec")
    check = lambda: subprocess.run([scorec, "check", str(VP_SPEC)], check=True, capture_output=True)  # noqa: E731
    torch_import = lambda: subprocess.run([sys.executable, "-c", "import torch"], check=True)  # noqa: E731
    t = interleaved({"check": (check, 1), "torch": (torch_import, 1)}, rounds)
    row("scorec check (subprocess)", "check", t["check"], "import torch", t["torch"], f"median of {rounds}")

    from scorec.pipeline import compile_spec

    compile_spec(VP_SPEC)  # first call: lazy imports, grammar construction
    t_in = interleaved({"compile": (lambda: compile_spec(VP_SPEC), 5)}, rounds)["compile"]
    row("compile_spec() in-process", "compile_spec", t_in, "import torch", t["torch"], "load+validate+lower")


# ------------------------------------------------------------------------ 2. training step


def emitted_train_step(out, runtime, common, train):
    """The emitted program's per-step work on the CPU: train.py's loop body (batch, lr, loss_fn under
    autocast, backward, clip, AdamW, EMA and divergence tracking) minus logging and checkpoints."""
    import torch

    device = torch.device("cpu")
    batch = train.BATCH_SIZE
    net = common.build_network()
    optimizer = train.build_optimizer(net)
    data = torch.as_tensor(common.load_data("train", common.SEED))
    model = common.ScoreModel(net)
    generator = torch.Generator().manual_seed(common.SEED)
    trainer = runtime.Trainer(str(out), net, optimizer, generator, common.TRAINING_HASH)  # writes nothing here
    loss_step = torch.compile(train.loss_fn) if train.COMPILE else train.loss_fn
    counter = [0]

    def step():
        counter[0] += 1
        for group in optimizer.param_groups:
            group["lr"] = train.learning_rate(counter[0], train.STEPS)
        x0 = data[torch.randint(len(data), (batch,), generator=generator, device=device)]
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=train.PRECISION == "bf16"):
            loss = loss_step(model, x0, generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(net.parameters(), train.GRAD_CLIP)
        optimizer.step()
        trainer.after_step(loss.detach(), grad_norm, train.ema_decay(counter[0]))

    return step


def bare_train_step(common, train):
    """The bare step: the same network on random input, MSE to a random target, AdamW; nothing else."""
    import torch

    net = common.build_network()
    optimizer = torch.optim.AdamW(net.parameters(), lr=train.LR, weight_decay=train.WEIGHT_DECAY)
    shape = (train.BATCH_SIZE, *common.DATA_SHAPE)

    def step():
        x, t, target = torch.randn(shape), torch.rand(shape[0]), torch.randn(shape)
        loss = torch.nn.functional.mse_loss(net(x, t), target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def bench_train(workdir, steps, rounds):
    for compiled in (False, True):
        out = compile_to(VP_SPEC, [f"train.compile={str(compiled).lower()}"], workdir / f"train_{compiled}")
        runtime, common, train = load_emitted(out, "train")
        assert train.COMPILE is compiled
        batch = train.BATCH_SIZE
        emitted_step = emitted_train_step(out, runtime, common, train)

        bare_step = bare_train_step(common, train)

        start = time.perf_counter()
        for _ in range(3):  # compile (forward + backward graphs) happens in the first call
            emitted_step()
        warmup = time.perf_counter() - start
        for _ in range(3):
            bare_step()
        t = interleaved({"emitted": (emitted_step, steps), "bare": (bare_step, steps)}, rounds)
        note = f"batch {batch}, {steps} steps x {rounds} rounds"
        if compiled:
            note += f"; compile warm-up {warmup:.1f} s (3 steps)"
        row(f"train step, compile={'on' if compiled else 'off'}", "emitted", t["emitted"], "bare eager", t["bare"], note)


# ------------------------------------------------------------------------ 3. sampler overhead

SAMPLERS = [("em", VP_SPEC, "em"), ("pc", VP_SPEC, "pc"), ("ode heun", VP_SPEC, "ode"),
            ("ancestral", DISCRETE_SPEC, "ancestral"), ("ddim", DISCRETE_SPEC, "ddim")]


def bench_samplers(workdir, batches, steps, rounds):
    import torch

    for label, spec, sampler in SAMPLERS:
        overrides = [f"sample.sampler={sampler}", f"sample.steps={steps}"]
        out = compile_to(spec, overrides, workdir / f"sample_{sampler}")
        _, common, sample = load_emitted(out, "sample")
        net = common.build_network().eval().requires_grad_(False)
        model = common.ScoreModel(net)
        run = sample.sample
        generator = torch.Generator().manual_seed(1)
        device = torch.device("cpu")
        grid = common.time_grid(sample.SAMPLE_STEPS, device)
        with torch.inference_mode():
            for batch in batches:
                x = common.prior_sample((batch, *common.DATA_SHAPE), generator, device)
                t = grid[0].expand(batch)
                model.nfe = 0
                run(model, x, generator)  # warm-up, and counts the NFE
                nfe = model.nfe
                times = interleaved({"sampler": (lambda: run(model, x, generator), 1),
                                     "forward": (lambda: net(x, t), nfe)}, rounds)
                extra = (times["sampler"] - nfe * times["forward"]) / sample.SAMPLE_STEPS
                row(f"sampler {label}, batch {batch}", "sample", times["sampler"], f"{nfe} x forward",
                    nfe * times["forward"], f"{sample.SAMPLE_STEPS} steps, 1 fwd {fmt(times['forward'])}, "
                    f"extra {extra * 1e6:.0f} us/step")


# ----------------------------------------------------------------------------------- main


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer rounds (about 40 s instead of 3 min)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads (default 1: on a shared small CPU, OpenMP barriers "
                             "across 2+ threads stall whenever another process holds a core)")
    args = parser.parse_args()
    quick = args.quick

    # the compile warm-up reported is a cold compile, as on a user's first run
    os.environ.setdefault("TORCHINDUCTOR_FORCE_DISABLE_CACHES", "1")
    warnings.filterwarnings("ignore", message="dynamo_pgo force disabled")
    import torch

    torch.set_num_threads(args.threads)

    print(f"scorec bench, {'quick' if quick else 'full'} mode")
    print(f"python {platform.python_version()}, torch {torch.__version__}, {platform.machine()}, "
          f"{os.cpu_count()} CPUs, torch threads {torch.get_num_threads()} (interop {torch.get_num_interop_threads()})")
    workdir = Path(tempfile.mkdtemp(prefix="scorec-bench-"))
    try:
        bench_compiler(rounds=3 if quick else 7)
        bench_train(workdir, steps=10 if quick else 20, rounds=3 if quick else 7)
        bench_samplers(workdir, batches=[512] if quick else [512, 4096], steps=20 if quick else 50,
                       rounds=3 if quick else 5)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print()
    print_table()


if __name__ == "__main__":
    main()
