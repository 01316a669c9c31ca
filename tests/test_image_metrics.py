"""FID, KID, IS, precision/recall, C2ST and the energy distance against independent
computations on fixed features; feature extraction (inception golden, classifier) and the
image-evaluation wiring on synthetic image data.

Independent references: scipy.linalg.sqrtm of the covariance product for the Fréchet distance,
the textbook double-sum unbiased MMD^2 with the cubic polynomial kernel for KID, per-sample
KL loops for IS, brute-force ball membership for precision/recall. Tolerance 1e-6 relative.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from scorec.metrics.feature_metrics import fid, frechet_distance, inception_score, kid, precision_recall
from scorec.metrics.two_sample import c2st, energy_distance

GOLDEN = Path(__file__).parent / "golden" / "inception_features.npz"


def _feats(seed, n=400, d=24, shift=0.0, scale=1.0):
    rng = np.random.default_rng(seed)
    mix = rng.standard_normal((d, d)) / math.sqrt(d)  # correlated coordinates
    return (rng.standard_normal((n, d)) @ mix) * scale + shift


# ----------------------------------------------------------------------------------- FID


def test_fid_matches_scipy_sqrtm():
    scipy_linalg = pytest.importorskip("scipy.linalg")
    x, y = _feats(0), _feats(1, n=300, shift=0.3, scale=1.3)
    mu1, mu2 = x.mean(0), y.mean(0)
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    covmean = scipy_linalg.sqrtm(s1 @ s2).real
    expected = float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))
    assert fid(x, y) == pytest.approx(expected, rel=1e-6)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-6)


def test_fid_closed_form_for_gaussians():
    """FID of N(m1, a^2 I) and N(m2, b^2 I) = |m1 - m2|^2 + d (a - b)^2: checks the trace term
    independently of any sqrtm."""
    d = 5
    got = frechet_distance(np.zeros(d), 4 * np.eye(d), np.ones(d), 9 * np.eye(d))
    assert got == pytest.approx(d * 1.0 + d * (2 - 3) ** 2, rel=1e-12)


def test_fid_of_a_set_against_itself_is_zero_and_symmetric():
    x, y = _feats(2), _feats(3, shift=0.5)
    assert fid(x, x) == pytest.approx(0.0, abs=1e-9)
    assert fid(x, y) == pytest.approx(fid(y, x), rel=1e-9)
    # more features than points (singular covariances) stays finite and ~0 against itself
    z = _feats(4, n=10, d=30)
    assert abs(fid(z, z)) < 1e-8


# ----------------------------------------------------------------------------------- KID


def _mmd2_poly_loops(x, y):
    d = x.shape[1]

    def k(a, b):
        return (float(a @ b) / d + 1.0) ** 3

    n, m = len(x), len(y)
    sxx = sum(k(x[i], x[j]) for i in range(n) for j in range(n) if i != j)
    syy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j)
    sxy = sum(k(x[i], y[j]) for i in range(n) for j in range(m))
    return sxx / (n * (n - 1)) + syy / (m * (m - 1)) - 2 * sxy / (n * m)


def test_kid_matches_double_sum_formula():
    from scorec.metrics.feature_metrics import _mmd2_poly_unbiased

    x, y = _feats(5, n=30, d=6), _feats(6, n=25, d=6, shift=0.4)
    assert _mmd2_poly_unbiased(x, y) == pytest.approx(_mmd2_poly_loops(x, y), rel=1e-6)


def test_kid_mean_and_standard_error_over_subsets():
    # brute force: the same subsets (the same seeded draws) through the double-sum formula
    x, y = _feats(7, n=60, d=6), _feats(8, n=50, d=6, shift=0.4)
    value, se = kid(x, y, n_subsets=7, subset_size=20, seed=3)
    rng = np.random.default_rng(3)
    vals = [_mmd2_poly_loops(x[rng.choice(60, 20, replace=False)], y[rng.choice(50, 20, replace=False)])
            for _ in range(7)]
    assert value == pytest.approx(np.mean(vals), rel=1e-6)
    v, n = np.var(vals, ddof=1), 50  # the delete-d jackknife over subsets of 20 of the smaller set's 50
    assert se == pytest.approx(math.sqrt(v * 20 / (n - 20) + v / 7), rel=1e-6)
    assert math.isnan(kid(x, y, n_subsets=1, subset_size=20)[1])  # one subset: no spread to estimate from


def test_kid_subsets_stay_below_the_set_size():
    # subset_size larger than the sets: subsets of half the smaller set (15 of 30), so they differ and the
    # standard error is not the 0 of identical whole-set subsets
    x, y = _feats(9, n=30, d=6), _feats(10, n=40, d=6, shift=0.4)
    value, se = kid(x, y, n_subsets=5, subset_size=1000, seed=1)
    rng = np.random.default_rng(1)
    vals = [_mmd2_poly_loops(x[rng.choice(30, 15, replace=False)], y[rng.choice(40, 15, replace=False)])
            for _ in range(5)]
    assert value == pytest.approx(np.mean(vals), rel=1e-6)
    assert se == pytest.approx(math.sqrt(np.var(vals, ddof=1) * (15 / 15 + 1 / 5)), rel=1e-6) and se > 0
    with pytest.raises(ValueError, match="at least four"):
        kid(x[:3], y)


def test_kid_standard_error_is_the_spread_over_fresh_sample_sets():
    # Monte Carlo calibration: 200 independent pairs of sets (80 points each, MMD^2 clearly > 0); the
    # reported SE, averaged, against the standard deviation of the KID values across the pairs. With
    # 200 pairs the latter is known to about 5 %; the estimator is about right here (0.98-1.11 over
    # three seeds). The Monte Carlo error alone, sd over subsets / sqrt(n_subsets), is about 5x too small.
    rng = np.random.default_rng(0)
    values, ses = [], []
    for _ in range(200):
        x, y = rng.standard_normal((80, 4)), rng.standard_normal((80, 4)) + 0.4
        value, se = kid(x, y, n_subsets=20, seed=int(rng.integers(1 << 30)))
        values.append(value)
        ses.append(se)
    ratio = np.mean(ses) / np.std(values, ddof=1)
    assert 0.85 < ratio < 1.3, ratio


def test_kid_near_zero_for_one_distribution():
    rng = np.random.default_rng(11)
    a, b = rng.standard_normal((2000, 8)), rng.standard_normal((2000, 8))
    value, se = kid(a, b, n_subsets=50, subset_size=500)
    assert abs(value) < 4 * se + 1e-3, (value, se)
    shifted, _ = kid(a, b + 1.0, n_subsets=50, subset_size=500)
    assert shifted > 0.5


# ------------------------------------------------------------------------------------ IS


def test_inception_score_matches_per_sample_kl():
    rng = np.random.default_rng(12)
    logits = rng.standard_normal((60, 7)) * 3
    mean, sd = inception_score(logits, splits=3)
    scores = []
    for part in np.array_split(logits, 3):
        p = np.exp(part) / np.exp(part).sum(1, keepdims=True)
        py = p.mean(0)
        kl = [sum(pi[c] * (math.log(pi[c]) - math.log(py[c])) for c in range(7)) for pi in p]
        scores.append(math.exp(np.mean(kl)))
    assert mean == pytest.approx(np.mean(scores), rel=1e-6)
    assert sd == pytest.approx(np.std(scores), rel=1e-6)


def test_inception_score_limits():
    # confident and balanced over 10 classes: IS = 10; all the same class: IS = 1
    confident = np.eye(10)[np.arange(100) % 10] * 50
    assert inception_score(confident, splits=1)[0] == pytest.approx(10.0, rel=1e-6)
    assert inception_score(np.tile(confident[:1], (100, 1)), splits=2)[0] == pytest.approx(1.0, rel=1e-6)


# ----------------------------------------------------------------------- precision/recall


def _pr_bruteforce(real, fake, k):
    def radii(s):
        return np.array([np.sort(np.linalg.norm(s - p, axis=1))[k] for p in s])

    rr, rf = radii(real), radii(fake)
    prec = np.mean([any(np.linalg.norm(f - r) <= rad for r, rad in zip(real, rr)) for f in fake])
    rec = np.mean([any(np.linalg.norm(r - f) <= rad for f, rad in zip(fake, rf)) for r in real])
    return prec, rec


def test_precision_recall_matches_bruteforce():
    real = _feats(13, n=80, d=4)
    fake = _feats(14, n=70, d=4, shift=0.8, scale=0.5)
    got = precision_recall(real, fake, k=3)
    assert got == pytest.approx(_pr_bruteforce(real, fake, 3), rel=1e-6)


def test_precision_recall_detects_mode_dropping():
    rng = np.random.default_rng(15)
    centres = np.array([[0, 0], [10, 0], [0, 10], [10, 10]], float)
    real = centres[rng.integers(4, size=800)] + rng.standard_normal((800, 2)) * 0.5
    fake = centres[rng.integers(2, size=800)] + rng.standard_normal((800, 2)) * 0.5  # two modes only
    precision, recall = precision_recall(real, fake)
    assert precision > 0.95 and 0.4 < recall < 0.6


# --------------------------------------------------------------------- C2ST, energy distance


def _energy_loops(x, y):
    def mean(a, b, same):
        vals = [np.linalg.norm(a[i] - b[j]) for i in range(len(a)) for j in range(len(b)) if not (same and i == j)]
        return np.mean(vals)

    return 2 * mean(x, y, False) - mean(x, x, True) - mean(y, y, True)


def test_energy_distance_matches_loops_and_vanishes():
    x, y = _feats(16, n=40, d=3), _feats(17, n=30, d=3, shift=0.5)
    assert energy_distance(x, y) == pytest.approx(_energy_loops(x, y), rel=1e-6)
    rng = np.random.default_rng(18)
    null = energy_distance(rng.standard_normal((1500, 2)), rng.standard_normal((1500, 2)))
    assert abs(null) < 0.01  # null sd ~2e-3 at this n
    assert energy_distance(rng.standard_normal((1500, 2)), rng.standard_normal((1500, 2)) + 1) > 0.3


def test_c2st_null_and_alternative():
    rng = np.random.default_rng(19)
    acc, p = c2st(rng.standard_normal((1000, 2)), rng.standard_normal((1000, 2)))
    assert abs(acc - 0.5) < 0.06 and p > 0.01  # sd of the null accuracy: 0.5/sqrt(1000) = 0.016
    acc, p = c2st(rng.standard_normal((1000, 2)), rng.standard_normal((1000, 2)) * 0.3)
    assert acc > 0.75 and p < 1e-6


def test_c2st_pvalue_is_the_binomial_tail():
    from scorec.metrics.two_sample import _binomial_upper_tail

    assert _binomial_upper_tail(3, 4) == pytest.approx(5 / 16, rel=1e-12)
    assert _binomial_upper_tail(0, 4) == 1.0
    assert _binomial_upper_tail(10, 10) == pytest.approx(2.0 ** -10, rel=1e-12)


# ------------------------------------------------------------- features and image wiring


def _synthetic_images(n, seed, classes=3):
    """8x8 one-channel images in [-1, 1]: class c is a bright bar in column 2c+1, plus noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(classes, size=n)
    x = np.full((n, 1, 8, 8), -0.8, np.float32)
    for i, c in enumerate(labels):
        x[i, 0, :, 2 * c + 1] = 0.9
    x += rng.normal(0, 0.1, x.shape).astype(np.float32)
    return np.clip(x, -1, 1), labels


