"""One asset of a dandiset version: what identifies it (for provenance) and where it is served."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DandiAsset:
    """An asset of a resolved dandiset version: a file (a blob) or, when `zarr` holds its Zarr id, a
    Zarr folder.

    `digest` is what a download is verified against: a blob's dandi-etag, a Zarr's dandi-zarr-checksum.
    A blob's `download_url` answers with the file's bytes (after a redirect) and honours HTTP Range.
    """

    dandiset_id: str
    version: str
    path: str
    asset_id: str
    size: int
    digest: str
    download_url: str
    api_url: str
    zarr: str | None = None

    def __str__(self) -> str:
        return f"dandiset:{self.dandiset_id}@{self.version}/{self.path}"

    def provenance(self) -> dict[str, str]:
        """What meta.json records about where a session came from."""
        return {
            "dandiset": self.dandiset_id,
            "version": self.version,
            "asset_path": self.path,
            "asset_id": self.asset_id,
            "digest": self.digest,
            "dandi_api": self.api_url,
        }


@dataclass(frozen=True)
class ZarrFile:
    """One file of a Zarr asset, as the archive lists it: its path inside the Zarr, size, MD5 (what the
    Zarr's checksum is built from) and the URL that answers with its bytes (after a redirect)."""

    path: str
    size: int
    md5: str
    url: str
