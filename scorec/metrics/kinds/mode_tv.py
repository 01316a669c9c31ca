"""mode_tv: total variation between the share of samples nearest each mixture mean and the
mixture's weights (mode collapse, wrong proportions). Computed for every Gaussian-mixture run."""

from ..registry import metric


@metric("mode_tv", description="total variation of the mode shares from the mixture weights",
        needs={"data": ("mixture",)}, automatic=True)
def mode_tv(ev):
    import numpy as np

    from ..points import mode_shares, total_variation

    common = ev.program.common  # the mixture trait's names in the run's code
    shares = mode_shares(ev.samples.reshape(len(ev.samples), -1), np.asarray(common.GMM_MEANS))
    return {"mode_tv": total_variation(shares, np.asarray(common.GMM_WEIGHTS))}
