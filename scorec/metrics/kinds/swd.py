"""swd: the sliced Wasserstein-1 distance between the samples and the data."""

from ..registry import IMAGES, POINTS, metric


def between(a, b, seed: int) -> float:
    """SW1 between two sets of vectors."""
    from ..points import sliced_wasserstein

    return sliced_wasserstein(a, b, seed=seed)


@metric("swd", description="sliced Wasserstein-1 distance to the data", default=(POINTS, IMAGES), per_class=between)
def swd(ev):
    return {"swd": between(ev.samples, ev.reference, ev.seed)}
