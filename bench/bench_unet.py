"""The emitted U-Net train step beside two others, timed in alternating rounds in one process:

  emitted   one iteration of the emitted train.py loop (batch draw, loss_fn through ScoreModel, backward,
            gradient clipping with its norm, AdamW, EMA, on-device divergence flag)
  bare      the same network's forward + MSE backward + AdamW step, nothing else
  diffusers a plain eager loop as diffusers' training examples write it (randint timesteps, add_noise by
            sqrt(alpha_bar), F.mse_loss, clip_grad_norm_, step, zero_grad; EMA update)

    python bench/bench_unet.py [--compile] [--rounds R] [--batch B] [--threads N]

Prints each side's median seconds per step and the ratios; never asserts timings.
"""

from __future__ import annotations

import argparse
import copy
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]  # this checkout's scorec, not an installed one


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--compile", action="store_true", help="torch.compile the emitted loss and the bare step")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=5, help="steps per round")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    import torch
    from emitted import build, compile_file

    torch.set_num_threads(args.threads)
    tmp = tempfile.mkdtemp()
    programs = build(compile_file(REPO / "spec_examples" / "digits_unet_ddpm.yaml",
                                  [f"train.batch_size={args.batch}"]), tmp)
    common, train = programs.common, programs.train
    data = torch.as_tensor(common.load_data("train", 0))
    gen = torch.Generator().manual_seed(0)

    def emitted_side():
        net = common.build_network()
        model, ema = common.ScoreModel(net), copy.deepcopy(net).requires_grad_(False)
        opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
        loss_step = torch.compile(train.loss_fn) if args.compile else train.loss_fn
        first_bad, count = torch.zeros((), dtype=torch.long), torch.zeros((), dtype=torch.long)

        def step():
            nonlocal first_bad, count
            x0 = data[torch.randint(len(data), (args.batch,), generator=gen)]
            x0 = common.augment(x0, gen)
            loss = loss_step(model, x0, gen)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            train.ema_update(ema, net, 0.995)
            count += 1
            finite = torch.isfinite(loss.detach()) & torch.isfinite(norm)
            first_bad = torch.where(finite | (first_bad > 0), first_bad, count)
        return step

    def bare_side():
        net = common.build_network()
        opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
        x, t = torch.randn(args.batch, *common.DATA_SHAPE), torch.rand(args.batch)

        def fwd_bwd(x, t):
            out = net(x, t)
            return (out - x).square().mean()
        fb = torch.compile(fwd_bwd) if args.compile else fwd_bwd

        def step():
            fb(x, t).backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
        return step

    def diffusers_side():
        net = common.build_network()
        ema = copy.deepcopy(net).requires_grad_(False)
        opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
        betas = torch.linspace(1e-4, 0.02, 1000)
        alphas_cumprod = torch.cumprod(1 - betas, 0)

        def step():
            clean = data[torch.randint(len(data), (args.batch,))]
            noise = torch.randn_like(clean)
            timesteps = torch.randint(0, 1000, (args.batch,))
            a = alphas_cumprod[timesteps].sqrt().view(-1, 1, 1, 1)
            s = (1 - alphas_cumprod[timesteps]).sqrt().view(-1, 1, 1, 1)
            noisy = a * clean + s * noise
            pred = net(noisy, timesteps.float())
            loss = torch.nn.functional.mse_loss(pred, noise)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            opt.zero_grad()
            with torch.no_grad():
                for p_ema, p in zip(ema.parameters(), net.parameters()):
                    p_ema.mul_(0.995).add_(p, alpha=0.005)
        return step

    sides = {"emitted": emitted_side(), "bare": bare_side(), "diffusers": diffusers_side()}
    for step in sides.values():  # warm up (and compile)
        for _ in range(2):
            step()
    times = {name: [] for name in sides}
    for _ in range(args.rounds):
        for name, step in sides.items():
            start = time.perf_counter()
            for _ in range(args.steps):
                step()
            times[name].append((time.perf_counter() - start) / args.steps)
    median = {name: statistics.median(v) for name, v in times.items()}
    params = sum(p.numel() for p in common.build_network().parameters())
    print(f"U-Net of digits_unet_ddpm ({params} parameters), batch {args.batch}, threads {args.threads}, "
          f"compile {args.compile}, {args.rounds} rounds of {args.steps} steps")
    for name, value in median.items():
        print(f"  {name:10s} {1000 * value:8.1f} ms/step")
    print(f"  emitted / bare      {median['emitted'] / median['bare']:.2f}")
    print(f"  emitted / diffusers {median['emitted'] / median['diffusers']:.2f}")
    assert math.isfinite(median["emitted"])


if __name__ == "__main__":
    main()
