"""The common dataset on disk: one folder per session, memory-mappable, time-major, on the 30 Hz grid.

```
<session_key>/
  meta.json          schema version, source, subject, rates, transforms, problems, code version
  video.npy          uint8   (T, 36, 64)
  responses.npy      float32 (T, N)
  behavior.npy       float32 (T, 2)   pupil size, running speed
  pupil_center.npy   float32 (T, 2)   horizontal, vertical
  times.npy          float64 (T,)     each tick's time on the NWB file's clock (s)
  roi_ids.npy        int64   (N,)     ROI ids in column order, unique in the session: the PlaneSegmentation
                                      ids, or, where planes repeat ids, plane-qualified (meta.json notes)
  neurons.npz        coordinates (N, 3) float32 um (or pixels, see meta), plane (N,) int64
  trials.npz         first_tick, stop_tick (n,) int64 (stop exclusive), tier (n,) str,
                     stimulus_id (n,) str (content hash of the trial's frames), source_tier (n,) str
  statistics.npz     training-tier statistics (see nwb_v1former.data.stats)
```

This module knows nothing about NWB: it writes and reads arrays. No pynwb or h5py here.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nwb_v1former.errors import SessionError
from nwb_v1former.grid import FRAME_HEIGHT, FRAME_WIDTH
from nwb_v1former.plain import plain

SCHEMA_VERSION = 1
TIERS = ("train", "validation", "test", "none")
ARRAYS = {
    "video": (np.uint8, (FRAME_HEIGHT, FRAME_WIDTH)),
    "responses": (np.float32, None),
    "behavior": (np.float32, (2,)),
    "pupil_center": (np.float32, (2,)),
    "times": (np.float64, ()),
}


@dataclass(frozen=True)
class Trials:
    """Per-trial table; ticks index the store's arrays, `stop_tick` is exclusive."""

    first_tick: np.ndarray
    stop_tick: np.ndarray
    tier: np.ndarray
    stimulus_id: np.ndarray
    source_tier: np.ndarray

    def __len__(self) -> int:
        return len(self.first_tick)

    def to_npz(self, path: Path) -> None:
        np.savez(
            path,
            first_tick=self.first_tick.astype(np.int64),
            stop_tick=self.stop_tick.astype(np.int64),
            tier=self.tier.astype("<U16"),
            stimulus_id=self.stimulus_id.astype("<U32"),
            source_tier=self.source_tier.astype("<U32"),
        )

    @classmethod
    def from_npz(cls, path: Path) -> Trials:
        with np.load(path, allow_pickle=False) as archive:
            return cls(**{name: archive[name] for name in archive.files})


def _reserve(path: Path) -> None:
    """Allocate every block of `path` (an OSError naming it when the disk cannot hold it)."""
    with open(path, "r+b") as handle:
        try:
            os.posix_fallocate(handle.fileno(), 0, os.fstat(handle.fileno()).st_size)
        except OSError as error:
            raise OSError(error.errno, error.strerror, str(path)) from None


class StoreWriter:
    """Creates one session folder and lets a reader fill it block by block (memory-mapped .npy files).

    Each file's blocks are reserved on disk when it is made: a memory map into a sparse file that the
    disk cannot hold kills the process with SIGBUS at some later write, with no message; a reserved one
    fails here, with the file's name and the disk's error.
    """

    def __init__(self, folder: Path, n_ticks: int, n_neurons: int) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=False)
        self.arrays: dict[str, np.memmap] = {}
        for name, (dtype, trailing) in ARRAYS.items():
            shape = (n_ticks, n_neurons) if trailing is None else (n_ticks, *trailing)
            path = folder / f"{name}.npy"
            self.arrays[name] = np.lib.format.open_memmap(path, "w+", dtype, shape)
            _reserve(path)

    def __getitem__(self, name: str) -> np.memmap:
        return self.arrays[name]

    def write_small(
        self,
        *,
        roi_ids: np.ndarray,
        coordinates: np.ndarray,
        plane: np.ndarray,
        trials: Trials,
        statistics: dict[str, np.ndarray],
        meta: dict[str, Any],
    ) -> None:
        """Write everything that is not bulk data, then flush the memory maps."""
        np.save(self.folder / "roi_ids.npy", np.asarray(roi_ids, dtype=np.int64))
        np.savez(
            self.folder / "neurons.npz",
            coordinates=np.asarray(coordinates, np.float32),
            plane=np.asarray(plane, np.int64),
        )
        trials.to_npz(self.folder / "trials.npz")
        np.savez(self.folder / "statistics.npz", **statistics)
        ticks, neurons = self["responses"].shape
        meta = {"schema_version": SCHEMA_VERSION, **meta, "ticks": ticks, "neurons": neurons}
        (self.folder / "meta.json").write_text(json.dumps(plain(meta), indent=2) + "\n")
        for array in self.arrays.values():
            array.flush()


