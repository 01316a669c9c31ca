"""Features of a run's images for the image metrics (kinds/fid.py, kid.py, ...), with floors.

The dataset is read through the run's own emitted ``code/common.py`` (the evaluation's program):
its ``load_data(split, seed)`` gives the train and test splits, and, where the data source
defines it, ``load_labels(split, seed)`` their class labels (which the ``classifier`` features
need). Nothing here knows a data source by name.

Reference = features of (up to ``n_reference``) train-split images, cached per dataset hash,
extractor and size. Floor = the same metric between test-split images (as many as there are
samples, at most the split, since FID and KID depend on the set size: the evaluation's fresh
draw) and that reference: the value a perfect model would get, reported as ``<key>_floor``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
import numpy as np

from .features import ClassifierExtractor, Extractor, InceptionExtractor, cache_dir


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


# ------------------------------------------------------------------- one evaluation's features


def image_data(ev) -> ImageData:
    """The train and test splits, through the run's own common.py (once per evaluation)."""
    return ev.cached("image_data", lambda: load_image_data(ev.program.common, ev.seed))


def _extractor(ev) -> Extractor:
    def make():
        extractor = extractor_for(ev.ir.eval.features, image_data(ev), log=ev.log)
        if isinstance(extractor, ClassifierExtractor):  # how far its features can be trusted
            ev.reports["classifier_accuracy"] = extractor.accuracy
        return extractor

    return ev.cached("extractor", make)


def reference_feature_set(ev) -> np.ndarray:
    """Features of up to eval.n_reference train images: what every image metric compares with."""
    return ev.cached("reference_features",
                     lambda: reference_features(_extractor(ev), image_data(ev), ev.ir.eval.n_reference)[0])


def features(ev) -> tuple[np.ndarray, np.ndarray | None]:
    """(features, class logits or None) of ev.samples: the generated images, or in a floor view the
    test-split images that stand in for them."""
    def make():
        reference_feature_set(ev)  # the reference first: a classifier is trained (and reported) once
        if ev.role == "samples":
            shape = image_data(ev).train.shape[1:]
            if ev.samples.shape[1:] != shape:
                raise ValueError(f"samples have shape {ev.samples.shape[1:]}, the data {shape}")
            return _extractor(ev)(np.clip(ev.samples, -1, 1), "sample features")
        return _extractor(ev)(ev.samples, "test-split features")

    return ev.cached(("features", ev.role), make)
