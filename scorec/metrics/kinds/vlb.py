"""vlb: a discrete chain's variational bound on held-out data, in bits per dimension (the emitted
likelihood.py; eval.vlb says how). scorec/lower/likelihood.py checks the process is such a chain."""

from ..registry import metric


def describe(run_dir, metrics: dict) -> str | None:
    from ..likelihood import program_paragraph

    def words(result, settings):
        return (f"vlb = {result['vlb']:.4g} ± {result['vlb_se']:.2g} bits/dim",
                f"variational bound over {settings.get('steps')} steps, {settings.get('variance')} reverse "
                f"variance, {settings.get('decoder')} decoder")

    return program_paragraph(run_dir, metrics, "vlb", words)


@metric("vlb", description="a discrete chain's variational bound on held-out data (bits/dim)", of_samples=False,
        program="likelihood", report=describe, heading="Likelihood")
def vlb(ev):
    from ..likelihood import program_likelihood

    return program_likelihood(ev)
