"""c2st: the accuracy of a k-nearest-neighbour classifier told to separate samples from data
(0.5: indistinguishable), with its binomial p-value. It sees a blur that swd and MMD average away."""

from ..registry import POINTS, metric


@metric("c2st", description="classifier two-sample test accuracy (0.5 is indistinguishable)", default=(POINTS,),
        unfloored=("c2st_pvalue",))
def c2st(ev):
    from ..two_sample import c2st as classifier_two_sample_test

    accuracy, pvalue = classifier_two_sample_test(ev.samples, ev.reference, seed=ev.seed)
    return {"c2st": accuracy, "c2st_pvalue": pvalue}
