"""mmd: unbiased MMD^2 (RBF kernel, median bandwidth) between the samples and the data, with the
p-value of its permutation test."""

from ..registry import IMAGES, POINTS, metric


@metric("mmd", description="MMD^2 to the data and its permutation p-value", default=(POINTS, IMAGES),
        unfloored=("mmd_pvalue",))
def mmd(ev):
    from ..points import mmd_rbf

    value, pvalue = mmd_rbf(ev.samples, ev.reference, seed=ev.seed)
    return {"mmd": value, "mmd_pvalue": pvalue}
