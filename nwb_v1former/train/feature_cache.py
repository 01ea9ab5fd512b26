"""A frozen core's output, computed once and kept on disk, so that each epoch costs the heads only.

While the core is frozen (`--strategy readout`, and the first epochs of `gradual`) its output for a
piece of a session depends only on that piece's inputs and the core's weights, never on the epoch:

- training runs a frozen core in eval mode (no dropout, no stochastic depth, no random numbers drawn);
- training windows sit at fixed ticks (each training trial cut from its first tick in steps of the
  window, `window_starts`): the epoch only changes their order;
- validation trials are cut into the pieces evaluation uses (the model's window rule);
- the whole session is cut as `predict` cuts it (nwb_v1former.inference.session_cut), so that the final
  score, `evaluate` and `predict` read it back where its key matches (nwb_v1former.train.cache_lookup).

So each piece goes through the core once, here, and every epoch reads it back. The heads (shifter,
Gaussian readout with its random sampling, activation) then compute the same loss and gradients as
through the core: to float32 rounding with a float32 cache; with the default float16 cache, to the
error stated in the README (measured by benchmarks/finetune_readout.py).

One folder per session under the cache directory:

```
<session key>-<digest>/
  key.json        everything the values depend on; <digest> is its sha256
  pieces.npz      start, length, offset (n,) int64: piece i is ticks [start, start + length) of the
                  store, held at rows [offset, offset + length) of features.npy
  features.npy    (rows, E, H', W') float16 or float32, the core's output tick by tick
  progress.json   how many pieces are written (in order) and each one's CRC-32; the cache is used only
                  when all are
```

A build killed at any moment is completed by the next run with the same key (written pieces are
fsynced before progress.json counts them); a changed key (other weights, data, normalisation, window,
dtype or precision) builds a new folder and removes the old one. The key covers the inputs, not the
cache's own bytes, so those are checked too: the whole cache against its checksums when a run opens it
(damage: a line, and it is rebuilt), and each piece as it is read (damage during a run: one error).
Values are read with `os.pread`, not a memory map, so a process's memory does not grow with the length
of the session.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nwb_v1former.atomic import atomic_output
from nwb_v1former.data.stats import Normalizer
from nwb_v1former.data.store import SessionStore
from nwb_v1former.errors import ConfigError
from nwb_v1former.inference.session_cut import whole_session_pieces
from nwb_v1former.inference.windows import model_inputs
from nwb_v1former.model.model import V1Former
from nwb_v1former.model.window import WindowRule
from nwb_v1former.precision import core_autocast
from nwb_v1former.progress import QUIET, Reporter

FORMAT_VERSION = 2  # 2: per-piece CRC-32 in progress.json
DTYPES = {"float16": np.float16, "float32": np.float32}
INPUT_BLOCK_TICKS = 1 << 16
WAIT_SECONDS = 2.0
"""How often a process that waits for another's build looks at its progress (torchrun)."""


@dataclass(frozen=True)
class CacheConfig:
    """Where the cache lives (None: RUN/feature-cache) and how its values are kept (float16 halves the
    disk; see the module doc for what that costs)."""

    directory: Path | None = None
    dtype: str = "float16"

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise ConfigError(f"feature cache dtype {self.dtype!r}: choose one of {', '.join(DTYPES)}")


def session_pieces(
    store: SessionStore, window_starts: np.ndarray, window: int, scored_trials: np.ndarray, rule: WindowRule
) -> np.ndarray:
    """(n, 2) int64 [start, length] of every span the core runs on: the training windows, each scored
    (validation) trial cut by `rule` as evaluation cuts it, then every piece `predict` cuts the whole
    session into (each trial as evaluation cuts it, the ticks between with history), so the final
    score, `evaluate` and `predict` read the core's output back; duplicates dropped, order kept. Where
    training windows are whole trials (trials no longer than the window) they are those trials' pieces,
    and the core runs once over the session."""
    pieces = [(int(start), window) for start in window_starts]
    trials = store.trials
    for index in scored_trials:
        cut = rule.pieces(int(trials.first_tick[index]), int(trials.stop_tick[index]))
        pieces += [(piece.begin, piece.length) for piece in cut]
    whole = whole_session_pieces(trials.first_tick, trials.stop_tick, store.n_ticks, rule)
    pieces += [(piece.begin, piece.length) for piece in whole]
    return np.asarray(list(dict.fromkeys(pieces)), dtype=np.int64).reshape(-1, 2)


