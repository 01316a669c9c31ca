"""What every time-conditioned network's options share: the width of its time features."""

from __future__ import annotations

from pydantic import Field, field_validator

from ..options import PositiveInt, Section


class TimeFeatureOptions(Section):
    embedding_dim: PositiveInt = Field(64, description="width of the time embedding (even: sin and cos halves)")

    @field_validator("embedding_dim")
    @classmethod
    def _even(cls, v: int) -> int:
        if v % 2:
            raise ValueError(f"embedding_dim must be even (got {v})")
        return v
