"""scorec's emitted programs against the loops people write with the peers, side by side in one run.

    python bench/vs_peers.py [--quick] [--threads N] [--clock cpu|wall] [--hidden W]

The toy MLP: bench/specs/mlp_discrete.yaml (2-D GMM, DDPM chain N=1000, batch 512) with the README swiss roll's
network (eps MLP [128]*3, Fourier time embedding; `--hidden 256` for the spec's own [256]*3):

1. training step   the emitted loop body (bench.emitted_train_step) vs
                   (a) the bare step: the same network's forward + MSE backward + AdamW, and
                   (b) a diffusers user's loop: DDPMScheduler.add_noise, the same network, MSE to the noise,
                       backward, clip, AdamW, diffusers' EMAModel.step
2. sampler         the emitted DDIM sampler (eta 0; its network compiled as sample.py does, compile=on) vs
                   (a) NFE x one bare forward, and
                   (b) diffusers' DDIMScheduler loop (set_timesteps, step) with the same network at equal NFE

Every ratio is peer time / emitted time (above 1: scorec is faster), or emitted / bare (the overhead over
the network alone). The sides run in alternating rounds and each is its median (bench.interleaved), timed in
CPU time by default (one thread: what other jobs on a shared box add is left out); in brackets, the range of
the rounds' own ratios. The last line is `train_vs_diffusers X.XX sample_vs_diffusers Y.YY` (compile on, the
spec's own setting).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import DISCRETE_SPEC, bare_train_step, compile_to, emitted_train_step, fmt, interleaved, load_emitted  # noqa: E402

ROWS = []
CLOCK = {"cpu": time.process_time, "wall": time.perf_counter}


def timed(cases, rounds, clock, bare_times=1):
    """bench.interleaved's medians (the bare side's times `bare_times`: NFE x one forward), and each ratio's
    range over the rounds (the sides alternate within a round, so a round's ratio compares like with like)."""
    per_round = {}
    times = interleaved(cases, rounds, CLOCK[clock], per_round)
    times["bare"] *= bare_times
    rounds_of = {name: [v * (bare_times if name == "bare" else 1) for v in values]
                 for name, values in per_round.items()}
    ranges = {}
    for key, (num, den) in {"emitted/bare": ("emitted", "bare"), "diffusers/emitted": ("diffusers", "emitted")}.items():
        ratios = [a / b for a, b in zip(rounds_of[num], rounds_of[den])]
        ranges[key] = (min(ratios), max(ratios))
    return times, ranges


def row(bench, sides, ranges, note=""):
    """One line: each side's time, then emitted / bare and peer / emitted (median, and range over rounds)."""
    ROWS.append((bench, *(f"{fmt(sides[k])}" for k in ("emitted", "bare", "diffusers")),
                 *(f"{sides[a] / sides[b]:.3f} ({ranges[f'{a}/{b}'][0]:.2f}-{ranges[f'{a}/{b}'][1]:.2f})"
                   for a, b in (("emitted", "bare"), ("diffusers", "emitted"))), note))


def print_table():
    header = ("benchmark", "emitted", "bare", "diffusers", "emitted/bare", "diffusers/emitted", "note")
    widths = [max(len(str(r[i])) for r in [header, *ROWS]) for i in range(len(header))]
    for r in [header, tuple("-" * w for w in widths), *ROWS]:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())


def diffusers_train_step(common, train):
    """What a diffusers user writes: their scheduler's add_noise, the same network (fed the chain index
    i = t + 1, as the emitted loss feeds it), MSE to the noise, clip, AdamW, EMAModel."""
    import torch
    from diffusers import DDPMScheduler
    from diffusers.training_utils import EMAModel

    net = common.build_network()
    optimizer = torch.optim.AdamW(net.parameters(), lr=train.LR, weight_decay=train.WEIGHT_DECAY)
    scheduler = DDPMScheduler(num_train_timesteps=common.N_STEPS, beta_start=common.BETA_START,
                              beta_end=common.BETA_END, beta_schedule="linear")
    ema = EMAModel(net.parameters(), decay=train.EMA_DECAY)
    data = torch.as_tensor(common.load_data("train", common.SEED))
    batch = train.BATCH_SIZE

    def step():
        x0 = data[torch.randint(len(data), (batch,))]
        noise = torch.randn_like(x0)
        timesteps = torch.randint(0, common.N_STEPS, (batch,))
        noisy = scheduler.add_noise(x0, noise, timesteps)
        loss = torch.nn.functional.mse_loss(net(noisy, timesteps + 1), noise)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), train.GRAD_CLIP or float("inf"))
        optimizer.step()
        ema.step(net.parameters())

    return step


