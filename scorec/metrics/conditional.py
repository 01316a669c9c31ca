"""Metrics of a conditional model's samples: each sample asked for a label (samples.npz `labels`).

* label_accuracy: how often a classifier of the data says a sample is of the label it asked for.
  For images the evaluation classifier (the small CNN of features.py, trained on the labelled
  train split); for a Gaussian mixture the Bayes classifier of the mixture itself (the component
  of highest posterior). Its floor is the same classifier's accuracy on real data.
* per class: a metric of the samples that asked for class k against real data of class k, with a
  floor of the same size (`<metric>_class_<k>`, `<metric>_class_<k>_floor`).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

MIN_PER_CLASS = 2  # a class with fewer samples (or reference points) gets no per-class value


def label_accuracy(predicted: np.ndarray, asked: np.ndarray) -> float:
    """The share of samples whose predicted class is the one they asked for."""
    predicted, asked = np.asarray(predicted), np.asarray(asked)
    if predicted.shape != asked.shape or len(asked) == 0:
        raise ValueError(f"{predicted.shape} predictions for {asked.shape} labels")
    return float((predicted == asked).mean())


def mixture_posterior(x: np.ndarray, weights, means, stds) -> np.ndarray:
    """p(k | x) under sum_k w_k N(mu_k, std_k^2 I): (n, K), each row summing to 1."""
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    means, var = np.asarray(means, dtype=np.float64), np.asarray(stds, dtype=np.float64) ** 2
    d2 = ((x[:, None, :] - means[None]) ** 2).sum(-1)
    log_joint = np.log(np.asarray(weights, dtype=np.float64))[None] - 0.5 * d2 / var - 0.5 * x.shape[1] * np.log(var)
    log_joint -= log_joint.max(1, keepdims=True)
    post = np.exp(log_joint)
    return post / post.sum(1, keepdims=True)


def mixture_classes(x: np.ndarray, weights, means, stds) -> np.ndarray:
    """The Bayes classifier of a Gaussian mixture: the component of highest posterior."""
    return mixture_posterior(x, weights, means, stds).argmax(1)


def per_class(distance: Callable[[np.ndarray, np.ndarray], float], samples: np.ndarray, labels: np.ndarray,
              reference: np.ndarray, reference_labels: np.ndarray, floor_pool: np.ndarray,
              floor_labels: np.ndarray, name: str, seed: int = 0) -> dict[str, float]:
    """distance(samples of class k, reference of class k) for each class the samples asked for, and its
    floor: the same with as many real points of class k from floor_pool (independent of the reference)
    in place of the samples. Keys `<name>_class_<k>` and `<name>_class_<k>_floor`, and their means over
    the classes, `<name>_by_class` and `<name>_by_class_floor`."""
    rng = np.random.default_rng(seed)
    out: dict[str, float] = {}
    for k in np.unique(labels):
        mine, ref, pool = samples[labels == k], reference[reference_labels == k], floor_pool[floor_labels == k]
        if min(len(mine), len(ref)) < MIN_PER_CLASS:
            continue
        out[f"{name}_class_{k}"] = float(distance(mine, ref))
        if len(pool) >= MIN_PER_CLASS:
            real = pool[rng.choice(len(pool), size=min(len(mine), len(pool)), replace=False)]
            out[f"{name}_class_{k}_floor"] = float(distance(real, ref))
    for suffix in ("", "_floor"):
        values = [v for key, v in out.items() if key.endswith(suffix) and ("_floor" in key) == bool(suffix)]
        if values:
            out[f"{name}_by_class{suffix}"] = float(np.mean(values))
    return out
