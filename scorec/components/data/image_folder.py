"""A folder of image files, decoded with PIL and streamed: the dataset need not fit in memory."""

from __future__ import annotations

from dataclasses import dataclass, field
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
    # the classes, one subfolder each, sorted: an image's label is its subfolder's index
    class_names: tuple[str, ...] | None = field(default=None, metadata={"absent": True})

    def classes(self) -> int | None:
        return None if self.class_names is None else len(self.class_names)


@component("data", traits=("images", "streamed"), when={"labelled": "labels"})
class ImageFolderData(ImageOptions):
    """Every image file under `path`; PIL center-crops and resizes; read in batches by DataLoader workers."""

    source: Literal["image_folder"]
    path: str = Field(..., description="the folder (relative to the spec's folder), searched recursively")
    size: PositiveInt = Field(32, description="side of the square images after crop and resize")
    channels: int_choice(1, 3) = Field(3, description="1 grey, 3 RGB")
    test_every: PositiveInt = Field(10, description="every n-th file (sorted) is held out for testing")
    workers: NonNegativeInt = Field(4, description="DataLoader workers decoding images (0: in the training process)")
    labels: bool = Field(False, exclude_if=lambda v: v is False,
                         description="one subfolder per class: an image's label is its subfolder (conditional models)")

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
                               test_every=self.test_every, workers=self.workers,
                               class_names=self._class_names(ctx, path) if self.labels else None)

    def _class_names(self, ctx, path) -> tuple[str, ...]:
        """The subfolders holding images, sorted; every image must be in one."""
        loose = [p for p in path.iterdir() if p.is_file() and p.suffix.lower() in EXTENSIONS]
        if loose:
            raise ctx.error("labels", f"{loose[0].name} lies in {path} itself, in no class subfolder",
                            "put each image in the subfolder of its class, or set labels: false")
        names = sorted(p.name for p in path.iterdir()
                       if p.is_dir() and any(q.suffix.lower() in EXTENSIONS for q in p.rglob("*")))
        if not names:
            raise ctx.error("labels", f"{path} has no subfolders of images", "one subfolder per class")
        return tuple(names)
