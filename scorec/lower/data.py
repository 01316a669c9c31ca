"""Data lowering: the chosen source with its parameters resolved."""

from __future__ import annotations

from ..ir import DataIR
from ..spec import GMMData, ToyData


def lower_data(data: ToyData | GMMData) -> DataIR:
    if isinstance(data, GMMData):
        return DataIR(
            source="gmm",
            n=data.n,
            shape=(data.dim,),
            weights=tuple(data.resolved_weights()),
            means=tuple(tuple(m) for m in data.means),
            stds=tuple(data.resolved_stds()),
        )
    return DataIR(source=data.source, n=data.n, shape=(2,), noise=data.noise)
