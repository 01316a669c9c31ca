"""The emitted U-Net programs beside hand-written baselines, timed in alternating rounds in one process.

Training step (the network of spec_examples/digits_unet_ddpm.yaml):
  emitted    one iteration of the emitted train.py loop (batch draw, augment, loss_fn through ScoreModel,
             backward, gradient clipping with its norm, AdamW, EMA, on-device divergence flag)
  bare       the same network's forward + MSE backward + AdamW step, nothing else
  diffusers  a plain eager loop as diffusers' training examples write it (randint timesteps, add_noise by
             sqrt(alpha_bar), F.mse_loss, clip_grad_norm_, step, zero_grad; EMA update)
each eager, then (unless --no-compile) with torch.compile on the emitted loss and the bare forward+backward.

Graph break: the emitted loss draws its times and noise with an explicit torch.Generator, which dynamo
cannot trace (one graph break). "no break" is the same DDPM loss with the two draws made eagerly outside
the compiled function; torch._dynamo.explain counts the graphs of each, and both are timed side by side.

Sampler: the emitted sample() (untrained network, under inference_mode) against model.nfe x one bare
net(x, t) at the same batch, for the digits U-Net (ddim) and the 2-D MLP of bench/specs/mlp_vp.yaml (em).

    python bench/bench_unet.py [--no-compile] [--cold] [--only unet|mlp] [--rounds R] [--steps S] [--batch B]

Prints a table of ratios (bench.py's format); never asserts timings. Compiled sides are timed after their
warm-up steps (steady state); the warm-up time is printed beside them (a compile: cold only with --cold,
since otherwise inductor's caches are kept, and the sides share most kernels).
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(REPO / "bench")]  # this checkout's scorec, not an installed one

from bench import fmt, interleaved, print_table, row  # noqa: E402  (bench/bench.py: the shared table)

DIGITS = REPO / "spec_examples" / "digits_unet_ddpm.yaml"
MLP = REPO / "bench" / "specs" / "mlp_vp.yaml"


def train_sides(torch, runtime, common, train, batch, compiled):
    """{name: step function} of the emitted loop, the bare step and (no break) the loss without its draws."""
    data = torch.as_tensor(common.load_data("train", 0))
    gen = torch.Generator().manual_seed(0)
    maybe_compile = torch.compile if compiled else (lambda fn: fn)
    augment = getattr(common, "augment", lambda x, generator: x)  # images only (hflip)

    def emitted_side(loss_step, predraw):
        net = common.build_network()
        model = common.ScoreModel(net)
        opt = train.build_optimizer(net)  # train.py's (fused) AdamW
        # the EMA, the loss's running sum and divergence tracking, as train.py keeps them (writes nothing)
        trainer = runtime.Trainer(tempfile.gettempdir(), net, opt, gen, common.TRAINING_HASH)

        def step():
            x0 = data[torch.randint(len(data), (batch,), generator=gen)]
            x0 = augment(x0, gen)
            loss = loss_step(model, x0, *predraw(x0)) if predraw else loss_step(model, x0, gen)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            trainer.after_step(loss.detach(), norm, 0.995)
        return step

    def bare_side():
        net = common.build_network()
        opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
        x, t = torch.randn(batch, *common.DATA_SHAPE), torch.rand(batch)

        def fwd_bwd(x, t):
            return (net(x, t) - x).square().mean()
        fb = maybe_compile(fwd_bwd)

        def step():
            fb(x, t).backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
        return step

    def draws(x0):  # what the emitted loss_fn draws first, in the same order
        t = common.draw_time(len(x0), gen, x0.device)
        return t, torch.randn(x0.shape, generator=gen, device=x0.device)

    sides = {"emitted": emitted_side(maybe_compile(train.loss_fn), None), "bare": bare_side()}
    if compiled:
        sides["no break"] = emitted_side(maybe_compile(loss_given_draws(common, train)), draws)
    return sides


def loss_given_draws(common, train):
    """The emitted loss_fn with its two generator draws (t, z) moved out to the caller: ddpm, or dsm with
    sigma^2 weighting (bench/specs/mlp_vp.yaml). check_twin() asserts it computes the emitted loss."""
    bcast, alpha, sigma = common.bcast, common.alpha, common.sigma

    def ddpm(model, x0, i, z):
        x_i = bcast(alpha(i), x0) * x0 + bcast(sigma(i), x0) * z
        return ((model.eps(x_i, i) - z) ** 2).mean()

    def dsm_sigma2(model, x0, t, z):
        a, s = bcast(alpha(t), x0), bcast(sigma(t), x0)
        x_t = a * x0 + s * z
        per_sample = ((model.score(x_t, t) + z / s) ** 2).flatten(1).mean(1)
        return (sigma(t) ** 2 * per_sample).mean()
    return ddpm if "DDPM's simple loss" in train.loss_fn.__doc__ else dsm_sigma2


def diffusers_side(torch, common, batch):
    data = torch.as_tensor(common.load_data("train", 0))
    net = common.build_network()
    ema = copy.deepcopy(net).requires_grad_(False)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
    alphas_cumprod = torch.cumprod(1 - torch.linspace(1e-4, 0.02, 1000), 0)

    def step():
        clean = data[torch.randint(len(data), (batch,))]
        noise = torch.randn_like(clean)
        timesteps = torch.randint(0, 1000, (batch,))
        a = alphas_cumprod[timesteps].sqrt().view(-1, 1, 1, 1)
        s = (1 - alphas_cumprod[timesteps]).sqrt().view(-1, 1, 1, 1)
        loss = torch.nn.functional.mse_loss(net(a * clean + s * noise, timesteps.float()), noise)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        opt.zero_grad()
        with torch.no_grad():
            for p_ema, p in zip(ema.parameters(), net.parameters()):
                p_ema.mul_(0.995).add_(p, alpha=0.005)
    return step


def check_twin(torch, common, train):
    """The no-break loss is the emitted loss: the same value from the same generator state."""
    net = common.build_network()
    model = common.ScoreModel(net)
    x0 = torch.as_tensor(common.load_data("train", 0))[:16]
    a = train.loss_fn(model, x0, torch.Generator().manual_seed(5))
    g = torch.Generator().manual_seed(5)
    t = common.draw_time(len(x0), g, x0.device)
    b = loss_given_draws(common, train)(model, x0, t, torch.randn(x0.shape, generator=g))
    assert torch.allclose(a, b), (a, b)
    return model, x0


def explain_graphs(torch, common, train):
    """(graphs, breaks, first reason) of the emitted loss and of its no-break twin, by torch._dynamo.explain."""
    model, x0 = check_twin(torch, common, train)
    out = torch._dynamo.explain(train.loss_fn)(model, x0, torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(0)
    t = common.draw_time(len(x0), g, x0.device)
    twin = torch._dynamo.explain(loss_given_draws(common, train))(model, x0, t, torch.randn(x0.shape, generator=g))
    torch._dynamo.reset()
    reason = out.break_reasons[0].reason.splitlines()[0][:80] if out.break_reasons else "-"
    return (out.graph_count, out.graph_break_count, reason), (twin.graph_count, twin.graph_break_count)


def bench_train(torch, label, programs, batch, args, baselines=True):
    """Eager rows (with baselines: emitted vs bare and vs diffusers-style), then compiled rows: emitted vs
    bare, compile on vs off, and the generator-draw break (emitted vs its no-break twin)."""
    common, train = programs.common, programs.train
    note = f"batch {batch}, {args.steps} steps x {args.rounds} rounds"
    eager = train_sides(torch, programs.runtime_training, common, train, batch, compiled=False)
    if baselines:
        eager["diffusers"] = diffusers_side(torch, common, batch)
        for step in eager.values():
            step()
        t = interleaved({name: (step, args.steps) for name, step in eager.items()}, args.rounds)
        row(f"{label} train step, eager", "emitted", t["emitted"], "bare", t["bare"], note)
        row(f"{label} train step, eager", "emitted", t["emitted"], "diffusers-style", t["diffusers"], note)
    if args.no_compile:
        return
    (graphs, breaks, reason), (twin_graphs, twin_breaks) = explain_graphs(torch, common, train)
    print(f"{label} torch._dynamo.explain: emitted loss {graphs} graphs, {breaks} breaks ({reason}); "
          f"no-break twin {twin_graphs} graphs, {twin_breaks} breaks", flush=True)
    try:
        compiled = train_sides(torch, programs.runtime_training, common, train, batch, compiled=True)
        warmup = {}
        for name, step in compiled.items():  # compile: forward and backward graphs, in the first 2 steps
            start = time.perf_counter()
            step(), step()
            warmup[name] = time.perf_counter() - start
            print(f"  {label} warm-up {name} (compile) {warmup[name]:.1f} s", flush=True)
    except Exception as exc:  # noqa: BLE001  (a compile failure on this CPU is a result to report)
        print(f"torch.compile failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
        return
    eager["emitted"]()
    sides = {"emitted eager": (eager["emitted"], args.steps),
             **{name: (step, args.steps) for name, step in compiled.items()}}
    t = interleaved(sides, args.rounds)
    warm = f"; warm-up (2 steps, compile) {warmup['emitted']:.0f} s emitted, {warmup['bare']:.0f} s bare"
    row(f"{label} train step, compiled", "emitted", t["emitted"], "bare compiled", t["bare"], note + warm)
    row(f"{label} train step, compile on/off", "emitted on", t["emitted"], "emitted off", t["emitted eager"], note)
    row(f"{label} train step, draw in loss", f"{graphs} graphs", t["emitted"], f"draws outside, {twin_graphs}",
        t["no break"], f"{breaks} vs {twin_breaks} breaks counted; {note}")


def bench_break_overhead(torch, label, programs, batch, rounds, calls=50):
    """The compiled loss alone (forward, no grad) at a small batch, where per-call overhead shows:
    the emitted loss_fn (draws inside: the break) against its twin given the draws (made outside, eagerly)."""
    common, train = programs.common, programs.train
    model = common.ScoreModel(common.build_network())
    x0 = torch.as_tensor(common.load_data("train", 0))[:batch]
    inside, twin = torch.compile(train.loss_fn), torch.compile(loss_given_draws(common, train))
    gen = torch.Generator().manual_seed(0)

    def outside():
        t = common.draw_time(len(x0), gen, x0.device)
        return twin(model, x0, t, torch.randn(x0.shape, generator=gen))
    with torch.no_grad():
        for _ in range(2):
            inside(model, x0, gen), outside()
        t = interleaved({"inside": (lambda: inside(model, x0, gen), calls), "outside": (outside, calls)}, rounds)
    row(f"{label} compiled loss forward", "draws inside", t["inside"], "draws outside", t["outside"],
        f"batch {batch}, no grad, {calls} calls x {rounds} rounds; "
        f"difference {(t['inside'] - t['outside']) * 1e6:.0f} us")


def bench_sampler(torch, label, programs, batch, rounds):
    common, sample = programs.common, programs.sample
    net = common.build_network().eval().requires_grad_(False)
    model = common.ScoreModel(net)
    generator = torch.Generator().manual_seed(1)
    grid = common.time_grid(sample.SAMPLE_STEPS, torch.device("cpu"))
    with torch.inference_mode():
        x = common.prior_sample((batch, *common.DATA_SHAPE), generator, torch.device("cpu"))
        t = grid[0].expand(batch)
        model.nfe = 0
        sample.sample(model, x, generator)  # warm-up, and counts the NFE
        nfe = model.nfe
        times = interleaved({"sampler": (lambda: sample.sample(model, x, generator), 1),
                             "forward": (lambda: net(x, t), nfe)}, rounds)
    extra = (times["sampler"] - nfe * times["forward"]) / sample.SAMPLE_STEPS
    row(f"sampler {label}, batch {batch}", "sample", times["sampler"], f"{nfe} x forward", nfe * times["forward"],
        f"{sample.SAMPLE_STEPS} steps, 1 fwd {fmt(times['forward'])}, extra {extra * 1e6:.0f} us/step")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-compile", action="store_true", help="eager rows only (compiling takes minutes on CPU)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=3, help="train steps per round")
    parser.add_argument("--batch", type=int, default=64, help="training batch")
    parser.add_argument("--sample-batch", type=int, default=64, help="U-Net sampler batch (the MLP's is 512)")
    parser.add_argument("--sample-steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--only", choices=["unet", "mlp"], help="only the U-Net rows, or only the MLP rows")
    parser.add_argument("--cold", action="store_true", help="disable inductor's caches: every compile is cold "
                        "(on a loaded 2-core CPU the U-Net's compiles then take tens of minutes)")
    args = parser.parse_args()

    if args.cold:  # the warm-up is a user's very first compile; without it, kernels cached before are reused
        os.environ.setdefault("TORCHINDUCTOR_FORCE_DISABLE_CACHES", "1")
    warnings.filterwarnings("ignore", message="dynamo_pgo force disabled")
    import torch
    from emitted import build, compile_file

    torch.set_num_threads(args.threads)
    tmp = Path(tempfile.mkdtemp(prefix="scorec-bench-unet-"))
    sampling = [f"sample.steps={args.sample_steps}"]
    digits = build(compile_file(DIGITS, [f"train.batch_size={args.batch}", *sampling]), tmp / "digits")
    mlp = build(compile_file(MLP, ["sample.sampler=em", *sampling]), tmp / "mlp")
    params = sum(p.numel() for p in digits.common.build_network().parameters())
    print(f"U-Net of digits_unet_ddpm ({params} parameters), torch {torch.__version__}, threads {args.threads}",
          flush=True)
    if args.only != "mlp":
        bench_train(torch, "U-Net", digits, args.batch, args)
    if args.only != "unet":
        bench_train(torch, "MLP", mlp, 512, args, baselines=False)
        if not args.no_compile:
            bench_break_overhead(torch, "MLP", mlp, 16, args.rounds)
    if args.only != "mlp":
        bench_sampler(torch, "unet ddim", digits, args.sample_batch, args.rounds)
    if args.only != "unet":
        bench_sampler(torch, "mlp em", mlp, 512, args.rounds)
    print()
    print_table()


if __name__ == "__main__":
    main()
