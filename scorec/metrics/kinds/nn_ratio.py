"""nn_ratio: how far samples lie from their nearest data point, over how far fresh data points do
(1.0 is as sharp as the data; nearest.py says why)."""

from ..registry import POINTS, metric


@metric("nn_ratio", description="mean distance to the nearest data point, over fresh data's (1.0 is as sharp)",
        on=POINTS, default=(POINTS,))
def nn_ratio(ev):
    from ..nearest import nn_ratio as ratio

    # the denominator's fresh points: draw 1 (draw 0 stands in for the samples in the floor)
    return {"nn_ratio": ratio(ev.samples, ev.reference, ev.fresh(1), seed=ev.seed)}