class SessionStore:
    """A converted session, opened read-only; bulk arrays are memory maps, never loaded whole."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        meta_path = self.folder / "meta.json"
        if not meta_path.is_file():
            raise SessionError(
                "not a converted session (no meta.json); run `nwb-v1former convert`", where=self.folder
            )
        try:
            self.meta: dict[str, Any] = json.loads(meta_path.read_text())
        except (ValueError, OSError) as error:
            raise self._damaged("meta.json", error) from None
        if not isinstance(self.meta, dict) or self.meta.get("schema_version") != SCHEMA_VERSION:
            version = self.meta.get("schema_version") if isinstance(self.meta, dict) else None
            raise SessionError(
                f"store schema {version} is not {SCHEMA_VERSION}; convert the session again with this "
                "version",
                where=self.folder,
            )
        try:
            self.video = np.load(self.folder / "video.npy", mmap_mode="r")
            self.responses = np.load(self.folder / "responses.npy", mmap_mode="r")
            self.behavior = np.load(self.folder / "behavior.npy", mmap_mode="r")
            self.pupil_center = np.load(self.folder / "pupil_center.npy", mmap_mode="r")
            self.times = np.load(self.folder / "times.npy", mmap_mode="r")
            self.roi_ids = np.load(self.folder / "roi_ids.npy")
            with np.load(self.folder / "neurons.npz") as neurons:
                self.coordinates = neurons["coordinates"]
                self.plane = neurons["plane"]
            self.trials = Trials.from_npz(self.folder / "trials.npz")
            with np.load(self.folder / "statistics.npz") as statistics:
                self.statistics = {name: statistics[name] for name in statistics.files}
        except (ValueError, OSError, KeyError, TypeError) as error:
            raise self._damaged(getattr(error, "filename", None) or "an array file", error) from None
        self._check_shapes()

    def _damaged(self, what: str | Path, error: BaseException) -> SessionError:
        detail = error.strerror if isinstance(error, OSError) and error.strerror else str(error)[:80]
        return SessionError(
            f"{Path(what).name} cannot be read ({detail}); the store is damaged: convert the session again",
            where=self.folder,
        )

    def _check_shapes(self) -> None:
        """The arrays agree with each other and with meta.json (ticks, neurons), else one line."""
        ticks, neurons = self.meta.get("ticks"), self.meta.get("neurons")
        problems = [
            f"{name}.npy is {array.shape[1:]} per tick, not {trailing}"
            for name, (_, trailing) in ARRAYS.items()
            if trailing is not None and (array := getattr(self, name)).shape[1:] != trailing
        ]
        problems += [
            f"{name}.npy has {len(getattr(self, name))} ticks, meta.json {ticks}"
            for name in ARRAYS
            if len(getattr(self, name)) != ticks
        ]
        if self.responses.ndim != 2 or self.responses.shape[1] != neurons:
            problems.append(f"responses.npy is {self.responses.shape}, meta.json has {neurons} neurons")
        if not len(self.roi_ids) == len(self.coordinates) == len(self.plane) == neurons:
            problems.append(f"roi_ids, coordinates and planes do not each hold the {neurons} neurons")
        trials = self.trials
        if len(trials) and (trials.first_tick.min() < 0 or trials.stop_tick.max() > (ticks or 0)):
            problems.append(f"trials.npz reaches beyond the {ticks} ticks")
        if problems:
            raise SessionError(
                f"the store does not agree with itself: {problems[0]}; it is damaged: convert the session "
                "again",
                where=self.folder,
            )

    @property
    def key(self) -> str:
        """The session key (the folder name), used to name per-session model heads."""
        return self.folder.name

    @property
    def n_neurons(self) -> int:
        return self.responses.shape[1]

    @property
    def n_ticks(self) -> int:
        return self.responses.shape[0]

    def __repr__(self) -> str:
        size = f"{self.n_ticks} ticks, {self.n_neurons} neurons, {len(self.trials)} trials"
        return f"SessionStore({self.key!r}: {size})"


def is_store(folder: Path) -> bool:
    """A converted session, or a folder of them (what `convert` writes)."""
    return (folder / "meta.json").is_file() or any(folder.glob("*/meta.json"))


def open_stores(root: str | Path) -> list[SessionStore]:
    """Every session folder under `root` (a convert output), or `root` itself if it is one."""
    root = Path(root)
    if (root / "meta.json").is_file():
        return [SessionStore(root)]
    folders = sorted(p.parent for p in root.glob("*/meta.json"))
    if not folders:
        raise SessionError("no converted sessions found; run `nwb-v1former convert` first", where=root)
    return [SessionStore(folder) for folder in folders]
