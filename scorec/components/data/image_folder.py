"""A folder of image files, decoded with PIL and streamed: the dataset need not fit in memory."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from ..options import NonNegativeInt, PositiveInt, int_choice
from ..registry import component
from ._images import ImageNode, ImageOptions, resolve_path

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


@dataclass(frozen=True, kw_only=True)
class ImageFolderNode(ImageNode):
    path: str  # absolute path of the folder (searched recursively)
    size: int  # images are center-cropped to a square and resized to size x size
    channels: int  # 1 grey, 3 RGB
    extensions: tuple[str, ...]  # file name endings that count as images
    test_every: int  # every test_every-th file (sorted by path) is in the test split
    workers: int  # DataLoader worker processes decoding images


@component("data", traits=("images", "streamed"))
class ImageFolderData(ImageOptions):
    """Every image file under `path`; PIL center-crops and resizes; read in batches by DataLoader workers."""

    source: Literal["image_folder"]
    path: str = Field(..., description="the folder (relative to the spec's folder), searched recursively")
    size: PositiveInt = Field(32, description="side of the square images after crop and resize")
    channels: int_choice(1, 3) = Field(3, description="1 grey, 3 RGB")
    test_every: PositiveInt = Field(10, description="every n-th file (sorted) is held out for testing")
    workers: NonNegativeInt = Field(4, description="DataLoader workers decoding images (0: in the training process)")

    def lower(self, ctx) -> ImageFolderNode:
        path = resolve_path(ctx, "path", self.path)
        if not path.is_dir():
            raise ctx.error("path", f"no folder {path}", "path is read relative to the spec file's folder",
                            code="E0003")
        found = sum(1 for p in path.rglob("*") if p.suffix.lower() in EXTENSIONS)
        if found < 2:
            raise ctx.error("path", f"{path} holds {found} image file(s); a train and a test split need 2",
                            f"image files end in {', '.join(EXTENSIONS)}", code="E0003")
        return ImageFolderNode(kind="image_folder", shape=(self.channels, self.size, self.size), hflip=self.hflip,
                               path=str(path), size=self.size, channels=self.channels, extensions=EXTENSIONS,
                               test_every=self.test_every, workers=self.workers)
