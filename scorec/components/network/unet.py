"""A DDPM/ADM-style U-Net for images: residual blocks with GroupNorm and a time embedding,
self-attention at chosen resolutions, skip connections between the two halves."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field, field_validator

from ...core.ir import NetworkNode
from ..options import PositiveInt
from ..registry import component
from ._time_features import TimeFeatureOptions


@dataclass(frozen=True, kw_only=True)
class UNetNode(NetworkNode):
    channels: int  # channels of the first level
    channel_mult: tuple[int, ...]  # each level's channels in units of `channels`; a level halves the resolution
    num_res_blocks: int  # residual blocks per level on the way down (one more on the way up)
    attention_resolutions: tuple[int, ...]  # image sides (in pixels) at which blocks add self-attention
    attention_heads: int
    dropout: float
    groups: int  # GroupNorm groups
    time_embedding: str  # fourier | sinusoidal
    embedding_dim: int  # width of the sinusoidal/Fourier features (the embedding MLP widens it 4x channels)
    scalar_output: bool  # an energy per sample, E = 1/2 |x - unet(x, t)|^2, instead of an image


@component("network", needs={"data": ("images",)}, traits=("shardable",))
class UNetNetwork(TimeFeatureOptions):
    """net(x, t) for images (C, H, W): the U-Net of DDPM (Ho et al. 2020) as refined by ADM."""

    kind: Literal["unet"]
    channels: PositiveInt = Field(64, description="channels of the first level")
    channel_mult: list[PositiveInt] = Field(default_factory=lambda: [1, 2, 2],
                                            description="channels of each level in units of `channels`")
    num_res_blocks: PositiveInt = Field(2, description="residual blocks per level")
    attention_resolutions: list[PositiveInt] = Field(default_factory=list,
                                                     description="image sides at which to add self-attention")
    attention_heads: PositiveInt = Field(4, description="heads of each self-attention")
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout inside residual blocks")
    groups: PositiveInt = Field(32, description="GroupNorm groups (at most the channels of a block)")
    time_embedding: Literal["fourier", "sinusoidal"] = Field("sinusoidal", description="how t enters the network")

    @field_validator("channel_mult")
    @classmethod
    def _nonempty(cls, v: list[int]) -> list[int]:
        if not v:
            raise ValueError("channel_mult needs at least one level")
        return v

    def lower(self, ctx) -> UNetNode:
        _, height, width = ctx.data.shape
        levels = len(self.channel_mult)
        factor = 2 ** (levels - 1)
        if height % factor or width % factor:
            raise ctx.error("channel_mult", f"{levels} levels halve the image {levels - 1} times, so its sides must "
                            f"be multiples of {factor}; the data is {height} x {width}",
                            f"use at most {_max_levels(height, width)} levels")
        sides = [height // 2**k for k in range(levels)]
        odd = [r for r in self.attention_resolutions if r not in sides]
        if odd:
            raise ctx.error("attention_resolutions", f"no level of this U-Net has side {odd[0]}",
                            f"its levels have sides {sides}")
        widths = sorted({self.channels * m for m in self.channel_mult})
        if any(w % min(self.groups, w) for w in widths):
            raise ctx.error("groups", f"{self.groups} GroupNorm groups do not divide every level's channels {widths}")
        attended = [self.channels * m for m, side in zip(self.channel_mult, sides)
                    if side in self.attention_resolutions]
        attended.append(self.channels * self.channel_mult[-1])  # the middle block attends too
        if any(w % self.attention_heads for w in attended):
            raise ctx.error("attention_heads", f"{self.attention_heads} heads do not divide the attended "
                            f"channels {sorted(set(attended))}")
        return UNetNode(kind="unet", channels=self.channels, channel_mult=tuple(self.channel_mult),
                        num_res_blocks=self.num_res_blocks, attention_resolutions=tuple(self.attention_resolutions),
                        attention_heads=self.attention_heads, dropout=float(self.dropout), groups=self.groups,
                        time_embedding=self.time_embedding, embedding_dim=self.embedding_dim,
                        scalar_output=ctx.has("parameterization", "scalar_energy"))


def _max_levels(height: int, width: int) -> int:
    levels = 1
    while height % 2**levels == 0 and width % 2**levels == 0:
        levels += 1
    return levels
