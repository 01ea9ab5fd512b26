"""Reading and checking one Sensorium 2023 mouse folder before anything is written."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from nwb_v1former.errors import SessionError
from nwb_v1former.nwb.trials import canonical_tier, stimulus_id

FRAME_RATE = 30.0
"""Frames per second of the Sensorium 2023 format (a fact of its data, which the reader then lays on
the model's grid like any other clock; see nwb_v1former.grid)."""
INTER_TRIAL_GAP_S = 1.0
"""Gap between consecutive trials on the reconstructed clock (a whole number of 30 Hz frames)."""
GAP_FRAMES = round(INTER_TRIAL_GAP_S * FRAME_RATE)
KINDS = ("videos", "responses", "behavior", "pupil_center")
MAX_DEPTH_PLANES = 32
"""More distinct depths than this are not imaging fields: one plane then (exact z stays in the column)."""
VIDEO_CHUNK_FRAMES = 16
STREAM_CHUNKS = {"videos": (VIDEO_CHUNK_FRAMES, 32), "responses": (128, 4), "behavior": (4096, 8)}
"""(frames per HDF5 chunk, chunks per read buffer) of each stream."""
RESPONSE_CHUNK_NEURONS = 1024
UNKNOWN_START = "1970-01-01T00:00:00+00:00"
"""Placeholder session_start_time: the release has no recording dates (set the true one with --metadata)."""
FOLDER_NAME = re.compile(r"^dynamic(?P<animal>\d+)-(?P<session>\d+)-(?P<scan>\d+)-Video-\w+$")
PAPER = "doi:10.48550/arXiv.2305.19654"


def one_line(error: Exception | str) -> str:
    """An error message folded onto one line (the CLI prints exactly one)."""
    return " ".join(str(error).split())


def load_npy(path: Path, *, mmap: bool = False) -> np.ndarray:
    """A .npy file without pickles; SessionError naming the file when it is missing or unreadable."""
    if not path.is_file():
        raise SessionError("missing; re-extract the Sensorium archive of this mouse", where=path)
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        fix = "re-extract it from the Sensorium archive"
        if "allow_pickle" in str(error):
            fix = "re-save it as a plain array: np.save(path, np.load(path, allow_pickle=True).astype(str))"
        raise SessionError(f"not a readable .npy file ({one_line(error)}); {fix}", where=path) from None


@dataclass(frozen=True)
class SensoriumFolder:
    """A checked mouse folder: trial arrays (n,) in temporal order, unit_ids (N,), coordinates (N, 3)."""

    root: Path
    file_index: np.ndarray
    trial_idx: np.ndarray | None
    tier: np.ndarray
    valid_frames: np.ndarray
    padded_frames: np.ndarray
    stimulus_id: np.ndarray
    labelled: np.ndarray
    unit_ids: np.ndarray
    coordinates: np.ndarray
    frame_shape: tuple[int, int]

    def path(self, kind: str, trial: int) -> Path:
        """The .npy file of `kind` (videos, responses, ...) of the trial at temporal position `trial`."""
        return self.root / "data" / kind / f"{int(self.file_index[trial])}.npy"

    @property
    def first_frame(self) -> np.ndarray:
        """(n,) int64: each trial's first frame on the reconstructed 30 Hz clock (gaps included)."""
        before = np.concatenate([[0], np.cumsum(self.valid_frames)[:-1]])
        return before + GAP_FRAMES * np.arange(len(self.valid_frames))

    def frame_times(self) -> np.ndarray:
        """(total valid frames,) float64: time (s) of every stored sample."""
        frames = [f + np.arange(v) for f, v in zip(self.first_frame, self.valid_frames, strict=True)]
        return np.concatenate(frames) / FRAME_RATE


def _trial_count(root: Path) -> int:
    """Number of trials; every data folder must hold exactly the files 0.npy .. n-1.npy."""
    found: dict[str, set[int]] = {}
    for kind in KINDS:
        folder = root / "data" / kind
        if not folder.is_dir():
            raise SessionError(
                f"missing; a Sensorium mouse folder holds data/{{{','.join(KINDS)}}} and meta/", where=folder
            )
        found[kind] = set()
        for path in folder.glob("*.npy"):
            if not path.stem.isdigit():
                raise SessionError(f"not a trial file (<number>.npy); move it out of {folder}", where=path)
            found[kind].add(int(path.stem))
    reference = found["responses"]
    if not reference:
        raise SessionError("no trial files (<number>.npy)", where=root / "data" / "responses")
    for kind, numbers in found.items():
        if numbers != reference:
            number = min(numbers ^ reference)
            has, lacks = ("responses", kind) if number in reference else (kind, "responses")
            raise SessionError(
                f"missing while data/{has}/{number}.npy exists; "
                "every trial needs one file in each data folder",
                where=root / "data" / lacks / f"{number}.npy",
            )
    n = len(reference)
    if reference != set(range(n)):
        raise SessionError(
            f"trial files are not numbered 0..{n - 1} "
            f"({min(set(range(n)) - reference)}.npy is missing); meta/trials is indexed by file number",
            where=root / "data" / "responses",
        )
    return n


def _meta(root: Path, n_trials: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """unit_ids (N,), cell_motor_coordinates (N, 3), tiers (n,) and trial_idx (n,) or None, checked."""
    neurons, trials = root / "meta" / "neurons", root / "meta" / "trials"
    unit_ids = load_npy(neurons / "unit_ids.npy")
    if unit_ids.ndim != 1 or unit_ids.dtype.kind not in "iu" or len(np.unique(unit_ids)) != len(unit_ids):
        raise SessionError("expected unique integer ids (N,)", where=neurons / "unit_ids.npy")
    coordinates = load_npy(neurons / "cell_motor_coordinates.npy")
    if coordinates.shape != (len(unit_ids), 3) or coordinates.dtype.kind not in "iuf":
        raise SessionError(
            f"shape {coordinates.shape}, expected "
            f"({len(unit_ids)}, 3) numbers, one row per unit of unit_ids.npy",
            where=neurons / "cell_motor_coordinates.npy",
        )
    if not np.isfinite(coordinates).all():
        raise SessionError("holds NaN or infinity", where=neurons / "cell_motor_coordinates.npy")
    tiers = load_npy(trials / "tiers.npy")
    if tiers.shape != (n_trials,) or tiers.dtype.kind not in "US":
        raise SessionError(
            f"{tiers.shape} {tiers.dtype} for {n_trials} trial files; "
            "it must hold one tier name per trial file",
            where=trials / "tiers.npy",
        )
    trial_idx = None
    if (trials / "trial_idx.npy").exists():
        trial_idx = load_npy(trials / "trial_idx.npy")
        if trial_idx.shape != (n_trials,) or trial_idx.dtype.kind not in "iu":
            raise SessionError(
                f"{trial_idx.shape} {trial_idx.dtype} for {n_trials} trial "
                "files; it must hold one integer per trial file (or be removed to keep file order)",
                where=trials / "trial_idx.npy",
            )
    return unit_ids, coordinates, tiers.astype(str), trial_idx


def npy_header(path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """(shape, dtype) of a .npy file from its header alone; SessionError if unreadable or truncated."""
    try:
        with open(path, "rb") as handle:
            major, _ = np.lib.format.read_magic(handle)
            read = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
            shape, _, dtype = read(handle)
            complete = path.stat().st_size >= handle.tell() + np.prod(shape, dtype=np.int64) * dtype.itemsize
    except (OSError, ValueError, EOFError) as error:
        raise SessionError(
            f"not a readable .npy file ({one_line(error)}); re-extract it", where=path
        ) from None
    if not complete:
        raise SessionError("truncated (shorter than its header says); re-extract it", where=path)
    return shape, dtype


def _check_shapes(root: Path, n_trials: int, n_neurons: int) -> tuple[int, int]:
    """From the headers: one frame size, N neurons, one length per trial, numbers only; the frame size."""
    headers = {
        kind: [npy_header(root / "data" / kind / f"{i}.npy") for i in range(n_trials)] for kind in KINDS
    }
    frames = Counter(shape[:2] for shape, _ in headers["videos"] if len(shape) == 3).most_common(1)
    frame_shape = frames[0][0] if frames else None
    expected = {
        "videos": "(height, width, frames) with {} x {} frames".format(*(frame_shape or ("?", "?"))),
        "responses": f"({n_neurons} neurons as in meta/neurons/unit_ids.npy, frames)",
        "behavior": "(2, frames)",
        "pupil_center": "(2, frames)",
    }
    for kind, found in headers.items():
        for number, (shape, dtype) in enumerate(found):
            if kind == "videos":
                good = len(shape) == 3 and shape[:2] == frame_shape
            else:
                good = len(shape) == 2 and shape[0] == (n_neurons if kind == "responses" else 2)
            if not good or dtype.kind not in "iuf":
                raise SessionError(
                    f"{shape} {dtype}, expected {expected[kind]} numbers like the other trials; "
                    "fix or remove this trial",
                    where=root / "data" / kind / f"{number}.npy",
                )
    for number in range(n_trials):
        lengths = {kind: headers[kind][number][0][-1] for kind in KINDS}
        if len(set(lengths.values())) > 1:
            raise SessionError(
                f"trial {number} has arrays of different lengths {lengths}; "
                "the four files of a trial must have the same number of frames",
                where=root / "data",
            )
    return frame_shape


def _measure(root: Path, number: int, tier: str) -> tuple[int, int, str, bool]:
    """(valid frames, padded frames, stimulus id, hidden) of one trial, whose shapes are already checked."""
    arrays = {kind: load_npy(root / "data" / kind / f"{number}.npy") for kind in KINDS}
    video = arrays["videos"]
    nan = np.isnan(video).any(axis=(0, 1))
    for kind in KINDS[1:]:
        nan |= np.isnan(arrays[kind]).any(axis=0)
    valid = int(np.argmax(nan)) if nan.any() else len(nan)
    if valid == 0:
        raise SessionError(
            f"trial {number} is NaN from its first frame; remove this trial", where=root / "data"
        )
    frames = video[:, :, :valid]
    if not (np.all(frames == np.rint(frames)) and frames.min() >= 0 and frames.max() <= 255):
        raise SessionError(
            "pixel values are not integers in 0-255; expected the released 8-bit frames",
            where=root / "data" / "videos" / f"{number}.npy",
        )
    stimulus = stimulus_id(np.ascontiguousarray(frames.transpose(2, 0, 1)).astype(np.uint8))
    hidden = canonical_tier(tier) == "test" and not np.any(arrays["responses"][:, :valid])
    return valid, len(nan), stimulus, hidden


def scan_folder(folder: str | Path, *, progress: bool = False) -> SensoriumFolder:
    """Read and check every file of a mouse folder once, writing nothing; SessionError on bad input."""
    root = Path(folder)
    if not root.is_dir():
        raise SessionError(
            "no such folder; give one Sensorium 2023 mouse folder (with data/ and meta/)", where=root
        )
    n = _trial_count(root)
    unit_ids, coordinates, tiers, trial_idx = _meta(root, n)
    frame_shape = _check_shapes(root, n, len(unit_ids))
    order = np.arange(n) if trial_idx is None else np.argsort(trial_idx, kind="stable")
    bar = tqdm(order, desc=f"check {root.name}", unit="trial", disable=not progress, leave=False)
    valid, padded, stimulus, hidden = zip(*(_measure(root, int(i), tiers[i]) for i in bar), strict=True)
    return SensoriumFolder(
        root=root,
        file_index=order.astype(np.int64),
        trial_idx=None if trial_idx is None else trial_idx[order].astype(np.int64),
        tier=tiers[order],
        valid_frames=np.array(valid, np.int64),
        padded_frames=np.array(padded, np.int64),
        stimulus_id=np.array(stimulus),
        labelled=~np.array(hidden, bool),
        unit_ids=unit_ids.astype(np.int64),
        coordinates=coordinates,
        frame_shape=(int(frame_shape[0]), int(frame_shape[1])),
    )
