"""kid: the kernel (cubic polynomial MMD^2) distance of image features, with its standard error."""

from ..registry import IMAGES, metric


@metric("kid", description="kernel distance of image features, with its standard error", on=IMAGES)
def kid(ev):
    from ..feature_metrics import kid as kernel_distance
    from ..images import features, reference_feature_set

    value, se = kernel_distance(features(ev)[0], reference_feature_set(ev), seed=ev.seed)
    return {"kid": value, "kid_se": se}
