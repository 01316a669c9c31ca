"""energy_distance: Szekely's energy distance between the samples and the data."""

from ..registry import metric


@metric("energy_distance", description="energy distance to the data")
def energy_distance(ev):
    from ..two_sample import energy_distance as energy

    return {"energy_distance": energy(ev.samples, ev.reference, seed=ev.seed)}
