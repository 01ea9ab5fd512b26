"""Random access to the raw frames of a stimulus template or movie, in the order its index refers to.

An `Images` container without `order_of_images` comes back from pynwb in name order
(`NaturalScene0, NaturalScene1, NaturalScene10, ...`), which is not the order an IndexSeries counts in:
its order is read from the numbers in the names when they number the images 0..n-1, and otherwise
refused unless the user says which order holds (`--image-order`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from pynwb.base import Images
from pynwb.image import ImageSeries

from nwb_v1former.errors import ConfigError, SessionError
from nwb_v1former.nwb.discover import NWBSource, reading
from nwb_v1former.nwb.external_video import VideoSource

IMAGE_ORDERS = ("auto", "numbers", "names")
"""How images without order_of_images are indexed (--image-order): auto = by the numbers in their names
when those are exactly 0..n-1, else refuse; numbers = by those numbers whatever they start at; names =
in name order."""
_NUMBERED = re.compile(r"^(.*?)(\d+)$")


@dataclass
class DatasetSource:
    """Frames stored in one dataset with time first (ImageSeries data)."""

    name: str
    data: object

    @property
    def n_frames(self) -> int:
        return int(self.data.shape[0])

    def read(self, indices: np.ndarray) -> np.ndarray:
        """Raw frames for sorted unique `indices`; (k, a, b[, c])."""
        if len(indices) == 0:
            return np.zeros((0, *self.data.shape[1:]), dtype=self.data.dtype)
        first, last = int(indices[0]), int(indices[-1]) + 1
        with reading(f"{self.name} (frames {first}-{last - 1})"):
            if last - first <= 2 * len(indices):  # dense: one contiguous read beats fancy indexing
                return np.asarray(self.data[first:last])[indices - first]
            return np.asarray(self.data[np.asarray(indices)])


@dataclass
class ImagesSource:
    """Frames stored as one image each in an Images container, in index order."""

    name: str
    images: list

    @property
    def n_frames(self) -> int:
        return len(self.images)

    def read(self, indices: np.ndarray) -> np.ndarray:
        """Raw frames for sorted unique `indices`; (k, a, b)."""
        frames = []
        for i in indices:
            with reading(f"{self.name} (frame {int(i)})"):
                frames.append(np.asarray(self.images[int(i)].data[()]))
        return np.stack(frames)


FrameSource = DatasetSource | ImagesSource | VideoSource
"""Random access to the raw frames of one template or movie."""


def _numbered(names: list[str]) -> dict[str, int] | None:
    """Each name's trailing number when every name is one prefix followed by a distinct number."""
    matches = [_NUMBERED.match(name) for name in names]
    if not all(matches) or len({m.group(1) for m in matches}) != 1:
        return None
    numbers = {m.group(0): int(m.group(2)) for m in matches}
    return numbers if len(set(numbers.values())) == len(names) else None


def images_in_index_order(images: Images, name: str, image_order: str, notes: list[str]) -> ImagesSource:
    """The images of `images` in the order an index counts them: order_of_images when the file has it;
    else by the numbers in their names (`image_order`, see IMAGE_ORDERS); a SessionError when unsure."""
    if image_order not in IMAGE_ORDERS:
        raise ConfigError(f"image order {image_order!r}: choose one of {', '.join(IMAGE_ORDERS)}")
    if images.order_of_images is not None and len(images.order_of_images) > 0:
        return ImagesSource(name, [images.order_of_images[i] for i in range(len(images.order_of_images))])
    names = sorted(images.images)
    if len(names) == 1 or image_order == "names":
        if len(names) > 1:
            notes.append(f"{name}: no order_of_images; images indexed in name order (--image-order names)")
        return ImagesSource(name, [images.images[key] for key in names])
    numbers = _numbered(names)
    counted = numbers is not None and sorted(numbers.values()) == list(range(len(names)))
    if numbers is not None and (counted or image_order == "numbers"):
        ordered = sorted(names, key=numbers.__getitem__)
        notes.append(
            f"{name}: no order_of_images; image k is the one numbered k in its name "
            f"({ordered[0]}, {ordered[1]}, ... {ordered[-1]})"
            if counted
            else f"{name}: no order_of_images; images indexed in the order of their numbers (--image-order "
            f"numbers: {ordered[0]} is 0)"
        )
        return ImagesSource(name, [images.images[key] for key in ordered])
    shown = ", ".join(names[:3])
    raise SessionError(
        f"{len(names)} images without order_of_images, named {shown}, ...: which image an index means "
        "cannot be told; choose --image-order numbers (by the numbers in the names) or names (name order)",
        where=name,
    )


def template_source(template, name: str, image_order: str, notes: list[str], nwb: NWBSource) -> FrameSource:
    """The frames of a template an IndexSeries or a presentations table indexes (`nwb`: the file, where
    external video files are found)."""
    if isinstance(template, Images):
        return images_in_index_order(template, name, image_order, notes)
    if isinstance(template, ImageSeries):
        source = series_source(template, name, nwb)
        if source is not None:
            return source
    raise SessionError("the template it indexes holds no frames", where=name)


def series_source(series: ImageSeries, name: str, nwb: NWBSource) -> DatasetSource | VideoSource | None:
    """The frames of an ImageSeries: its external video files, or its data; None when it holds none."""
    if series.external_file is not None and len(series.external_file):
        return VideoSource.of(series, name, nwb)
    if series.data is not None and np.ndim(series.data) >= 3 and len(series.data):
        return DatasetSource(name=name, data=series.data)
    return None
