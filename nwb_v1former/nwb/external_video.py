"""Stimulus movies kept in external video files: `ImageSeries(format="external", external_file=[...],
starting_frame=[...])`, as NWB best practice and neuroconv's ExternalVideoInterface write them.

The files are found relative to the NWB file (where `dandi organize` puts them: `<nwb stem>/<object
id>_external_file_<k>.<ext>`), or among the files a streamed NWB file has `beside` it, and decoded
with PyAV (FFmpeg's libraries in a wheel) one frame after another, never loaded whole.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import av
import h5py
import numpy as np
from pynwb.image import ImageSeries

from nwb_v1former.errors import SessionError, detail
from nwb_v1former.nwb.discover import reading
from nwb_v1former.nwb.movie_place import place_of
from nwb_v1former.nwb.remote import RemoteFile, open_remote

VideoFile = Path | RemoteFile
"""Where one external video file is read from."""
_IMAGE_SERIES = {"ImageSeries", "OpticalSeries"}


def referenced_videos(handle: h5py.File) -> list[str]:
    """The external files, as written, of every image series in an open NWB (HDF5) file that the
    reader may take for the stimulus (cameras' videos left out: see `movie_place.place_of`), in file
    order. What a dandiset source must fetch beside the NWB asset."""
    found: list[str] = []

    def visit(path: str, item: h5py.HLObject) -> None:
        kind = item.attrs.get("neurodata_type")
        kind = kind.decode() if isinstance(kind, bytes) else kind
        if not isinstance(item, h5py.Group) or kind not in _IMAGE_SERIES or "external_file" not in item:
            return
        description = item.attrs.get("description", "")
        description = description.decode() if isinstance(description, bytes) else str(description)
        if place_of(PurePosixPath(path).name, description, "/" + path) == "camera":
            return
        for name in item["external_file"][()]:
            written = name.decode() if isinstance(name, bytes) else str(name)
            if written not in found:
                found.append(written)

    handle.visititems(visit)
    return found


def resolve_video(nwb: Path | RemoteFile, written: str) -> VideoFile:
    """Where the external file `written` (as the NWB file names it) is: relative to a local NWB file's
    folder (absolute paths as they are), or among a streamed file's `beside`. SessionError when absent."""
    if isinstance(nwb, RemoteFile):
        for name, remote in nwb.beside:
            if name == written:
                return remote
        raise SessionError(
            f"its external video file {written!r} is not among the dandiset's assets beside it; "
            "the movie the animal saw cannot be read",
            where=nwb,
        )
    path = Path(written)
    path = path if path.is_absolute() else nwb.parent / path
    if not path.is_file():
        raise SessionError(
            f"its external video file {written!r} is missing (looked for {path}); put the video where "
            "the NWB file says, relative to the NWB file",
            where=nwb,
        )
    return path


@dataclass
class _Decoder:
    """One open video file being decoded forward: its index in the series and the next frame's number."""

    file_index: int
    container: av.container.InputContainer
    frames: Iterator[av.VideoFrame]
    fmt: str
    upcoming: int = 0


@dataclass(frozen=True)
class _Files:
    """The video files of a series, found and counted: where each is, and its first frame and count."""

    where: list[VideoFile]
    starts: np.ndarray
    counts: np.ndarray


@dataclass
class VideoSource:
    """Frames of an external-file ImageSeries, decoded in order from its video files.

    Frame k of the series is frame k - starting_frame[i] of file i. The files are found and their
    frames counted on first use (a camera's video the reader leaves out is never opened). Reads go
    forward through the files, decoding every frame once (a read behind the decoder reopens that file);
    only the frames asked for become arrays, RGB (k, h, w, 3) or grey (k, h, w) as the file stores them.
    """

    name: str
    nwb: Path | RemoteFile
    written: list[str]
    starting_frame: np.ndarray | None
    declared: int | None
    """Frames the series says it has (its timestamps, else num_samples); None: unsaid."""
    _files: _Files | None = field(default=None, repr=False)
    _decoder: _Decoder | None = field(default=None, repr=False)
    _stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack, repr=False)

    @classmethod
    def of(cls, series: ImageSeries, path: str, nwb: Path | RemoteFile) -> VideoSource:
        """The source of an ImageSeries with external files (nothing is opened yet)."""
        declared = series.starting_frame
        return cls(
            name=path,
            nwb=nwb,
            written=[str(name) for name in series.external_file[:]],
            starting_frame=None if declared is None else np.asarray(declared[:], np.int64),
            declared=_declared_frames(series),
        )

    @property
    def n_frames(self) -> int:
        return self.declared if self.declared is not None else int(self.files.counts.sum())

    @property
    def files(self) -> _Files:
        """The files found and counted, `starting_frame` and the declared count checked (on first use)."""
        if self._files is None:
            self._files = self._find()
        return self._files

    def read(self, indices: np.ndarray) -> np.ndarray:
        """Raw frames for sorted unique `indices`; (k, h, w, 3) uint8 RGB or (k, h, w) uint8 grey."""
        return np.stack([self._frame(int(index)) for index in indices])

    def close(self) -> None:
        """Close the file being decoded (reads reopen it)."""
        self._decoder = None
        self._stack.close()

    def _find(self) -> _Files:
        where = [resolve_video(self.nwb, name) for name in self.written]
        counts = np.array([_frame_count(f, n) for f, n in zip(where, self.written, strict=True)], np.int64)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        declared = np.zeros(1, np.int64) if self.starting_frame is None else self.starting_frame
        if len(declared) != len(where) or np.any(declared != starts):
            shown = ", ".join(f"{n}: {c}" for n, c in zip(self.written, counts, strict=True))
            raise SessionError(
                f"starting_frame {declared.tolist()} does not match its video files' frame counts ({shown}); "
                "fix starting_frame to where each file's first frame falls in the series",
                where=self.name,
            )
        if self.declared is not None and self.declared != int(counts.sum()):
            raise SessionError(
                f"its clock counts {self.declared} frames but its video files hold {int(counts.sum())} "
                f"({', '.join(self.written)}): which frame was shown when cannot be told; is a file "
                "truncated or the wrong one?",
                where=self.name,
            )
        return _Files(where, starts, counts)

    def _frame(self, index: int) -> np.ndarray:
        files = self.files
        file_index = int(np.searchsorted(files.starts, index, side="right")) - 1
        local, count = index - int(files.starts[file_index]), int(files.counts[file_index])
        decoder = self._decoder
        if decoder is None or decoder.file_index != file_index or decoder.upcoming > local:
            decoder = self._open(file_index)
        label = self.written[file_index]
        with reading(f"{self.name} ({label}, frame {local})"), _video_errors(label):
            while decoder.upcoming <= local:
                frame = next(decoder.frames, None)
                if frame is None:
                    raise SessionError(
                        f"decodes to {decoder.upcoming} frames, but {self.name} counts {count} in it; the "
                        "video is truncated or not the one the file was written with",
                        where=label,
                    )
                decoder.upcoming += 1
            image = frame.to_ndarray(format=decoder.fmt)
            if decoder.upcoming == count and next(decoder.frames, None) is not None:
                raise SessionError(
                    f"decodes to more than the {count} frames {self.name} counts in it; its clock would "
                    "not give the frames' times",
                    where=label,
                )
        return image

    def _open(self, file_index: int) -> _Decoder:
        self.close()
        label = self.written[file_index]
        container = self._stack.enter_context(_open_video(self.files.where[file_index], label))
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"  # frame threads: decoding keeps up with the rest of the conversion
        fmt = "gray" if (stream.codec_context.pix_fmt or "").startswith("gray") else "rgb24"
        self._decoder = _Decoder(file_index, container, container.decode(stream), fmt)
        return self._decoder


