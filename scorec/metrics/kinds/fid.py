"""fid: the Frechet distance between Gaussians fitted to the features of samples and of train images."""

from ..registry import IMAGES, metric


@metric("fid", description="Frechet distance of image features", on=IMAGES)
def fid(ev):
    from ..feature_metrics import fid as frechet
    from ..images import features, reference_feature_set

    return {"fid": frechet(features(ev)[0], reference_feature_set(ev))}
