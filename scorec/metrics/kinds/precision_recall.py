"""precision_recall: improved precision (samples inside the data's feature manifold) and recall
(data inside the samples') of Kynkaanniemi et al. 2019."""

from ..registry import IMAGES, metric


@metric("precision_recall", description="precision and recall of image features", on=IMAGES)
def precision_recall(ev):
    from ..feature_metrics import precision_recall as manifold_precision_recall
    from ..images import features, reference_feature_set

    precision, recall = manifold_precision_recall(reference_feature_set(ev), features(ev)[0], seed=ev.seed)
    return {"precision": precision, "recall": recall}
