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
    """A path as written in the spec, relative to the spec file's folder (else the working one).
    Text no file system can name (a NUL byte, an unpaired surrogate, a name too long) is a
    located error (E0003), not an exception of the first call that touches the file."""
    try:
        path = Path(value).expanduser()
        if not path.is_absolute():
            spec_file = Path(ctx.span(key).file)
            base = spec_file.parent if spec_file.is_file() else Path.cwd()
            path = (base / path).resolve()
        path.exists()
    except (OSError, ValueError, RuntimeError) as exc:  # (UnicodeEncodeError is a ValueError)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "a character no file name holds"
        raise ctx.error(key, f"this {key} cannot name a file: {reason.lower()}",
                        "write the path of a file, relative to the spec file's folder", code="E0003") from None
    return path