class _SyntheticCommon:
    """Stands in for a run's common.py: load_data and load_labels by split."""

    DATA_SHAPE = (1, 8, 8)

    def __init__(self):
        self.splits = {"train": _synthetic_images(600, 0), "test": _synthetic_images(200, 1)}

    def load_data(self, split, seed):
        return self.splits[split][0]

    def load_labels(self, split, seed):
        return self.splits[split][1]


def _image_evaluation(samples, features="classifier", n_reference=600):
    """An Evaluation of `samples` against the synthetic data, as scorec eval builds it for a run."""
    from types import SimpleNamespace

    from scorec.metrics.evaluation import Evaluation

    ir = SimpleNamespace(eval=SimpleNamespace(features=features, n_reference=n_reference))
    program = SimpleNamespace(common=_SyntheticCommon())
    return Evaluation(samples, None, ir=ir, program=program, samples_kind="images", seed=0, log=lambda *a: None)


def test_image_evaluation_with_classifier_features_and_floors(tmp_path, monkeypatch):
    from scorec.metrics import features
    from scorec.metrics.evaluation import evaluate_metrics

    monkeypatch.setenv("SCOREC_CACHE", str(tmp_path))
    real_train = features.train_classifier
    # 150 steps are plenty for bars; keeps the test at seconds
    monkeypatch.setattr(features, "train_classifier",
                        lambda net, x, y, xt, yt: real_train(net, x, y, xt, yt, epochs=1, min_steps=80, batch_size=64))
    good, _ = _synthetic_images(200, 2)
    bad = np.clip(good[:, :, ::-1, ::-1] * 0 + np.random.default_rng(3).normal(0, 0.5, good.shape), -1, 1)
    names = ["fid", "kid", "is", "precision_recall"]
    m_good = evaluate_metrics(names, _image_evaluation(good))
    assert m_good["classifier_accuracy"] > 0.95
    assert {"fid", "fid_floor", "kid", "kid_se", "kid_floor", "is", "is_floor", "precision", "recall"} <= set(m_good)
    m_bad = evaluate_metrics(names, _image_evaluation(bad.astype(np.float32)))
    assert m_bad["fid"] > 5 * max(m_good["fid"], m_good["fid_floor"], 1e-3)
    assert m_good["is"] == pytest.approx(m_good["is_floor"], rel=0.15)  # both ~3 classes, confident
    assert m_good["precision"] > 0.8 and m_bad["precision"] < m_good["precision"]
    # the floor is the test split (as many images as samples) against the same reference
    assert m_bad["fid_floor"] == m_good["fid_floor"]
    test = _SyntheticCommon().load_data("test", 0)
    assert evaluate_metrics(["fid"], _image_evaluation(test))["fid"] == m_good["fid_floor"]
    # cached: the classifier and the reference features are reused, not retrained
    assert sorted(p.name.split("-")[0] for p in tmp_path.iterdir()) == ["classifier", "reference"]


