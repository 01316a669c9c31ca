"""Model lowering: the network and what its output means."""

from __future__ import annotations

from ..ir import ModelIR
from ..spec import MLPNetwork, ModelSpec


def lower_model(model: ModelSpec) -> ModelIR:
    net = model.network
    if isinstance(net, MLPNetwork):
        return ModelIR(
            parameterization=model.parameterization,
            network="mlp",
            hidden=tuple(net.hidden),
            activation=net.activation,
            time_embedding=net.time_embedding,
            embedding_dim=net.embedding_dim,
        )
    return ModelIR(parameterization=model.parameterization, network=net.kind)
