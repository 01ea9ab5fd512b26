"""Download one Zarr asset (an .nwb.zarr folder) into the cache, as the dandi client does: every file the
archive lists, each checked against its MD5 as it arrives, then the whole against the checksum DANDI
records for the Zarr (dandi-zarr-checksum, which zarr-checksum builds from those MD5s).

Files go into `<folder>.partial/`. An interrupted or refused download keeps the files that arrived
whole, and the next run fetches only the rest; the folder is renamed into place only once the checksum
matches, so a half-downloaded Zarr never looks complete. One process at a time per asset (a lock).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import requests
from tqdm.auto import tqdm
from zarr_checksum import compute_zarr_checksum
from zarr_checksum.generators import ZarrArchiveFile

from nwb_v1former.errors import SourceError
from nwb_v1former.lock import exclusive
from nwb_v1former.sources.dandi.asset import DandiAsset, ZarrFile
from nwb_v1former.sources.dandi.cache import READ_BYTES, cache_path, is_inside, is_verified, mark_verified
from nwb_v1former.sources.dandi.download import ATTEMPTS, CHUNK_BYTES, INTERRUPTIONS, TIMEOUT_S

ZARR_JOBS = 4
"""Files downloaded at once (the dandi client's default per Zarr): a Zarr is many small files."""


def fetch_zarr(
    asset: DandiAsset,
    listing: Callable[[], list[ZarrFile]],
    cache: Path,
    session: requests.Session,
    *,
    progress: bool,
) -> Path:
    """The asset's verified Zarr folder in the cache, downloaded or completed if needed.

    A folder already verified (and unchanged since) is returned without asking for its `listing`; one
    without a record, or changed, is completed like a partial download: its files that still match
    their MD5 are kept, the others fetched again.
    """
    target = cache_path(cache, asset)
    with exclusive(target):
        if is_verified(target, asset.digest):
            return target
        partial = target.with_name(target.name + ".partial")
        if target.is_dir():
            shutil.rmtree(partial, ignore_errors=True)
            os.replace(target, partial)
        files = listing()
        for file in files:
            if not is_inside(file.path):
                raise SourceError(
                    f"the server listed a Zarr file {file.path!r}, which would leave the Zarr folder; "
                    "refused (report it to the server's administrators)",
                    where=asset,
                )
        partial.mkdir(parents=True, exist_ok=True)
        _remove_unlisted(partial, files)
        _download_files(asset, files, partial, session, progress)
        checksum = compute_zarr_checksum(ZarrArchiveFile(Path(f.path), f.size, f.md5) for f in files).digest
        if checksum != asset.digest:
            raise SourceError(
                f"the Zarr's files, each matching its MD5, do not give its DANDI checksum (expected "
                f"{asset.digest}, got {checksum}): the archive's listing and checksum disagree (a Zarr being "
                "changed?); the files are kept: try again later",
                where=asset,
            )
        os.replace(partial, target)
        mark_verified(target, asset.digest)
    return target


def _download_files(
    asset: DandiAsset, files: list[ZarrFile], folder: Path, session: requests.Session, progress: bool
) -> None:
    """Every listed file into `folder`, ZARR_JOBS at a time; the first failure cancels the rest."""
    with (
        tqdm(
            total=asset.size,
            desc=Path(asset.path).name,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            disable=not progress,
            leave=False,
        ) as bar,
        ThreadPoolExecutor(ZARR_JOBS) as pool,
    ):
        futures = [pool.submit(_fetch_file, asset, file, folder, session, bar) for file in files]
        try:
            for future in as_completed(futures):
                future.result()
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def _fetch_file(
    asset: DandiAsset, file: ZarrFile, folder: Path, session: requests.Session, bar: tqdm
) -> None:
    """One Zarr file, kept if already whole (right size and MD5), else downloaded and checked."""
    local = folder.joinpath(*file.path.split("/"))
    if local.is_file() and local.stat().st_size == file.size and _md5(local) == file.md5:
        bar.update(file.size)
        return
    local.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, ATTEMPTS + 1):
        received, digest = 0, hashlib.md5()
        try:
            with session.get(file.url, stream=True, timeout=TIMEOUT_S) as response:
                if response.status_code != 200:
                    raise SourceError(
                        f"the Zarr file {file.path} answered HTTP {response.status_code}; check access "
                        "(DANDI_API_KEY for an embargoed dandiset) and try again",
                        where=asset,
                    )
                with open(local, "wb") as out:
                    for chunk in response.iter_content(CHUNK_BYTES):
                        out.write(chunk)
                        digest.update(chunk)
                        received += len(chunk)
                        bar.update(len(chunk))
            break
        except INTERRUPTIONS as error:
            bar.update(-received)
            if attempt == ATTEMPTS:
                raise SourceError(
                    f"download of the Zarr file {file.path} interrupted ({type(error).__name__}); the files "
                    "that arrived whole are kept: run again to resume",
                    where=asset,
                ) from None
            time.sleep(0.5 * attempt)
    got = digest.hexdigest()
    if got != file.md5:
        local.unlink()
        raise SourceError(
            f"the Zarr file {file.path} does not match its MD5 (expected {file.md5}, got {got}); it was "
            "deleted: run again to download it afresh",
            where=asset,
        )


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        while block := handle.read(READ_BYTES):
            digest.update(block)
    return digest.hexdigest()


def _remove_unlisted(folder: Path, files: list[ZarrFile]) -> None:
    """Delete files under `folder` the listing does not name (left by an earlier state of the Zarr): the
    checksum covers every file, so an extra one would make a complete Zarr look damaged."""
    listed = {file.path for file in files}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.relative_to(folder).as_posix() not in listed:
            path.unlink()