@contextlib.contextmanager
def _video_errors(label: str) -> Iterator[None]:
    """A decoder's failure (damaged data, an unknown codec) as one SessionError naming the file."""
    try:
        yield
    except av.FFmpegError as error:  # FFmpeg's reason, without the path it repeats
        reason = error.strerror or detail(error, 100)
        raise SessionError(
            f"not a video that can be decoded ({reason}); is it damaged?", where=label
        ) from None


@contextlib.contextmanager
def _open_video(file: VideoFile, label: str) -> Iterator[av.container.InputContainer]:
    """Open a local or streamed video file; one SessionError line when it is not a readable video."""
    with contextlib.ExitStack() as stack:
        handle = stack.enter_context(open_remote(file)) if isinstance(file, RemoteFile) else str(file)
        with _video_errors(label):
            container = stack.enter_context(av.open(handle, mode="r"))
        if not container.streams.video:
            raise SessionError("holds no video stream", where=label)
        yield container


def _frame_count(file: VideoFile, label: str) -> int:
    """Frames in a video file: from its header where it says (mp4, avi), else by counting its packets
    (Matroska), which reads the file but decodes nothing."""
    with _open_video(file, label) as container, _video_errors(label):
        stream = container.streams.video[0]
        if stream.frames > 0:
            return int(stream.frames)
        return sum(1 for packet in container.demux(stream) if packet.size > 0)


def _declared_frames(series: ImageSeries) -> int | None:
    """How many frames the series says it has: its timestamps, else num_samples (None: unsaid)."""
    if series.timestamps is not None:
        return len(series.timestamps)
    num_samples = getattr(series, "num_samples", None)
    return None if num_samples is None else int(num_samples)
