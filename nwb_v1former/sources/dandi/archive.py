"""Talk to a DANDI API server through the dandi client: connect, pick the version, list the NWB assets
(files and Zarr folders) and a Zarr's files, look an asset up by path.

Every failure the user can act on (unknown dandiset or version, no published version, refused API key,
unreachable server) becomes one SourceError line. The API key is read from DANDI_API_KEY and handed to
the client; it never appears in a message.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests
from dandi.consts import DRAFT, EmbargoStatus
from dandi.dandiapi import DandiAPIClient, RemoteAsset, RemoteDandiset, RemoteZarrAsset
from dandi.exceptions import NotFoundError

from nwb_v1former.errors import SourceError, one_line
from nwb_v1former.sources.dandi.asset import DandiAsset, ZarrFile
from nwb_v1former.sources.dandi.quiet import quiet_dandi
from nwb_v1former.sources.dandi.reference import DandiRef

API_URL_ENV = "NWB_V1FORMER_DANDI_API_URL"
"""Environment variable naming another DANDI instance's API (like --dandi-api-url)."""
API_KEY_ENV = "DANDI_API_KEY"
"""Environment variable holding the API key for embargoed dandisets."""
_VERSION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
TIMEOUT_S = (10, 60)
"""Seconds to wait for a DANDI server to accept a connection, then for each answer: no wait is unbounded."""


class _BoundedWaits(requests.adapters.HTTPAdapter):
    """Every request of the dandi client's session waits at most TIMEOUT_S (the client sets none)."""

    def send(self, request: requests.PreparedRequest, **options: object) -> requests.Response:
        if options.get("timeout") is None:
            options["timeout"] = TIMEOUT_S
        return super().send(request, **options)


def api_url_for(ref: DandiRef, api_url: str | None) -> str | None:
    """The API to ask: the option, else the environment variable, else the server a URL named."""
    return api_url or os.environ.get(API_URL_ENV) or ref.api_url


@contextlib.contextmanager
def connect(api_url: str | None) -> Iterator[DandiAPIClient]:
    """A dandi client for `api_url` (None: the main archive), authenticated when DANDI_API_KEY is set."""
    os.environ.setdefault("DANDI_NO_ET", "1")  # no version-check call to a third server
    where = api_url or "the DANDI archive"
    token = os.environ.get(API_KEY_ENV) or None
    try:
        with quiet_dandi():
            client = DandiAPIClient(api_url=api_url)
    except Exception as error:  # dandi raises RuntimeError/ValueError/HTTP errors for a bad server
        raise SourceError(
            f"not a DANDI API server that answers ({_first_line(error)}); check --dandi-api-url", where=where
        ) from None
    with client:
        for prefix in ("http://", "https://"):
            client.session.mount(prefix, _BoundedWaits())
        if token is not None:
            try:
                with quiet_dandi():
                    client.authenticate(token)
            except requests.HTTPError as error:
                status = getattr(error.response, "status_code", None)
                raise SourceError(
                    f"the API key in {API_KEY_ENV} was refused (HTTP {status}); "
                    "check that it is this server's key",
                    where=where,
                ) from None
            except requests.RequestException as error:
                problem = f"cannot reach it ({type(error).__name__})"
                raise SourceError(f"{problem}; check the connection", where=where) from None
        yield client


def open_version(client: DandiAPIClient, ref: DandiRef) -> RemoteDandiset:
    """The dandiset at the version `ref` asks for: by default its most recent published version, else
    (unpublished, as a lab's own data often is) its draft, as the dandi client resolves it; or the draft
    or a given version."""
    with quiet_dandi(), _api_errors(ref, client):
        try:
            dandiset = client.get_dandiset(ref.dandiset_id, lazy=False)
        except NotFoundError:
            raise SourceError(
                f"no dandiset {ref.dandiset_id} on {client.api_url}; check the id"
                f"{'' if os.environ.get(API_KEY_ENV) else f' (embargoed? set {API_KEY_ENV})'}",
                where=ref,
            ) from None
        if ref.version is None and dandiset.most_recent_published_version is not None:
            chosen = dandiset
        elif ref.version in (None, DRAFT):
            chosen = dandiset.for_version(dandiset.draft_version)
        else:
            try:
                chosen = dandiset.for_version(ref.version)
            except NotFoundError:
                published = [str(v) for v in dandiset.get_versions() if str(v) != DRAFT]
                raise SourceError(
                    f"dandiset {ref.dandiset_id} has no version {ref.version!r}; published: "
                    f"{', '.join(published) or 'none'} (or @draft)",
                    where=ref,
                ) from None
    if not _VERSION_NAME.fullmatch(chosen.version_id) or ".." in chosen.version_id:
        raise SourceError(
            f"the server named a version {chosen.version_id!r}: not a safe folder name", where=ref
        )
    return chosen