def bench_train(workdir, steps, rounds, clock, network):
    final = None
    for compiled in (False, True):
        overrides = [network, f"train.compile={str(compiled).lower()}"]
        out = compile_to(DISCRETE_SPEC, overrides, workdir / f"train_{compiled}")
        runtime, common, train = load_emitted(out, "train")
        cases = {"emitted": emitted_train_step(out, runtime, common, train), "bare": bare_train_step(common, train),
                 "diffusers": diffusers_train_step(common, train)}
        for step in cases.values():  # warm-up (the compile, when on)
            for _ in range(3):
                step()
        t, ranges = timed({name: (step, steps) for name, step in cases.items()}, rounds, clock)
        row(f"train step, compile={'on' if compiled else 'off'}", t, ranges,
            f"batch {train.BATCH_SIZE}, {steps} steps x {rounds} rounds")
        if compiled:
            final = t["diffusers"] / t["emitted"]
    return final


def bench_sampler(workdir, n, steps, rounds, clock, network):
    import torch
    from diffusers import DDIMScheduler

    final = None
    for compiled in (False, True):
        overrides = [network, "sample.sampler=ddim", f"sample.steps={steps}", f"train.compile={str(compiled).lower()}"]
        out = compile_to(DISCRETE_SPEC, overrides, workdir / f"sample_ddim_{compiled}")
        _, common, sample = load_emitted(out, "sample")
        net = common.build_network().eval().requires_grad_(False)
        eager = common.ScoreModel(net)
        # what sample.py draws with: the network compiled where the spec compiles (train.compile)
        model = sample.compile_network(common.ScoreModel(net)) if sample.COMPILE else eager
        x = common.prior_sample((n, *common.DATA_SHAPE), torch.Generator().manual_seed(1), torch.device("cpu"))
        # the same chain and spacing: linear betas, "leading" timesteps (diffusers' t = scorec's i - 1)
        scheduler = DDIMScheduler(num_train_timesteps=common.N_STEPS, beta_start=common.BETA_START,
                                  beta_end=common.BETA_END, beta_schedule="linear", clip_sample=False,
                                  set_alpha_to_one=True, timestep_spacing="leading", steps_offset=0)

        def diffusers_loop():
            scheduler.set_timesteps(steps)
            y = x
            for t in scheduler.timesteps:
                eps = net(y, (t + 1).expand(n))
                y = scheduler.step(eps, t, y, eta=0.0).prev_sample
            return y

        def emitted():
            return sample.sample(model, x, torch.Generator().manual_seed(2))

        t_one = common.time_grid(steps, x.device)[0].expand(n)
        with torch.inference_mode():
            model.nfe = 0
            ours = emitted()  # the compile, when on
            nfe = model.nfe
            plain = sample.sample(eager, x, torch.Generator().manual_seed(2))
            theirs = diffusers_loop()
            times, ranges = timed({"emitted": (emitted, 1), "bare": (lambda: net(x, t_one), nfe),
                                   "diffusers": (diffusers_loop, 1)}, rounds, clock, bare_times=nfe)
        gap = (ours - theirs).abs().max().item()  # the same deterministic chain: the two loops agree
        to_eager = (ours - plain).abs().max().item()  # compiled against eager: float rounding only
        row(f"sampler ddim, n {n}, compile={'on' if compiled else 'off'}", times, ranges,
            f"{steps} steps, NFE {nfe}; max |emitted - diffusers| {gap:.1e}, |emitted - eager| {to_eager:.1e}")
        if compiled:
            final = times["diffusers"] / times["emitted"]
    return final


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer rounds and samples (under five minutes)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (see bench/NOTES.md)")
    parser.add_argument("--clock", choices=sorted(CLOCK), default="cpu",
                        help="cpu: this process's CPU time (with one thread, what other jobs on a shared box do "
                             "not inflate); wall: elapsed time")
    parser.add_argument("--hidden", type=int, default=128, help="width of the MLP's three hidden layers")
    args = parser.parse_args()
    network = f"model.network.hidden=[{args.hidden}, {args.hidden}, {args.hidden}]"
    os.environ.setdefault("TORCHINDUCTOR_FORCE_DISABLE_CACHES", "1")
    warnings.filterwarnings("ignore")
    import torch

    torch.set_num_threads(args.threads)
    workdir = Path(tempfile.mkdtemp(prefix="scorec-vs-peers-"))
    try:
        # many short rounds: the compiles take the time; a median of many rounds rides out bursts of load
        train = bench_train(workdir, steps=10 if args.quick else 20, rounds=21 if args.quick else 41,
                            clock=args.clock, network=network)
        sample = bench_sampler(workdir, n=1000 if args.quick else 4000, steps=50 if args.quick else 100,
                               rounds=11 if args.quick else 21, clock=args.clock, network=network)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), CPU, {args.clock} time, "
          f"MLP [{args.hidden}]*3; "
          "ratios: median over rounds (min-max of the rounds' own ratios)")
    print_table()
    print(f"train_vs_diffusers {train:.2f} sample_vs_diffusers {sample:.2f}")


if __name__ == "__main__":
    main()
