"""The IR: frozen, JSON-serialisable, hashed into a stable spec hash; NFE counting; compatibility.

The spec hash must be equal for specs that mean the same program (defaults written out,
comments, key order, YAML style, number spelling) and differ when anything meaningful
changes. The NFE the lowering counts must be the number of network calls the emitted
sampler really makes.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from emitted import EXAMPLES, build, compile_file, compile_text
from scorec.core.diagnostics import SpecError, SpecErrors
from scorec.core.ir import ProgramIR, canonical_json, spec_hash, to_json
from scorec.frontend.yaml_loader import load_yaml
from scorec.schema.validate import validate

ALL_EXAMPLES = sorted(EXAMPLES.glob("*.yaml"))

# ------------------------------------------------------------------------------ structure


def _walk(node, path="ir"):
    """Yield (path, value) for every value reachable in the IR."""
    yield path, node
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        for f in dataclasses.fields(node):
            if f.name == "span":
                continue
            yield from _walk(getattr(node, f.name), f"{path}.{f.name}")
    elif isinstance(node, tuple):
        for i, value in enumerate(node):
            yield from _walk(value, f"{path}[{i}]")


@pytest.mark.parametrize("spec", ALL_EXAMPLES, ids=lambda p: p.stem)
def test_ir_is_frozen_and_json_serialisable(spec):
    ir = compile_file(spec)
    assert isinstance(ir, ProgramIR)
    for path, value in _walk(ir):
        if dataclasses.is_dataclass(value):
            assert value.__dataclass_params__.frozen, f"{path} ({type(value).__name__}) is not frozen"
        assert not isinstance(value, (list, dict, set)), f"{path} is a mutable {type(value).__name__}"
    hash(ir)  # deeply immutable: hashable all the way down
    with pytest.raises(dataclasses.FrozenInstanceError):
        ir.sampler.steps = 1  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        ir.seed = 1  # type: ignore[misc]

    text = json.dumps(to_json(ir), allow_nan=False)  # strict JSON: no NaN/inf constants
    back = json.loads(text)
    assert back["name"] == ir.name and back["sampler"]["nfe"] == ir.sampler.nfe
    assert json.loads(canonical_json(ir)) == back
    assert len(spec_hash(ir)) == 64 and spec_hash(ir) == spec_hash(compile_file(spec))


# ------------------------------------------------------------------------------ spec hash

MINIMAL = """\
scorec: 1
name: hashme
data: {source: swiss_roll}
process: {kind: vp}
"""

EXPLICIT = """\
# every default of a vp + pc spec, written out
scorec: 1
name: hashme
seed: 0
data:
  source: swiss_roll
  n: 20000
  noise: 0.05
process:
  kind: vp
  beta_min: 0.1
  beta_max: 20.0
  t_eps: 1.0e-3
model:
  parameterization: eps
  network:
    kind: mlp
    hidden: [256, 256, 256]
    activation: silu
    time_embedding: fourier
    embedding_dim: 64
objective:
  kind: dsm
  weighting: standard
train:
  steps: 10000
  batch_size: 512
  lr: 2.0e-4
  warmup: 100
  weight_decay: 0.0
  grad_clip: 1.0
  ema: 0.999
  precision: fp32
  compile: true
  checkpoint_every: 1000
  log_every: 50
sample:
  sampler: pc
  steps: 1000
  n: 5000
  batch_size: 5000
  denoise: true
  predictor: reverse_diffusion
  corrector: {kind: langevin, snr: 0.16, steps: 1}
eval:
  metrics: [c2st, mmd, nn_ratio, swd]
  n_reference: 5000
"""

RESTYLED = """\
# the same spec, keys shuffled, flow and block styles swapped, numbers spelled differently

process:   {beta_max: 2e1, kind: "vp",   t_eps: 0.001}      # trailing comment
data:
    source: 'swiss_roll'
name: hashme
scorec: 1
sample:
  corrector:
    steps: 1
    snr: 1.6e-1
  sampler: pc
