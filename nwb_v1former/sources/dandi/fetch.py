"""A DandiRef -> its NWB assets, each as a verified file in the cache or, streaming, a RemoteFile."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from dandi.consts import DRAFT

from nwb_v1former.nwb.remote import RemoteFile
from nwb_v1former.sources.dandi.archive import (
    api_url_for,
    connect,
    content_url,
    describe,
    nwb_assets,
    open_version,
)
from nwb_v1former.sources.dandi.asset import DandiAsset
from nwb_v1former.sources.dandi.cache import cache_path, cache_root
from nwb_v1former.sources.dandi.download import fetch_asset
from nwb_v1former.sources.dandi.reference import DandiRef


def fetch_dandi(
    ref: DandiRef,
    *,
    cache_dir: str | Path | None = None,
    stream: bool = False,
    api_url: str | None = None,
    progress: bool = True,
    on_note: Callable[[str], None] | None = None,
) -> list[tuple[DandiAsset, Path | RemoteFile]]:
    """Resolve `ref` on its server and make each selected .nwb asset readable, in asset-path order.

    Downloading (the default) leaves verified files under the cache folder (see `cache_root`);
    `stream=True` downloads nothing and returns RemoteFiles read in place. Every asset path is
    checked before anything is written, so a hostile path stops the run before the first byte.
    An unpublished dandiset resolves to its draft, which `on_note` is told can change.
    """
    cache = cache_root(cache_dir)
    with connect(api_url_for(ref, api_url)) as client:
        dandiset = open_version(client, ref)
        if ref.version is None and dandiset.version_id == DRAFT and on_note is not None:
            on_note(
                f"{ref}: no published version, so its draft is used; a draft can change (each asset's "
                "digest is recorded with the session)"
            )
        assets = [describe(asset, dandiset, ref) for asset in nwb_assets(dandiset, ref)]
        for asset in assets:
            cache_path(cache, asset)
        if stream:
            return [(asset, RemoteFile(content_url(client, asset, dandiset), str(asset))) for asset in assets]
        return [(asset, fetch_asset(asset, cache, client.session, progress=progress)) for asset in assets]
