"""Images from one array of a .npz file: (N, H, W), (N, H, W, C) or (N, C, H, W); uint8 or float."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from typing import Literal

from pydantic import Field

from ..options import Probability
from ..registry import component
from ._images import ImageNode, ImageOptions, resolve_path

CHANNELS = (1, 3, 4)


@dataclass(frozen=True, kw_only=True)
class NpzNode(ImageNode):
    path: str  # absolute path of the .npz file
    key: str  # the array's name in it
    layout: str  # NHW | NHWC | NCHW
    count: int  # images in the array
    test_fraction: float  # share held out as the test split
    label_key: str | None = field(default=None, metadata={"absent": True})  # the labels' array, if any
    n_classes: int | None = field(default=None, metadata={"absent": True})  # labels are 0 .. n_classes - 1

    def classes(self) -> int | None:
        return self.n_classes


def array_header(path, key: str) -> tuple:
    """(shape, numpy dtype) of array `key` of an .npz file, read from its header (the data stays on disk)."""
    import numpy as np  # only for specs that name an .npz: every other check stays free of it

    with zipfile.ZipFile(path) as archive:
        names = [n[:-4] for n in archive.namelist() if n.endswith(".npy")]
        if key not in names:
            raise KeyError(", ".join(sorted(names)) or "no arrays at all")
        with archive.open(key + ".npy") as fh:
            version = np.lib.format.read_magic(fh)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read(fh)
    return shape, dtype


def layout_of(shape: tuple[int, ...]) -> str | None:
    """Which axes are which: channels last when the last axis looks like channels, else first."""
    if len(shape) == 3:
        return "NHW"
    if len(shape) == 4 and shape[3] in CHANNELS:
        return "NHWC"
    if len(shape) == 4 and shape[1] in CHANNELS:
        return "NCHW"
    return None


@component("data", traits=("images",), when={"labelled": "label_key"})
class NpzData(ImageOptions):
    """Images from `key` of the .npz at `path`; uint8 in [0, 255] or floats in [0, 1], scaled to [-1, 1]."""

    source: Literal["npz"]
    path: str = Field(..., description="the .npz file (relative to the spec's folder)")
    key: str = Field("images", description="the array's name in the file")
    test_fraction: Probability = Field(0.1, description="share of the images held out for testing")
    label_key: str | None = Field(None, exclude_if=lambda v: v is None,
                                  description="the array of class labels 0 .. K-1, one per image (conditional models)")

    def lower(self, ctx) -> NpzNode:
        path = resolve_path(ctx, "path", self.path)
        if not path.is_file():
            raise ctx.error("path", f"no file {path}", "path is read relative to the spec file's folder", code="E0003")
        try:
            shape, dtype = array_header(path, self.key)
        except KeyError as exc:
            raise ctx.error("key", f"{path.name} has no array '{self.key}'", f"its arrays: {exc.args[0]}",
                            code="E0003") from None
        except (OSError, ValueError, zipfile.BadZipFile) as exc:
            raise ctx.error("path", f"cannot read {path} as .npz: {exc}", code="E0003") from None
        layout = layout_of(shape)
        if layout is None:
            raise ctx.error("key", f"array '{self.key}' has shape {tuple(shape)}; images are (N, H, W), "
                                   f"(N, H, W, C) or (N, C, H, W) with C in {CHANNELS}", code="E0003")
        if dtype.kind not in "uf" or (dtype.kind == "u" and dtype.itemsize != 1):
            raise ctx.error("key", f"array '{self.key}' holds {dtype}; images are uint8 or float", code="E0003")
        if shape[0] < 2:
            raise ctx.error("key", f"array '{self.key}' holds {shape[0]} image(s); a train and a test split need 2",
                            code="E0003")
        if layout == "NHW":
            h, w, c = shape[1], shape[2], 1
        else:
            h, w, c = shape[1:] if layout == "NHWC" else (shape[2], shape[3], shape[1])
        classes = self._classes(ctx, path, shape[0]) if self.label_key is not None else None
        return NpzNode(kind="npz", shape=(c, h, w), hflip=self.hflip, path=str(path), key=self.key, layout=layout,
                       count=shape[0], test_fraction=self.test_fraction, label_key=self.label_key, n_classes=classes)

    def _classes(self, ctx, path, count: int) -> int:
        """The number of classes of the label array (read whole: one integer per image)."""
        import numpy as np

        try:
            with np.load(path, allow_pickle=False) as archive:
                labels = archive[self.label_key]
        except KeyError:
            names = ", ".join(sorted(np.load(path, allow_pickle=False).files))
            raise ctx.error("label_key", f"{path.name} has no array '{self.label_key}'", f"its arrays: {names}") from None
        if labels.dtype.kind not in "iu" or labels.shape != (count,):
            raise ctx.error("label_key", f"array '{self.label_key}' ({labels.dtype}, shape {tuple(labels.shape)}) is not "
                            f"one integer label per image ({count} of them)")
        if labels.min() < 0:
            raise ctx.error("label_key", f"array '{self.label_key}' holds negative labels",
                            "labels are 0 .. K-1 for K classes")
        return int(labels.max()) + 1