def tensor_digest(module: torch.nn.Module) -> str:
    """sha256 of a module's parameters and buffers (names, dtypes, shapes and bytes)."""
    digest = hashlib.sha256()
    for name, value in sorted(module.state_dict().items()):
        tensor = value.detach().cpu().contiguous()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())  # 0-d too (batch-norm counts)
    return digest.hexdigest()


def inputs_digest(store: SessionStore) -> str:
    """sha256 of what the core reads from a store: video, behaviour, pupil centre and their normalisation."""
    digest = hashlib.sha256()
    for array in (store.video, store.behavior, store.pupil_center):
        for first in range(0, len(array), INPUT_BLOCK_TICKS):
            digest.update(np.ascontiguousarray(array[first : first + INPUT_BLOCK_TICKS]).tobytes())
    for name in (
        "video_mean",
        "video_std",
        "behavior_mean",
        "behavior_std",
        "pupil_center_mean",
        "pupil_center_std",
    ):
        digest.update(name.encode() + np.ascontiguousarray(store.statistics[name], np.float64).tobytes())
    return digest.hexdigest()


class SessionCache:
    """The cached core output of one session: build it (or finish building it), then read pieces."""

    def __init__(
        self, folder: Path, pieces: np.ndarray, feature_shape: tuple[int, int, int], dtype: str
    ) -> None:
        self.folder = folder
        self.starts, self.lengths = pieces[:, 0], pieces[:, 1]
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths)[:-1]]).astype(np.int64)
        self.feature_shape = feature_shape  # (E, H', W')
        self.dtype = np.dtype(DTYPES[dtype])
        self.tick_bytes = int(np.prod(feature_shape)) * self.dtype.itemsize
        self.index = {
            (int(s), int(n)): i for i, (s, n) in enumerate(zip(self.starts, self.lengths, strict=True))
        }
        self._handle: int | None = None
        self._data_offset = 0
        self._checksums: list[int] = []

    @property
    def path(self) -> Path:
        return self.folder / "features.npy"

    @property
    def n_bytes(self) -> int:
        return int(self.lengths.sum()) * self.tick_bytes

    def progress(self) -> list[int]:
        """The CRC-32 of each piece written so far, in order (empty when nothing is there yet)."""
        path = self.folder / "progress.json"
        if not path.is_file():
            return []
        try:
            values = json.loads(path.read_text())
            checksums = [int(value) for value in values["crc32"]]
            ok = values["pieces"] == len(checksums) <= len(self.starts)
        except (ValueError, TypeError, KeyError) as error:
            raise DamagedCache(f"its progress.json cannot be read ({error})") from None
        if not ok:
            raise DamagedCache("its progress.json does not match its piece table")
        return checksums

    def written(self) -> int:
        """Pieces written so far (0 when nothing is there yet)."""
        return len(self.progress())

    @property
    def complete(self) -> bool:
        return self.written() == len(self.starts)

    def check_whole(self) -> None:
        """DamagedCache unless features.npy has its full size and every written piece its checksum."""
        checksums = self.progress()
        try:
            with open(self.path, "rb") as handle:
                data_offset = _data_offset(handle)
                size = os.fstat(handle.fileno()).st_size
                if size != data_offset + self.n_bytes:
                    raise DamagedCache(f"features.npy holds {size} bytes, not {data_offset + self.n_bytes}")
                for index, checksum in enumerate(checksums):
                    handle.seek(data_offset + int(self.offsets[index]) * self.tick_bytes)
                    if zlib.crc32(handle.read(int(self.lengths[index]) * self.tick_bytes)) != checksum:
                        raise DamagedCache(f"piece {index} of features.npy does not match its checksum")
        except (OSError, ValueError) as error:
            raise DamagedCache(f"features.npy cannot be read ({error})") from None

    # --- building ---------------------------------------------------------------------------------------
    def create(self, key: dict[str, Any]) -> None:
        """An empty cache folder: key, piece table, and features.npy's header on a sparse file."""
        self.folder.mkdir(parents=True, exist_ok=True)
        np.savez(self.folder / "pieces.npz", start=self.starts, length=self.lengths, offset=self.offsets)
        shape = (int(self.lengths.sum()), *self.feature_shape)
        with open(self.path, "wb") as handle:
            header = {
                "descr": np.lib.format.dtype_to_descr(self.dtype),
                "fortran_order": False,
                "shape": shape,
            }
            np.lib.format.write_array_header_1_0(handle, header)
            handle.truncate(handle.tell() + self.n_bytes)
        self._write_json("key.json", key)
        self._write_progress([])

    def build(
        self,
        model: V1Former,
        store: SessionStore,
        *,
        device: torch.device,
        precision: str,
        reporter: Reporter,
    ) -> None:
        """Run the core over every piece not yet written, in order; fsync, then count each one."""
        normalizer = Normalizer.from_statistics(store.statistics)
        checksums = self.progress()
        first = len(checksums)
        core = model.core.eval()
        bar = reporter.loop(range(first, len(self.starts)), what=f"core pass over {store.key}", unit="piece")
        with open(self.path, "r+b") as handle, torch.inference_mode(), core_autocast(device, precision):
            data_offset = _data_offset(handle)
            for index in bar:
                start, length = int(self.starts[index]), int(self.lengths[index])
                video, behavior, pupil = model_inputs(store, normalizer, start, start + length, device)
                output = core(video, behavior, pupil)[0].float().transpose(0, 1)  # (T, E, H', W')
                values = output.cpu().numpy().astype(self.dtype)
                if not np.isfinite(values).all():
                    raise ConfigError(
                        f"the core's output for ticks {start}-{start + length} overflows "
                        f"{self.dtype.name}; use --feature-cache-dtype float32 or --no-feature-cache",
                        where=store.folder,
                    )
                data = values.tobytes()
                os.pwrite(handle.fileno(), data, data_offset + int(self.offsets[index]) * self.tick_bytes)
                os.fsync(handle.fileno())
                checksums.append(zlib.crc32(data))
                self._write_progress(checksums)

    def _write_progress(self, checksums: list[int]) -> None:
        self._write_json("progress.json", {"pieces": len(checksums), "crc32": checksums})

    def _write_json(self, name: str, values: dict[str, Any]) -> None:
        with atomic_output(self.folder / name, overwrite=True) as temporary:
            temporary.write_text(json.dumps(values, indent=2) + "\n")

    # --- reading ------------------------------------------------------------------------------------------
    def lookup(self, start: int, length: int, device: torch.device | str = "cpu") -> torch.Tensor | None:
        """`read` when the cache holds exactly the piece [start, start + length), else None."""
        return self.read(start, length, device) if (int(start), int(length)) in self.index else None

    def read(self, start: int, length: int, device: torch.device | str = "cpu") -> torch.Tensor:
        """The core's output for the piece [start, start + length): (1, E, T, H', W') float32 on `device`.

        Read as stored (float16 by default) into pinned memory where `device` is a GPU, copied without
        blocking, and widened to float32 there: the copy moves half the bytes and the host never converts.
        """
        index = self.index.get((int(start), int(length)))
        if index is None:
            raise ConfigError(f"no cached piece at ticks {start}-{start + length}", where=self.folder)
        if self._handle is None:
            try:
                self._checksums = self.progress()
            except DamagedCache as damage:
                raise ConfigError(
                    f"the feature cache is damaged ({damage}); run again: it rebuilds it", where=self.folder
                ) from None
            self._handle = os.open(self.path, os.O_RDONLY)
            with open(self.path, "rb") as handle:
                self._data_offset = _data_offset(handle)
        stored = torch.empty(
            (int(length), *self.feature_shape),
            dtype=getattr(torch, self.dtype.name),  # float16 or float32, as stored
            pin_memory=torch.device(device).type == "cuda",
        )
        values = stored.numpy()
        read = os.preadv(
            self._handle, [values], self._data_offset + int(self.offsets[index]) * self.tick_bytes
        )
        if read != values.nbytes or zlib.crc32(values) != self._checksums[index]:
            raise ConfigError(
                f"the feature cache changed while this run read it (piece {index}, ticks "
                f"{start}-{start + length}, does not match its checksum); run the command again: it "
                "rebuilds the cache",
                where=self.folder,
            )
        return stored.to(device, non_blocking=True).float().transpose(0, 1)[None]

    def close(self) -> None:
        """Let go of the file (reading opens it again when needed)."""
        if self._handle is not None:
            os.close(self._handle)
            self._handle = None