def test_classifier_needs_labels(tmp_path, monkeypatch):
    from scorec.metrics.features import FeatureError
    from scorec.metrics.images import ImageData, extractor_for

    monkeypatch.setenv("SCOREC_CACHE", str(tmp_path))
    x, _ = _synthetic_images(20, 0)
    with pytest.raises(FeatureError, match="features: inception"):
        extractor_for("classifier", ImageData(x, x, None, None, "0" * 64))


def _inception_or_skip():
    from scorec.metrics.features import InceptionExtractor, MissingExtra

    try:
        return InceptionExtractor()
    except MissingExtra as exc:
        pytest.skip(str(exc))


def test_inception_features_pinned_by_golden_file():
    """Features of a fixed batch (4 synthetic 8x8 grey images and 2 RGB 32x32 ones). Regenerate
    with SCOREC_UPDATE_GOLDEN=1 after an intended change of the preprocessing."""
    import os

    extractor = _inception_or_skip()
    grey, _ = _synthetic_images(4, 5)
    rgb = np.random.default_rng(6).uniform(-1, 1, (2, 3, 32, 32)).astype(np.float32)
    feats = np.concatenate([extractor(grey)[0], extractor(rgb)[0]])
    assert feats.shape == (6, 2048) and np.isfinite(feats).all()
    if os.environ.get("SCOREC_UPDATE_GOLDEN") == "1":
        np.savez_compressed(GOLDEN, features=feats.astype(np.float32))
    golden = np.load(GOLDEN)["features"]
    # float32 convolutions on another CPU differ in the last bits; features are O(0.1-1)
    np.testing.assert_allclose(feats, golden, rtol=1e-3, atol=1e-4)


def test_inception_missing_extra_message(monkeypatch):
    import importlib.util

    from scorec.metrics import features

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(features.MissingExtra, match=r"scorec\[images\]"):
        features.inception_weights()
