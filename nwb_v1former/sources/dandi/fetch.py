"""A DandiRef -> its NWB assets, each as a verified file (or Zarr folder) in the cache or, streaming, a
RemoteFile; with each .nwb file, the external videos its stimulus may need."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import partial
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
    zarr_files,
)
from nwb_v1former.sources.dandi.asset import DandiAsset
from nwb_v1former.sources.dandi.cache import cache_path, cache_root
from nwb_v1former.sources.dandi.download import fetch_asset
from nwb_v1former.sources.dandi.reference import DandiRef
from nwb_v1former.sources.dandi.videos import video_assets
from nwb_v1former.sources.dandi.zarr_download import fetch_zarr


def fetch_dandi(
    ref: DandiRef,
    *,
    cache_dir: str | Path | None = None,
    stream: bool = False,
    api_url: str | None = None,
    progress: bool = True,
    on_note: Callable[[str], None] | None = None,
) -> list[tuple[DandiAsset, Path | RemoteFile]]:
    """Resolve `ref` on its server and make each selected NWB asset readable, in asset-path order.

    Downloading (the default) leaves verified files under the cache folder (see `cache_root`), each
    .nwb file's external videos beside it at their asset paths (the cache mirrors them, so the paths the
    file writes resolve there). `stream=True` returns RemoteFiles read in place, the videos in `beside`;
    a Zarr asset cannot be read in place, so it is downloaded all the same, with a note. Every NWB asset
    path is checked before anything is written, so a hostile path stops the run before the first byte.
    An unpublished dandiset resolves to its draft, which `on_note` is told can change.
    """
    cache = cache_root(cache_dir)
    note = on_note or (lambda _: None)
    with connect(api_url_for(ref, api_url)) as client:
        dandiset = open_version(client, ref)
        if ref.version is None and dandiset.version_id == DRAFT:
            note(
                f"{ref}: no published version, so its draft is used; a draft can change (each asset's "
                "digest is recorded with the session)"
            )
        remotes = nwb_assets(dandiset, ref)
        assets = [describe(remote, dandiset, ref) for remote in remotes]
        for asset in assets:
            cache_path(cache, asset)
        fetched = []
        for remote, asset in zip(remotes, assets, strict=True):
            if asset.zarr is not None:  # a folder of files, which HTTP Range reads cannot open in place
                if stream:
                    note(
                        f"{asset}: a Zarr asset cannot be read in place, so it is downloaded into the cache "
                        f"instead ({asset.size / 2**20:.1f} MiB)"
                    )
                listing = partial(zarr_files, remote, ref)
                fetched.append((asset, fetch_zarr(asset, listing, cache, client.session, progress=progress)))
            elif stream:
                nwb = RemoteFile(content_url(client, asset, dandiset), str(asset))
                beside = [
                    (written, RemoteFile(content_url(client, video, dandiset), str(video)))
                    for written, video in video_assets(dandiset, ref, asset, nwb, note)
                ]
                fetched.append((asset, replace(nwb, beside=tuple(beside))))
            else:
                path = fetch_asset(asset, cache, client.session, progress=progress)
                for _, video in video_assets(dandiset, ref, asset, path, note):
                    fetch_asset(video, cache, client.session, progress=progress)
                fetched.append((asset, path))
        return fetched
