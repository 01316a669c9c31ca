"""mmd: unbiased MMD^2 (RBF kernel, median bandwidth) between the samples and the data, with the
p-value of its permutation test."""

from ..registry import IMAGES, POINTS, metric


def between(a, b, seed: int) -> float:
    """Unbiased MMD^2 between two sets of vectors (no permutation test)."""
    from ..points import mmd_rbf

    return mmd_rbf(a, b, n_permutations=0, seed=seed)[0]


@metric("mmd", description="MMD^2 to the data and its permutation p-value", default=(POINTS, IMAGES),
        unfloored=("mmd_pvalue",), per_class=between)
def mmd(ev):
    from ..points import mmd_rbf

    value, pvalue = mmd_rbf(ev.samples, ev.reference, seed=ev.seed)
    return {"mmd": value, "mmd_pvalue": pvalue}
