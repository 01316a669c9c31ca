"""swd: the sliced Wasserstein-1 distance between the samples and the data."""

from ..registry import IMAGES, POINTS, metric


@metric("swd", description="sliced Wasserstein-1 distance to the data", default=(POINTS, IMAGES))
def swd(ev):
    from ..points import sliced_wasserstein

    return {"swd": sliced_wasserstein(ev.samples, ev.reference, seed=ev.seed)}
