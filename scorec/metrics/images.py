"""Image metrics of a run: features of the samples against the dataset's, with floors.

The dataset is read through the run's own emitted ``code/common.py`` (imported with
importlib): its ``load_data(split, seed)`` gives the train and test splits, and, where the
data source defines it, ``load_labels(split, seed)`` their class labels (which the
``classifier`` features need). Nothing here knows a data source by name: a run is an image
run when ``len(DATA_SHAPE) == 3``.

Reference = features of (up to ``n_reference``) train-split images, cached per dataset hash,
extractor and size. Floor = the same metric between test-split images (as many as there are
samples, at most the split, since FID and KID depend on the set size) and that reference: the
value a perfect model would get, reported as ``<key>_floor``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .feature_metrics import fid, inception_score, kid, precision_recall
from .features import ClassifierExtractor, Extractor, InceptionExtractor, cache_dir

#: metric name -> fn(sample features, reference features, sample logits, seed) -> {key: value}
IMAGE_METRICS = {}
NEEDS_LOGITS = {"is"}


def _image_metric(name):
    def deco(fn):
        IMAGE_METRICS[name] = fn
        return fn
    return deco


@_image_metric("fid")
def _fid(fx, fr, logits, seed):
    return {"fid": fid(fx, fr)}


@_image_metric("kid")
def _kid(fx, fr, logits, seed):
    value, se = kid(fx, fr, seed=seed)
    return {"kid": value, "kid_se": se}


@_image_metric("is")
def _is(fx, fr, logits, seed):
    mean, sd = inception_score(logits, splits=min(10, len(logits)))
    return {"is": mean, "is_std": sd}


@_image_metric("precision_recall")
def _pr(fx, fr, logits, seed):
    precision, recall = precision_recall(fr, fx, seed=seed)
    return {"precision": precision, "recall": recall}


@dataclass
class ImageData:
    train: np.ndarray  # (n, C, H, W) float32 in [-1, 1]
    test: np.ndarray
    train_labels: np.ndarray | None
    test_labels: np.ndarray | None
    hash: str  # sha256 of both splits (and labels): keys the caches


def _as_array(obj) -> tuple[np.ndarray, np.ndarray | None]:
    """load_data's result (array, tensor, (images, labels), or an indexable dataset) -> arrays."""
    if isinstance(obj, tuple) and len(obj) == 2:
        return _as_array(obj[0])[0], np.asarray(obj[1], dtype=np.int64)
    if hasattr(obj, "detach"):  # a torch tensor
        return obj.detach().cpu().float().numpy(), None
    if isinstance(obj, np.ndarray):
        return obj.astype(np.float32, copy=False), None
    if hasattr(obj, "__len__") and hasattr(obj, "__getitem__"):  # a map-style dataset
        items = [obj[i] for i in range(len(obj))]
        if items and isinstance(items[0], (tuple, list)):
            return (np.stack([np.asarray(_as_array(i[0])[0]) for i in items]),
                    np.asarray([int(i[1]) for i in items], dtype=np.int64))
        return np.stack([_as_array(i)[0] for i in items]), None
    raise TypeError(f"load_data returned a {type(obj).__name__}, not images")


def import_common(code_dir: Path, module: str = "common"):
    """The run's emitted common.py (or another of its modules: runtime) as a module (a fresh one per
    call: runs differ)."""
    path = Path(code_dir) / f"{module}.py"
    name = f"scorec_run_{module}_{hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look modules up here
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def load_image_data(common, seed: int) -> ImageData:
    train, train_labels = _as_array(common.load_data("train", seed))
    test, test_labels = _as_array(common.load_data("test", seed))
    if hasattr(common, "load_labels"):
        train_labels = np.asarray(common.load_labels("train", seed), dtype=np.int64)
        test_labels = np.asarray(common.load_labels("test", seed), dtype=np.int64)
    digest = hashlib.sha256()
    for part in (train, test, train_labels, test_labels):
        if part is not None:
            part = np.ascontiguousarray(part)
            digest.update(f"{part.dtype}{part.shape}".encode())
            digest.update(part.tobytes())
    return ImageData(train, test, train_labels, test_labels, digest.hexdigest())


def extractor_for(features: str, data: ImageData, log=print) -> Extractor:
    if features == "inception":
        return InceptionExtractor()
    if features == "classifier":
        return ClassifierExtractor.for_dataset(data, log=log)
    raise ValueError(f"unknown features {features!r} (inception, classifier)")


def reference_features(extractor: Extractor, data: ImageData, n: int, seed: int = 0):
    """Features (and logits) of up to n train images, cached per dataset, extractor and n."""
    path = cache_dir() / f"reference-{extractor.name}-{data.hash[:20]}-{n}.npz"
    if path.is_file():
        try:
            with np.load(path) as f:
                return f["features"], (f["logits"] if "logits" in f.files else None)
        except (OSError, ValueError, KeyError):
            pass  # damaged: recompute
    images = data.train
    if len(images) > n:
        images = images[np.random.default_rng(seed).choice(len(images), n, replace=False)]
    feats, logits = extractor(images, "reference features")
    from ..core.files import atomic_write

    arrays = {"features": feats, **({"logits": logits} if logits is not None else {})}
    atomic_write(path, lambda fh: np.savez(fh, **arrays))
    return feats, logits


def evaluate_images(names: list[str], samples: np.ndarray, data: ImageData, features: str, n_reference: int,
                    seed: int = 0, floors: bool = True, log=print) -> dict[str, float]:
    """The named image metrics of `samples` (n, C, H, W) in [-1, 1], and their floors."""
    names = [n for n in names if n in IMAGE_METRICS]
    if not names:
        return {}
    if samples.shape[1:] != data.train.shape[1:]:
        raise ValueError(f"samples have shape {samples.shape[1:]}, the data {data.train.shape[1:]}")
    extractor = extractor_for(features, data, log=log)
    ref_feats, _ = reference_features(extractor, data, n_reference)
    out: dict[str, float] = {}
    if isinstance(extractor, ClassifierExtractor):
        out["classifier_accuracy"] = extractor.accuracy
    fx, logits = extractor(np.clip(samples, -1, 1), "sample features")
    test = data.test[: min(len(data.test), len(samples))]
    ft, logits_t = extractor(test, "test-split features") if floors else (None, None)
    for name in names:
        out.update(IMAGE_METRICS[name](fx, ref_feats, logits, seed))
        if floors:
            out.update({f"{k}_floor": v for k, v in IMAGE_METRICS[name](ft, ref_feats, logits_t, seed).items()})
    return {k: float(v) for k, v in out.items()}
