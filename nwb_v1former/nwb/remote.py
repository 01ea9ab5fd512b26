"""NWB files read in place over HTTP: a seekable, read-only file object for h5py built on Range requests.

HDF5 reads many small pieces (object headers, B-trees) before it reads bulk data, so the object keeps
an LRU cache of fixed-size blocks and grows its read-ahead while reads stay sequential; a missed
block costs one request, a run of missed blocks costs one request too.
"""

from __future__ import annotations

import contextlib
import io
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from urllib.parse import urlsplit

import requests

from nwb_v1former.errors import SourceError

BLOCK_BYTES = 2**20
"""Bytes fetched per cache block; a miss fetches at least this much."""
CACHE_BLOCKS = 64
"""Blocks kept per open file (64 MiB), beside h5py's own chunk cache."""
MAX_READ_AHEAD_BLOCKS = 16
"""Read-ahead doubles on sequential misses up to this many blocks per request."""
ATTEMPTS = 3
"""Tries per request before a network failure ends the read."""
TIMEOUT_S = (10.0, 60.0)
"""Connect and read timeouts of one request."""
_TRANSIENT = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


@dataclass(frozen=True)
class RemoteFile:
    """An NWB file on an HTTP(S) server that honours Range requests, read in place instead of from disk.

    `label` names the file in messages and in meta.json (e.g. dandiset:000123@draft/sub-01/a.nwb); its
    last part gives `name` and `stem`, as a Path's would; `beside` are the files it refers to. The URL
    stays out of the repr: a signed link to an embargoed file is a short-lived credential.
    """

    url: str = field(repr=False)
    label: str
    beside: tuple[tuple[str, RemoteFile], ...] = ()
    """Files the NWB file refers to by a path relative to itself (external video files), each streamed
    too: (path as written in the file, where it is served)."""

    def __str__(self) -> str:
        return self.label

    @property
    def name(self) -> str:
        return PurePosixPath(self.label).name

    @property
    def stem(self) -> str:
        return PurePosixPath(self.label).stem


class RangeReader(io.RawIOBase):
    """Read-only file object over HTTP Range requests, with a block cache; give it to `h5py.File`.

    The first request (the first block) also tells the file's size and whether the server honours
    Range. A network failure after the retries raises OSError inside h5py and is kept in `failure`,
    so `open_remote` can turn it into one line naming the file.
    """

    def __init__(self, remote: RemoteFile, *, session: requests.Session | None = None) -> None:
        super().__init__()
        self.remote = remote
        self.failure: str | None = None
        self.bytes_received = 0
        self._session = session or requests.Session()
        self._owns_session = session is None
        self._blocks: OrderedDict[int, bytes] = OrderedDict()
        self._position = 0
        self._next_sequential = -1
        self._read_ahead = 1
        self._lock = threading.Lock()
        self.size = -1

    def connect(self) -> None:
        """Fetch the first block, which tells the file's size and that Range requests work."""
        self._store(0, self._fetch(0, BLOCK_BYTES - 1))

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self.size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        with self._lock:
            count = max(0, min(len(view), self.size - self._position))
            if count == 0:
                return 0
            first = self._position // BLOCK_BYTES
            last = (self._position + count - 1) // BLOCK_BYTES
            self._load(first, last)
            written = 0
            for index in range(first, last + 1):
                block = self._blocks[index]
                start = self._position + written - index * BLOCK_BYTES
                piece = block[start : start + count - written]
                view[written : written + len(piece)] = piece
                written += len(piece)
            self._position += written
            self._evict()
            return written

    def close(self) -> None:
        if not self.closed and self._owns_session:
            self._session.close()
        self._blocks.clear()
        super().close()

    def _load(self, first: int, last: int) -> None:
        """Fetch the missing blocks of [first, last], one request per run, with sequential read-ahead."""
        last_block = (self.size - 1) // BLOCK_BYTES
        index = first
        while index <= last:
            if index in self._blocks:
                self._blocks.move_to_end(index)
                index += 1
                continue
            self._read_ahead = (
                min(2 * self._read_ahead, MAX_READ_AHEAD_BLOCKS) if index == self._next_sequential else 1
            )
            stop = max(last, min(index + self._read_ahead - 1, last_block))
            end = index
            while end < stop and end + 1 not in self._blocks:
                end += 1
            data = self._fetch(index * BLOCK_BYTES, min(self.size, (end + 1) * BLOCK_BYTES) - 1)
            for offset, block in enumerate(range(index, end + 1)):
                self._store(block, data[offset * BLOCK_BYTES : (offset + 1) * BLOCK_BYTES])
            self._next_sequential = end + 1
            index = end + 1

    def _store(self, index: int, data: bytes) -> None:
        self._blocks[index] = data
        self._blocks.move_to_end(index)

    def _evict(self) -> None:
        while len(self._blocks) > CACHE_BLOCKS:
            self._blocks.popitem(last=False)

    def _fetch(self, start: int, stop: int) -> bytes:
        """Bytes [start, stop] (inclusive), retried; the first call also learns the file's size.

        After a failure every later read fails at once: h5py may try again, the network will not.
        """
        if self.failure is not None:
            raise OSError(self.failure)
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return self._request(start, stop)
            except requests.RequestException as error:
                if isinstance(error, _TRANSIENT) and attempt < ATTEMPTS:
                    time.sleep(0.5 * attempt)
                    continue
                self.failure = (
                    f"{self.remote}: streaming from {urlsplit(self.remote.url).netloc} failed after "
                    f"{attempt} tries ({type(error).__name__}); check the connection and run again, "
                    "or drop --stream to download the file instead"
                )
                raise OSError(self.failure) from None
        raise AssertionError("unreachable")

    def _request(self, start: int, stop: int) -> bytes:
        headers = {"Range": f"bytes={start}-{stop}"}
        with self._session.get(self.remote.url, headers=headers, stream=True, timeout=TIMEOUT_S) as response:
            if response.status_code != 206:  # checked before the body: a 200 would be the whole file
                ignored = " (it does not serve parts of files)" if response.status_code == 200 else ""
                self._fail(f"the server answered {response.status_code} to a Range request{ignored}")
            if self.size < 0:
                total = response.headers.get("Content-Range", "").rpartition("/")[2]
                if not total.isdigit():
                    self._fail("the server did not give the file's size (Content-Range)")
                self.size = int(total)
            data = response.content
        self.bytes_received += len(data)
        if len(data) != min(stop, self.size - 1) - start + 1:
            self._fail(f"the server sent {len(data)} bytes for bytes {start}-{stop}")
        return data

    def _fail(self, problem: str) -> None:
        self.failure = f"{self.remote}: {problem}; drop --stream to download the file instead"
        raise OSError(self.failure)


@contextlib.contextmanager
def open_remote(remote: RemoteFile) -> Iterator[RangeReader]:
    """Open `remote` for reading; a network failure inside the block becomes one SourceError line."""
    reader = RangeReader(remote)
    try:
        reader.connect()
        yield reader
    except Exception:
        if reader.failure is not None:
            raise SourceError(reader.failure) from None
        raise
    finally:
        reader.close()
