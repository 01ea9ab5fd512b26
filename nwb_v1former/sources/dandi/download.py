"""Download one DANDI asset into the cache: resumable, verified against its DANDI digest, done once.

Bytes go to `<file>.partial`; an interrupted download keeps it and the next run asks the server for
the rest (HTTP Range). The digest is computed while the bytes arrive, and the file is renamed into
place only when it matches. One process at a time downloads an asset into a cache (a lock beside it).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import requests
from tqdm.auto import tqdm

from nwb_v1former.errors import SourceError
from nwb_v1former.lock import exclusive
from nwb_v1former.sources.dandi.asset import DandiAsset
from nwb_v1former.sources.dandi.cache import (
    EtagHasher,
    cache_path,
    file_etag,
    hash_file,
    is_verified,
    mark_verified,
)

ATTEMPTS = 3
"""Connections tried per download run; each one resumes where the last stopped."""
CHUNK_BYTES = 2**16
"""Bytes per write; an interruption loses at most the chunk under way."""
TIMEOUT_S = (10.0, 60.0)
INTERRUPTIONS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)
"""Failures a download is retried after, resuming where it stopped."""


def fetch_asset(asset: DandiAsset, cache: Path, session: requests.Session, *, progress: bool) -> Path:
    """The asset's verified file in the cache, downloaded or resumed if needed.

    A file already verified (and unchanged since) is returned without reading it; a file without a
    record is hashed once; a file that does not match the digest is downloaded again.
    """
    target = cache_path(cache, asset)
    with exclusive(target):  # a second process downloading the asset waits, then finds it verified
        return _fetch_locked(asset, target, session, progress)


def _fetch_locked(asset: DandiAsset, target: Path, session: requests.Session, progress: bool) -> Path:
    """`fetch_asset` with the asset's lock held: the checks see what an earlier holder left."""
    if target.is_file():
        if is_verified(target, asset.digest):
            return target
        if target.stat().st_size == asset.size and file_etag(target) == asset.digest:
            mark_verified(target, asset.digest)
            return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    digest = _download(asset, partial, session, progress)
    if digest != asset.digest:
        partial.unlink()
        raise SourceError(
            f"the downloaded file does not match its DANDI digest (expected {asset.digest}, "
            f"got {digest}); it was deleted: run again to download it afresh",
            where=asset,
        )
    os.replace(partial, target)
    mark_verified(target, asset.digest)
    return target


def _download(asset: DandiAsset, partial: Path, session: requests.Session, progress: bool) -> str:
    """Fill `partial` up to the asset's size, resuming what is there; returns the dandi-etag of it all."""
    have = partial.stat().st_size if partial.is_file() else 0
    if have > asset.size:
        partial.unlink()
        have = 0
    partial.touch()
    hasher = hash_file(partial, EtagHasher(asset.size))
    failures = 0
    with tqdm(
        total=asset.size,
        initial=have,
        desc=partial.name.removesuffix(".partial"),
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        disable=not progress,
        leave=False,
    ) as bar:
        while have < asset.size:
            try:
                with session.get(
                    asset.download_url,
                    headers={"Range": f"bytes={have}-"} if have else None,
                    stream=True,
                    timeout=TIMEOUT_S,
                ) as response:
                    if response.status_code not in (200, 206):
                        raise SourceError(
                            f"the download answered HTTP {response.status_code}; "
                            "check access (DANDI_API_KEY for an embargoed dandiset) and try again",
                            where=asset,
                        )
                    if have and response.status_code == 200:  # the server ignored Range: start over
                        have, hasher = 0, EtagHasher(asset.size)
                        bar.reset(total=asset.size)
                    with open(partial, "ab" if have else "wb") as out:
                        for chunk in response.iter_content(CHUNK_BYTES):
                            if have + len(chunk) > asset.size:
                                raise SourceError(
                                    f"the server sent more than the asset's {asset.size} bytes", where=asset
                                )
                            out.write(chunk)
                            hasher.update(chunk)
                            have += len(chunk)
                            bar.update(len(chunk))
                        out.flush()
                        os.fsync(out.fileno())
                if have < asset.size:
                    raise requests.exceptions.ChunkedEncodingError("the response ended early")
            except INTERRUPTIONS as error:
                failures += 1
                if failures == ATTEMPTS:
                    raise SourceError(
                        f"download interrupted at {have:,} of {asset.size:,} bytes "
                        f"({type(error).__name__}); the partial file is kept: run again to resume",
                        where=asset,
                    ) from None
                time.sleep(0.5 * failures)
    return hasher.hexdigest()
