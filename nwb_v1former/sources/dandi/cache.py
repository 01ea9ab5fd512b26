"""The download cache: `<cache>/<dandiset>/<version>/<asset path>`, and a record of verified assets.

An asset once checked against its DANDI digest gets a small sidecar (`.<name>.verified.json`) holding
its size, modification time and digest (for a Zarr folder: a digest of every file's path, size and
modification time); while they still match, the asset is not read again.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path, PurePosixPath

from dandischema.digests.dandietag import DandiETag

from nwb_v1former.atomic import atomic_output
from nwb_v1former.errors import SourceError
from nwb_v1former.sources.dandi.asset import DandiAsset

CACHE_ENV = "NWB_V1FORMER_CACHE"
"""Environment variable: the project's cache folder (DANDI downloads go to its `dandi` subfolder)."""
READ_BYTES = 8 * 2**20


def cache_root(cache_dir: str | Path | None = None) -> Path:
    """The folder DANDI assets are downloaded into: `cache_dir`, else $NWB_V1FORMER_CACHE/dandi, else
    the user's cache folder ($XDG_CACHE_HOME or ~/.cache) /nwb-v1former/dandi."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser() / "dandi"
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "nwb-v1former" / "dandi"


def is_inside(path: str) -> bool:
    """Whether a slash-separated path from a server stays inside the folder it is joined to: relative,
    with no empty, `.` or `..` part, no backslash and no drive."""
    return not (
        not path
        or PurePosixPath(path).is_absolute()
        or "\\" in path
        or re.match(r"[A-Za-z]:", path) is not None
        or any(part in ("", ".", "..") for part in path.split("/"))
    )


def cache_path(cache: Path, asset: DandiAsset) -> Path:
    """Where an asset lives in the cache; SourceError for an asset path that would leave it."""
    path = asset.path
    if not is_inside(path):
        raise SourceError(
            f"dandiset:{asset.dandiset_id}@{asset.version}: the server gave the asset path {path!r}, which "
            f"would leave the cache folder {cache}; refused (report it to the server's administrators)"
        )
    return cache.joinpath(asset.dandiset_id, asset.version, *path.split("/"))


def _sidecar(path: Path) -> Path:
    return path.with_name(f".{path.name}.verified.json")


def _record(path: Path, digest: str) -> dict:
    if path.is_dir():
        return {**_tree_record(path), "dandi_zarr_checksum": digest}
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "dandi_etag": digest}


def _tree_record(folder: Path) -> dict:
    """A Zarr folder's files, sizes and modification times in a few numbers: any change to a file changes
    them, and only `stat` is asked (a Zarr may hold many thousands of files)."""
    listing = hashlib.sha256()
    files = size = 0
    for root, folders, names in os.walk(folder):
        folders.sort()
        for name in sorted(names):
            stat = os.stat(os.path.join(root, name))
            relative = os.path.relpath(os.path.join(root, name), folder)
            listing.update(f"{relative}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
            files, size = files + 1, size + stat.st_size
    return {"files": files, "size": size, "tree": listing.hexdigest()}


def is_verified(path: Path, digest: str) -> bool:
    """Whether `path` (a file or a Zarr folder) was verified against `digest` and has not changed since
    (sizes and modification times)."""
    try:
        return json.loads(_sidecar(path).read_text()) == _record(path, digest)
    except (OSError, ValueError):
        return False


def mark_verified(path: Path, digest: str) -> None:
    """Record that `path`, as it is now, matches `digest`."""
    with atomic_output(_sidecar(path), overwrite=True) as temporary:
        temporary.write_text(json.dumps(_record(path, digest)))


class EtagHasher:
    """The dandi-etag of a file fed in order, in chunks of any size.

    dandischema's DandiETag (dandi's own digest code) hashes the parts; this only gathers each part's
    bytes first, since feeding DandiETag chunk by chunk re-copies the growing part on every chunk.
    """

    def __init__(self, size: int) -> None:
        self._etag = DandiETag(size)
        self._pending: list[bytes] = []
        self._pending_bytes = 0

    def update(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            part = self._etag.get_next_part()
            if part is None:
                raise ValueError("more bytes than the file's size")
            take = min(len(view), part.size - self._pending_bytes)
            self._pending.append(bytes(view[:take]))
            self._pending_bytes += take
            view = view[take:]
            if self._pending_bytes == part.size:
                self._etag.update(b"".join(self._pending))
                self._pending, self._pending_bytes = [], 0

    def hexdigest(self) -> str:
        return self._etag.as_str()


def hash_file(path: Path, hasher: EtagHasher) -> EtagHasher:
    """Feed a file's bytes to `hasher`, block by block."""
    with open(path, "rb") as handle:
        while block := handle.read(READ_BYTES):
            hasher.update(block)
    return hasher


def file_etag(path: Path) -> str:
    """The dandi-etag digest of a whole file."""
    return hash_file(path, EtagHasher(path.stat().st_size)).hexdigest()
