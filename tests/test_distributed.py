"""`scorec run --nproc 2`: train.py under torchrun (DDP, gloo on the CPU) trains like one process
at the same global batch, only rank 0 writes, a killed 2-process run resumes, and the run samples."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from emitted import REPO

SPEC = """\
scorec: 1
name: ddp-tiny
seed: 0
data: {source: moons, n: 4000}
process: {kind: vp}
model: {parameterization: eps, network: {kind: mlp, hidden: [64, 64]}}
objective: {kind: dsm}
train: {steps: 200, batch_size: 128, lr: 3.0e-3, warmup: 10, compile: false, log_every: 20, checkpoint_every: 100}
sample: {sampler: em, steps: 20, n: 200}
eval: {metrics: [mmd]}
"""
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}


def scorec_run(spec, out, *extra):
    return subprocess.run([sys.executable, "-m", "scorec", "run", str(spec), "--out", str(out), "--device", "cpu",
                           *extra], cwd=REPO, env=ENV, capture_output=True, text=True, timeout=300)


def losses(run):
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    return {e["step"]: e["loss"] for e in events if e["event"] == "train"}


@pytest.mark.slow
def test_two_processes_train_like_one_and_sample(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    one = scorec_run(spec, tmp_path / "one")
    assert one.returncode == 0, one.stderr
    two = scorec_run(spec, tmp_path / "two", "--nproc", "2")
    assert two.returncode == 0, two.stderr
    a, b = losses(tmp_path / "one"), losses(tmp_path / "two")
    assert sorted(a) == sorted(b) == list(range(20, 201, 20))
    late = [s for s in a if s > 100]
    # the same model and global batch with other noise: the curves agree within the noise of a 20-step mean
    assert abs(np.mean([a[s] for s in late]) - np.mean([b[s] for s in late])) < 0.1 * np.mean([a[s] for s in late])
    events = [json.loads(line) for line in (tmp_path / "two" / "events.jsonl").read_text().splitlines()]
    assert events[0]["processes"] == 2 and sum(e["event"] == "train_start" for e in events) == 1  # rank 0 logs
    samples = np.load(tmp_path / "two" / "samples.npz")["samples"]
    assert samples.shape == (200, 2) and np.isfinite(samples).all()
    assert (tmp_path / "two" / "checkpoints" / "model.safetensors").exists() or "safetensors" not in sys.modules


@pytest.mark.slow
def test_a_killed_two_process_run_resumes(tmp_path):
    import torch

    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    out = tmp_path / "run"
    # 600 steps, a checkpoint every 100: the kill lands between two checkpoints before the end even when
    # the box is quiet and 100 steps take a fraction of a second (200 steps were sometimes all done)
    longer = ["--set", "train.steps=600"]
    proc = subprocess.Popen([sys.executable, "-m", "scorec", "run", str(spec), "--out", str(out), "--device", "cpu",
                             "--nproc", "2", *longer], cwd=REPO, env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    checkpoint = out / "checkpoints" / "last.pt"
    try:
        for _ in range(3000):
            if checkpoint.exists():
                break
            time.sleep(0.1)
    finally:
        os.killpg(proc.pid, 9)  # kill -9 the whole run: scorec, torchrun and both ranks
        proc.wait()
    killed_at = torch.load(checkpoint, weights_only=True)["step"]
    assert killed_at in (100, 200, 300, 400, 500)
    again = scorec_run(spec, out, "--nproc", "2", *longer)
    assert again.returncode == 0, again.stderr
    state = torch.load(checkpoint, weights_only=True)
    assert state["step"] == 600 and len(state["rank_generators"]) == 2
    assert sorted(losses(out)) == list(range(20, 601, 20))


def test_an_uneven_global_batch_is_refused(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    result = scorec_run(spec, tmp_path / "run", "--nproc", "3")
    assert result.returncode == 1 and "does not split evenly over --nproc 3" in result.stderr


MH_SPEC = REPO / "spec_examples" / "gmm_none_analytic_mh.yaml"
SMALL_SAMPLING = ["--set", "sample.n=250", "--set", "sample.batch_size=64", "--set", "sample.steps=50"]


@pytest.mark.slow
def test_sampling_shared_over_processes_gives_the_one_process_samples(tmp_path):
    # Exact-energy MH (no training): 250 samples in batches of 64, 64, 64, 58; under --nproc 2 rank 0 draws
    # batches 0 and 2, rank 1 batches 1 and 3. Each batch has its own generator seeded by (seed, batch
    # index), and both runs use one thread, so the gathered samples are the same numbers, bit for bit.
    one = scorec_run(MH_SPEC, tmp_path / "one", *SMALL_SAMPLING)
    assert one.returncode == 0, one.stderr
    two = scorec_run(MH_SPEC, tmp_path / "two", *SMALL_SAMPLING, "--nproc", "2")
    assert two.returncode == 0, two.stderr
    a, b = np.load(tmp_path / "one" / "samples.npz"), np.load(tmp_path / "two" / "samples.npz")
    assert a["samples"].shape == b["samples"].shape == (250, 2)
    assert np.array_equal(a["samples"], b["samples"])
    assert int(a["nfe"]) == int(b["nfe"]) > 0
    # the acceptance rate is averaged over all 250 samples, summed per rank (another order of addition)
    assert 0.05 < float(a["stat_acceptance"]) < 0.95
    assert float(b["stat_acceptance"]) == pytest.approx(float(a["stat_acceptance"]), rel=1e-12)
    events = [json.loads(line) for line in (tmp_path / "two" / "sample_events.jsonl").read_text().splitlines()]
    assert [e["processes"] for e in events if e["event"] in ("sample_start", "sample_done")] == [2, 2]  # rank 0 logs

    # scorec sample --nproc 3 with two batches (64, 36): rank 2 draws nothing and still joins the gather
    again = subprocess.run([sys.executable, "-m", "scorec", "sample", str(tmp_path / "one"), "--device", "cpu",
                            "--nproc", "3", "--set", "sample.n=100"], cwd=REPO, env=ENV, capture_output=True,
                           text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    c = np.load(tmp_path / "one" / "samples.npz")["samples"]
    assert c.shape == (100, 2) and np.array_equal(c[:64], a["samples"][:64])  # batch 0: the same seed and size
    assert not np.array_equal(c[64:], a["samples"][64:100])  # batch 1 has 36 samples, not 64: other draws