@torch.inference_mode()
def predict_cached_trials(
    model: V1Former, cache: SessionCache, store: SessionStore, indices: np.ndarray, device: torch.device
) -> list[np.ndarray]:
    """`predict_trials` from the cache: each trial (T_i, N) in the store's units, cut as predict cuts it."""
    normalizer = Normalizer.from_statistics(store.statistics)
    model.eval()
    trials, predictions = store.trials, []
    for index in indices:
        pieces = []
        for piece in model.config.window.pieces(int(trials.first_tick[index]), int(trials.stop_tick[index])):
            _, _, pupil = model_inputs(store, normalizer, piece.begin, piece.stop, device)
            core_output = cache.read(piece.begin, piece.length, device)
            output = model(None, None, pupil, session=store.key, core_output=core_output)
            kept = output[0, piece.first - piece.begin :]
            pieces.append(normalizer.responses_inverse(kept.float().cpu().numpy()))
        predictions.append(np.concatenate(pieces))
    return predictions


def _data_offset(handle: Any) -> int:
    """Where the array data of an open .npy file start (after its header)."""
    handle.seek(0)
    np.lib.format.read_magic(handle)
    np.lib.format.read_array_header_1_0(handle)
    return handle.tell()


@dataclass(frozen=True)
class SessionPieces:
    """What one session needs cached: its store and its pieces ((n, 2) start, length)."""

    store: SessionStore
    pieces: np.ndarray


