"""One NWB asset of a dandiset version: what identifies it (for provenance) and where it is served."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DandiAsset:
    """An asset of a resolved dandiset version.

    `digest` is its dandi-etag (what a download is verified against); `download_url` answers with the
    file's bytes (after a redirect) and honours HTTP Range.
    """

    dandiset_id: str
    version: str
    path: str
    asset_id: str
    size: int
    digest: str
    download_url: str
    api_url: str

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