def nwb_assets(dandiset: RemoteDandiset, ref: DandiRef) -> list[RemoteAsset]:
    """The NWB assets `ref` selects, by path: every one, a glob's matches, or a file or folder's. An NWB
    asset is an .nwb file (HDF5) or an .nwb.zarr Zarr folder, the two forms the archive takes."""
    pattern = ref.pattern
    with quiet_dandi(), _api_errors(ref, dandiset.client):
        if pattern is None:
            found = list(dandiset.get_assets())
        elif _is_glob(pattern):
            found = list(dandiset.get_assets_by_glob(pattern))
        else:  # an asset's path, or a folder: the server matches a prefix, we keep whole path parts
            folder = pattern.rstrip("/") + "/"
            candidates = dandiset.get_assets_with_path_prefix(pattern.rstrip("/"))
            found = [a for a in candidates if a.path == pattern or a.path.startswith(folder)]
    assets = sorted((a for a in found if _is_nwb(a)), key=lambda a: a.path)
    if not assets:
        what = "no .nwb or .nwb.zarr asset" + ("" if pattern is None else f" matching {pattern!r}")
        raise SourceError(
            f"version {dandiset.version_id} of dandiset {ref.dandiset_id} has {what}; check the path or glob",
            where=ref,
        )
    return assets


def asset_at(dandiset: RemoteDandiset, path: str, ref: DandiRef) -> RemoteAsset | None:
    """The asset of the version at `path` (a normalised asset path), or None where it has none."""
    with quiet_dandi(), _api_errors(ref, dandiset.client):
        try:
            return dandiset.get_asset_by_path(path)
        except NotFoundError:
            return None


def describe(asset: RemoteAsset, dandiset: RemoteDandiset, ref: DandiRef) -> DandiAsset:
    """Our record of one asset, with its digest (one metadata request): a file's dandi-etag, a Zarr's
    dandi-zarr-checksum."""
    with quiet_dandi(), _api_errors(ref, dandiset.client):
        try:
            digest = asset.get_raw_digest()
        except NotFoundError:
            raise SourceError(
                f"the asset {asset.path} has no {asset.digest_type.value} digest to verify a download "
                "against",
                where=ref,
            ) from None
    return DandiAsset(
        dandiset_id=dandiset.identifier,
        version=dandiset.version_id,
        path=asset.path,
        asset_id=asset.identifier,
        size=asset.size,
        digest=digest,
        download_url=asset.base_download_url,
        api_url=dandiset.client.api_url,
        zarr=asset.zarr if isinstance(asset, RemoteZarrAsset) else None,
    )


def zarr_files(asset: RemoteZarrAsset, ref: DandiRef) -> list[ZarrFile]:
    """Every file of a Zarr asset as the archive lists them (the dandi client's `iterfiles`, paged)."""
    with quiet_dandi(), _api_errors(ref, asset.client):
        return [ZarrFile(str(f), f.size, f.digest.value, f.download_url) for f in asset.iterfiles()]


def content_url(client: DandiAPIClient, asset: DandiAsset, dandiset: RemoteDandiset) -> str:
    """Where the asset's bytes are served (the API's download redirect), for reading in place.

    Only the API is asked (a HEAD, not followed: a signed storage link may not answer HEAD). The query
    is dropped for an open dandiset (a plain, lasting URL) and kept for an embargoed one, whose link
    is signed and only works with it.
    """
    try:
        response = client.session.head(asset.download_url, allow_redirects=False, timeout=30)
        response.raise_for_status()
    except requests.RequestException as error:
        raise SourceError(f"no location for the file's bytes ({_first_line(error)})", where=asset) from None
    if not response.is_redirect:  # the API serves the bytes itself
        return asset.download_url
    location = urljoin(asset.download_url, response.headers["Location"])
    if dandiset.embargo_status is not EmbargoStatus.OPEN:
        return location
    return urlunsplit(urlsplit(location)._replace(query="", fragment=""))


@contextlib.contextmanager
def _api_errors(ref: DandiRef, client: DandiAPIClient) -> Iterator[None]:
    """HTTP and connection failures of the dandi client as one SourceError line."""
    try:
        yield
    except requests.HTTPError as error:
        status = getattr(error.response, "status_code", None)
        advice = (
            f"the dandiset may be embargoed: set {API_KEY_ENV} to an API key with access"
            if status in (401, 403)
            else "try again later"
        )
        raise SourceError(f"{client.api_url} answered HTTP {status}; {advice}", where=ref) from None
    except requests.Timeout:
        raise SourceError(
            f"{client.api_url} did not answer within {TIMEOUT_S[1]} s; check the connection or "
            "try again later",
            where=ref,
        ) from None
    except requests.RequestException as error:
        raise SourceError(
            f"cannot reach {client.api_url} ({type(error).__name__}); check the connection", where=ref
        ) from None


def _is_nwb(asset: RemoteAsset) -> bool:
    suffix = ".nwb.zarr" if isinstance(asset, RemoteZarrAsset) else ".nwb"
    return asset.path.lower().endswith(suffix)


def _is_glob(pattern: str) -> bool:
    return any(character in pattern for character in "*?[")


def _first_line(error: BaseException) -> str:
    return one_line(str(error)) or type(error).__name__
