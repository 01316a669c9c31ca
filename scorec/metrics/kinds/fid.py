"""fid: the Frechet distance between Gaussians fitted to the features of samples and of train images."""

from ..registry import IMAGES, metric


def between(a, b, seed: int) -> float:
    """The Frechet distance of Gaussians fitted to two sets of feature vectors."""
    from ..feature_metrics import fid as frechet

    return frechet(a, b)


@metric("fid", description="Frechet distance of image features", on=IMAGES, per_class=between)
def fid(ev):
    from ..feature_metrics import fid as frechet
    from ..images import features, reference_feature_set

    return {"fid": frechet(features(ev)[0], reference_feature_set(ev))}
