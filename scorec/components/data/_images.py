"""What the image data sources share: their IR node, the hflip option, a path check.

An image source provides the `images` trait: its fragment also defines `augment(x,
generator)`, applied to every training batch on the device (train.py calls it).
Images are shaped (channels, height, width); a channel's levels k = 0..L-1 are held as
2k / (L - 1) - 1 in [-1, 1], L the fragment's PIXEL_LEVELS (what bits/dim count in).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import Field

from ...core.ir import DataNode
from ..options import Section


@dataclass(frozen=True, kw_only=True)
class ImageNode(DataNode):
    hflip: bool  # flip each training image left-right with probability 1/2


class ImageOptions(Section):
    hflip: bool = Field(False, description="random left-right flips of training images")


def resolve_path(ctx, key: str, value: str) -> Path:
    """A path as written in the spec, relative to the spec file's folder (else the working one)."""
    path = Path(value).expanduser()
    if path.is_absolute():
        return path
    spec_file = Path(ctx.span(key).file)
    base = spec_file.parent if spec_file.is_file() else Path.cwd()
    return (base / path).resolve()