train: {lr: 0.0002, ema: 0.9990}
"""


def test_explicit_defaults_hash_like_the_minimal_spec():
    minimal = compile_text(MINIMAL)
    assert spec_hash(compile_text(EXPLICIT)) == spec_hash(minimal)
    assert compile_text(EXPLICIT) == minimal


def test_dumped_validated_spec_hashes_like_its_source():
    """model_dump of the validated spec (every default explicit) is itself a spec of the same program."""
    for text in (MINIMAL, (EXAMPLES / "gmm_vp_analytic_pc.yaml").read_text(),
                 (EXAMPLES / "checkerboard_cosine_ddim.yaml").read_text()):
        spec = validate(load_yaml(text, "spec.yaml"))
        dumped = json.dumps(spec.model_dump())  # JSON is YAML
        assert spec_hash(compile_text(dumped)) == spec_hash(compile_text(text))


def test_comments_key_order_and_style_do_not_change_the_hash():
    assert spec_hash(compile_text(RESTYLED)) == spec_hash(compile_text(MINIMAL))
    commented = "\n".join(f"{line}   # note {i}" if line.strip() else line
                          for i, line in enumerate(EXPLICIT.splitlines())) + "\n\n\n"
    assert spec_hash(compile_text(commented)) == spec_hash(compile_text(MINIMAL))


def test_equivalent_gmm_spellings_hash_alike():
    one_std = "scorec: 1\nname: g\ndata: {source: gmm, means: [[0, 0], [1, 1]], std: 0.3}\nprocess: {kind: ve}\n"
    per_mode = one_std.replace("std: 0.3", "std: [0.3, 0.3], weights: [0.5, 0.5]")
    assert spec_hash(compile_text(per_mode)) == spec_hash(compile_text(one_std))


@pytest.mark.parametrize("override", [
    "sample.steps=999", "process.beta_max=19.0", "process.beta_min=0.2", "process.t_eps=1.0e-4", "seed=1",
    "name=other", "train.lr=1.0e-3", "train.steps=10", "train.ema=0.99", "train.compile=false",
    "sample.n=6000", "sample.batch_size=100", "sample.denoise=false", "sample.corrector.snr=0.2",
    "sample.corrector.steps=2",
    "sample.predictor=em", "model.parameterization=score", "model.network.hidden=[64, 64]",
    "objective.weighting=likelihood", "data.n=1000", "data.noise=0.1", "eval.metrics=[mmd]",
    "eval.n_reference=100",
])
def test_meaningful_changes_change_the_hash(override):
    base = spec_hash(compile_text(MINIMAL))
    changed = compile_text(MINIMAL, [override])
    assert spec_hash(changed) != base


# ------------------------------------------------------------------------------ NFE

GMM_HEAD = """\
scorec: 1
name: nfe
seed: 1
data: {source: gmm, means: [[-1.0, 0.0], [1.0, 0.5]], std: 0.4}
model: {network: {kind: analytic}}
"""
VP = "process: {kind: vp}\n"
DISCRETE = "process: {kind: discrete, schedule: linear, timesteps: 20}\n"
LADDER = "process: {kind: ncsn, sigma_min: 0.05, sigma_max: 3.0, levels: 4}\n"

# (process, sample section, expected NFE of the sampler loop, denoise adds one more)
NFE_CASES = {
    "em": (VP, "{sampler: em, steps: 4}", 4, True),
    "em-no-denoise": (VP, "{sampler: em, steps: 4, denoise: false}", 4, False),
    "pc-k0": (VP, "{sampler: pc, steps: 3, corrector: {kind: none}}", 3 * (1 + 0), True),
    "pc-k1": (VP, "{sampler: pc, steps: 3, corrector: {kind: langevin, steps: 1}}", 3 * (1 + 1), True),
    "pc-k3-em-predictor": (VP, "{sampler: pc, steps: 3, predictor: em, corrector: {kind: langevin, steps: 3}}",
                           3 * (1 + 3), True),
    "pc-k2-no-denoise": (VP, "{sampler: pc, steps: 3, denoise: false, corrector: {kind: langevin, steps: 2}}",
                         3 * (1 + 2), False),
    "ode-euler": (VP, "{sampler: ode, method: euler, steps: 3}", 3 * 1, True),
    "ode-heun": (VP, "{sampler: ode, method: heun, steps: 3}", 3 * 2, True),
    "ode-rk4": (VP, "{sampler: ode, method: rk4, steps: 3}", 3 * 4, True),
    "ode-rk4-no-denoise": (VP, "{sampler: ode, method: rk4, steps: 2, denoise: false}", 2 * 4, False),
    "langevin": (VP, "{sampler: langevin, steps: 6, step_size: 0.01}", 6, True),
    "langevin-no-denoise": (VP, "{sampler: langevin, steps: 5, denoise: false}", 5, False),
    "ancestral": (DISCRETE, "{sampler: ancestral, steps: 5}", 5, False),
    "ancestral-all-steps": (DISCRETE, "{sampler: ancestral, steps: 20}", 20, False),
    "ddim": (DISCRETE, "{sampler: ddim, steps: 4}", 4, False),
    "ddim-eta1": (DISCRETE, "{sampler: ddim, steps: 7, eta: 1.0}", 7, False),
    "annealed-langevin": (LADDER, "{sampler: annealed_langevin, steps_per_level: 3, step_size: 0.01}", 4 * 3, True),
    "annealed-langevin-no-denoise": (LADDER, "{sampler: annealed_langevin, steps_per_level: 2, denoise: false}",
                                     4 * 2, False),
    # few-step samplers: the last step to the data is the denoiser (no extra evaluation)
    "dpm-solver-2m": (VP, "{sampler: dpm_solver, steps: 5}", 5, False),
    "dpm-solver-3m-sde-discrete": (DISCRETE, "{sampler: dpm_solver, steps: 6, order: 3, variant: sde}", 6, False),
    "dpm-solver-no-denoise-karras": (VP, "{sampler: dpm_solver, steps: 4, denoise: false, grid: {kind: karras}}", 4,
                                     False),
    "unipc-3": (VP, "{sampler: unipc, steps: 5, order: 3}", 5, False),
    "unipc-discrete-trailing": (DISCRETE, "{sampler: unipc, steps: 4, grid: {kind: trailing}}", 4, False),
    "edm": (VP, "{sampler: edm, steps: 4}", 2 * 4 - 1, False),
    "edm-churn-no-denoise": (VP, "{sampler: edm, steps: 3, churn: 2.0, denoise: false}", 2 * 3, False),
    "edm-discrete-karras": (DISCRETE, "{sampler: edm, steps: 3}", 2 * 3 - 1, False),
    "ipndm-4": (VP, "{sampler: ipndm, steps: 6, grid: {kind: quadratic}}", 6, False),
    "ipndm-optimized": (VP, "{sampler: ipndm, steps: 4, grid: {kind: optimized, calibration: 8, iterations: 2, "
                            "reference_steps: 12}}", 4, False),
    "dpm-solver-logsnr-leading": (DISCRETE, "{sampler: dpm_solver, steps: 3, grid: {kind: leading}}", 3, False),
}


@pytest.mark.parametrize("case", sorted(NFE_CASES))
def test_nfe_counted_by_lowering_is_what_the_sampler_does(case, tmp_path):
    import torch

    process, sample, loop_nfe, final = NFE_CASES[case]
    ir = compile_text(GMM_HEAD + process + f"sample: {sample}\n", ["sample.n=6", "sample.batch_size=3"])
    expected = loop_nfe + (1 if final else 0)
    assert ir.sampler.nfe == expected

    programs = build(ir, tmp_path)
    s = programs.sample
    device = torch.device("cpu")
    model = s.ScoreModel(s.load_network(str(tmp_path), device))
    generator = torch.Generator(device=device).manual_seed(0)
    x = s.prior_sample((3, *s.DATA_SHAPE), generator, device)
    if getattr(ir.sampler, "prepares", False):  # an optimized grid is found once, before sampling
        s.prepare_sampler(model, str(tmp_path / "grid.json"), device)
        assert model.nfe == 0  # the calibration's evaluations are not the sampler's
    states = []  # the sampler contract: callback(step, x) after each step, x the state in the data's space
    with torch.inference_mode():
        out = s.sample(model, x, generator, callback=lambda step, state: states.append((step, state.clone())))
    assert model.nfe == loop_nfe
    assert out.shape == x.shape and torch.isfinite(out).all()
    assert states and [step for step, _ in states] == sorted({step for step, _ in states})
    assert all(state.shape == x.shape for _, state in states)
    assert torch.allclose(states[-1][1], out)  # the last state seen is what the sampler returns

    # the whole program, denoising included, reports the lowering's count
    s.main(["--out", str(tmp_path), "--device", "cpu"])
    data = np.load(tmp_path / "samples.npz")
    assert int(data["nfe"]) == ir.sampler.nfe
    assert data["samples"].shape == (6, 2)


# ------------------------------------------------------------------------------ compatibility

SWISS = "scorec: 1\nname: c\ndata: {source: swiss_roll}\n"


def _errors(text: str) -> list[SpecError]:
    with pytest.raises((SpecError, SpecErrors)) as info:
        compile_text(text)
    exc = info.value
    return list(exc.errors) if isinstance(exc, SpecErrors) else [exc]


@pytest.mark.parametrize("text, line, fragment", [
    (SWISS + "process: {kind: vp}\nsample: {sampler: ddim}\n", 5, "sampler 'ddim' needs a discrete process"),
    (SWISS + "process: {kind: ve}\nsample: {sampler: ancestral}\n", 5, "sampler 'ancestral' needs a discrete"),
    (SWISS + "process: {kind: discrete}\nsample: {sampler: em}\n", 5, "sampler 'em' needs a continuous"),
    (SWISS + "process: {kind: discrete}\nsample: {sampler: ode}\n", 5, "sampler 'ode' needs a continuous"),
    (SWISS + "process: {kind: vp}\nobjective: {kind: ddpm}\n", 5, "objective 'ddpm' needs a discrete"),
    (SWISS + "process: {kind: discrete}\nobjective: {kind: dsm}\n", 5, "objective 'dsm' needs a noise-conditional process"),
    (SWISS + "process: {kind: vp}\nmodel: {network: {kind: analytic}}\n", 5, "needs a Gaussian-mixture data source"),
    (SWISS + "process: {kind: vp}\nsample: {n: 10, batch_size: 20}\n", 5, "batch_size (20) is larger than n (10)"),
    (SWISS + "process: {kind: discrete, timesteps: 10}\nsample: {sampler: ddim, steps: 11}\n", 5,
     "exceeds the process's 10 timesteps"),
    (SWISS + "process: {kind: discrete}\nsample: {sampler: ancestral, denoise: false}\n", 5,
     "sampler 'ancestral' has no final denoiser to turn off"),
    (SWISS + "process: {kind: ncsn}\nsample: {sampler: dpm_solver}\n", 5,
     "sampler 'dpm_solver' needs a process with a Gaussian kernel"),
    (SWISS + "process: {kind: none}\nsample: {sampler: unipc}\n", 5, "sampler 'unipc' needs a process with a Gaussian"),
    (SWISS + "process: {kind: vp}\nsample:\n  sampler: edm\n  grid: {kind: linspace}\n", 7,
     "grid 'linspace' does not apply to process 'vp'"),
    (SWISS + "process: {kind: vp}\nsample:\n  sampler: dpm_solver\n  steps: 2\n  order: 3\n", 8,
     "order 3 needs at least 3 steps"),
    (SWISS + "process: {kind: vp}\nsample:\n  sampler: ipndm\n  order: 4\n  steps: 3\n", 7,
     "order 4 needs at least 4 steps"),
    (SWISS + "process: {kind: vp}\nsample:\n  sampler: dpm_solver\n  variant: sde\n  grid: {kind: optimized}\n", 8,
     "grid 'optimized' is fitted to a deterministic solver"),
])
def test_incompatible_choices_are_located_spec_errors(text, line, fragment):
    errors = _errors(text)
    assert len(errors) == 1, [e.message for e in errors]
    assert fragment in errors[0].message
    assert errors[0].span is not None and errors[0].span.line == line
    assert errors[0].hint


def test_several_incompatibilities_are_reported_together():
    errors = _errors(SWISS + "process: {kind: vp}\nobjective: {kind: ddpm}\nsample: {sampler: ddim}\n")
    messages = " | ".join(e.message for e in errors)
    assert len(errors) == 2, messages
    assert "ddim" in messages and "ddpm" in messages


def test_training_hash_ignores_sampling_and_schedule_but_not_the_model():
    from scorec.core.ir import training_hash

    base = compile_file(EXAMPLES / "swissroll_vp_pc.yaml")
    same = ["sample.steps=10", "sample.sampler=em", "eval.metrics=[swd]", "train.steps=5", "train.log_every=7",
            "train.checkpoint_every=3"]
    for override in same:
        assert training_hash(compile_file(EXAMPLES / "swissroll_vp_pc.yaml", [override])) == training_hash(base), override
    different = ["model.network.hidden=[64]", "process.beta_max=10.0", "train.lr=1.0e-3", "seed=1",
                 "objective.weighting=uniform", "data.n=100"]
    for override in different:
        assert training_hash(compile_file(EXAMPLES / "swissroll_vp_pc.yaml", [override])) != training_hash(base), override


def test_sample_batch_size_defaults_to_fit_n():
    """A default never contradicts the user: sample.n = 100 alone gives batch_size 100."""
    ir = compile_text(SWISS + "process: {kind: vp}\nsample: {n: 100}\n")
    assert ir.sampler.batch_size == 100
    assert compile_text(SWISS + "process: {kind: vp}\nsample: {n: 12000}\n").sampler.batch_size == 5000
