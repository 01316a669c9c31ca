"""is: the Inception Score exp(E KL(p(y|x) || p(y))) of the samples' class logits (the classifier
features give them; the FID Inception network gives pool features only)."""

from ..registry import IMAGES, metric


@metric("is", description="Inception Score of class logits", on=IMAGES, features=("classifier",))
def inception_score(ev):
    from ..feature_metrics import inception_score as score
    from ..images import features

    logits = features(ev)[1]
    mean, sd = score(logits, splits=min(10, len(logits)))
    return {"is": mean, "is_std": sd}