def open_caches(
    model: V1Former,
    sessions: list[SessionPieces],
    directory: Path,
    dtype: str,
    *,
    device: torch.device,
    precision: str,
    rank: int = 0,
    world_size: int = 1,
    reporter: Reporter = QUIET,
) -> dict[str, SessionCache]:
    """Complete caches for `sessions` (store key -> cache), built where missing.

    Under torchrun, session i is built by process i % world_size (so no two processes write one file);
    every process then waits until all are complete and reads what it trains on.
    """
    core_digest = tensor_digest(model.core)
    feature_shape = (model.config.core.emb_dim, *model.core.grid)
    caches, keys = {}, {}
    for session in sessions:
        key = {
            "format_version": FORMAT_VERSION,
            "session": session.store.key,
            "core_config": dataclasses.asdict(model.config.core),
            "core_sha256": core_digest,
            "inputs_sha256": inputs_digest(session.store),
            "pieces_sha256": hashlib.sha256(session.pieces.tobytes()).hexdigest(),
            "dtype": dtype,
            "precision": precision,
        }
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()
        folder = directory / f"{session.store.key}-{digest[:16]}"
        caches[session.store.key] = SessionCache(folder, session.pieces, feature_shape, dtype)
        keys[session.store.key] = key
    mine = [key for number, key in enumerate(caches) if number % world_size == rank]
    for key in mine:
        _rebuild_if_damaged(caches[key], reporter)
    todo = [key for key in mine if not caches[key].complete]
    if todo:
        _check_space(directory, [caches[key] for key in todo], reporter)
    for number, store_key in enumerate(caches):
        if store_key not in todo:
            continue
        cache, store = caches[store_key], sessions[number].store
        _remove_stale(directory, store.key, keep=cache.folder)
        if not (cache.folder / "progress.json").is_file():
            cache.create(keys[store_key])
        started = time.perf_counter()
        cache.build(model, store, device=device, precision=precision, reporter=reporter)
        reporter.note(f"feature cache: {store.key} done in {time.perf_counter() - started:.0f} s")
    while not all(cache.complete for cache in caches.values()):
        time.sleep(WAIT_SECONDS)
    return caches


class DamagedCache(Exception):
    """A session's cache whose own files are not what its build wrote (the reason is the message)."""


def _rebuild_if_damaged(cache: SessionCache, reporter: Reporter) -> None:
    """Check a cache against its checksums; a damaged one is removed (with a line) to be built again."""
    if not cache.folder.is_dir():
        return
    try:
        cache.check_whole()
    except DamagedCache as damage:
        reporter.note(f"feature cache: {cache.folder} is damaged ({damage}); building it again")
        shutil.rmtree(cache.folder)


def _check_space(directory: Path, caches: list[SessionCache], reporter: Reporter) -> None:
    """Say how big the cache will be and where; refuse when the disk cannot hold it."""
    needed = sum(cache.n_bytes for cache in caches)
    existing = Path(directory)
    while not existing.exists():
        existing = existing.parent
    free = shutil.disk_usage(existing).free
    reporter.note(
        f"feature cache: {needed / 1e9:.2f} GB for {len(caches)} session(s) in {directory} "
        f"(the frozen core runs once; --no-feature-cache to skip)"
    )
    if needed > free:
        raise ConfigError(
            f"the feature cache needs {needed / 1e9:.2f} GB, the disk has {free / 1e9:.2f} GB "
            "free; free space, choose another --feature-cache-dir, or pass --no-feature-cache",
            where=directory,
        )


def _remove_stale(directory: Path, store_key: str, keep: Path) -> None:
    """Caches of the same session under another key are out of date: remove them."""
    for folder in Path(directory).glob(f"{store_key}-*"):
        if folder != keep and folder.is_dir() and folder.name.rsplit("-", 1)[0] == store_key:
            shutil.rmtree(folder)
