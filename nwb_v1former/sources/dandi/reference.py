"""DANDI SOURCE strings -> a DandiRef: which dandiset, which version, which assets, on which server.

Accepted: `dandiset:000123[@version][/glob]`, `DANDI:000123[/version]`, archive URLs
(https://dandiarchive.org/dandiset/000123[/version][/files?location=...]) and `dandi://` URLs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nwb_v1former.errors import SourceError, one_line
from nwb_v1former.sources.dandi.quiet import quiet_dandi

FORMS = "dandiset:000123[@version][/glob], DANDI:000123[/version], an archive URL or dandi://..."
_ID = re.compile(r"\d{6}")
_SHORT = re.compile(r"dandiset:(?P<id>[^@/]*)(?:@(?P<version>[^/]*))?(?:/(?P<pattern>.*))?", re.IGNORECASE)
_DANDI = re.compile(r"DANDI:(?P<id>[^/]*)(?:/(?P<version>[^/]+))?/?", re.IGNORECASE)
_BARE = re.compile(r"(?P<id>\d{6})(?P<rest>(?:@[^/]*)?(?:/.*)?)")
_VERSION = re.compile(r"draft|\d+\.\d{6}\.\d{4}", re.IGNORECASE)
"""A dandiset version: draft, or a published one (0.YYMMDD.NNNN)."""
_URL_PREFIXES = ("dandi://", "http://", "https://")
_ARCHIVE_URL = re.compile(r"https?://[^/]+(/api)?/(#/)?dandisets?/", re.IGNORECASE)
"""URLs of a dandiset on an archive or its API; other URLs are refused without asking any server."""
_URL_PARTS = re.compile(
    r"(?:https?://[^/]+(?:/api)?/(?:#/)?dandisets?/|dandi://[^/]+/)(?P<id>[^/@?#]*)"
    r"(?:(?:@|/versions/|/)(?P<version>[^/?#]*))?",
    re.IGNORECASE,
)
"""The dandiset id and version a URL names, checked here before dandi's parser asks any server."""


@dataclass(frozen=True)
class DandiRef:
    """A parsed DANDI SOURCE.

    version: None for the latest published version, "draft", or a published version id.
    pattern: a glob over asset paths, an asset path, or a folder of assets; None for every .nwb asset.
    api_url: the API of the server a URL named; None for the default (or --dandi-api-url).
    """

    dandiset_id: str
    version: str | None = None
    pattern: str | None = None
    api_url: str | None = None

    def __str__(self) -> str:
        version = f"@{self.version}" if self.version else ""
        pattern = f"/{self.pattern}" if self.pattern else ""
        return f"dandiset:{self.dandiset_id}{version}{pattern}"


def is_dandi_source(text: str) -> bool:
    """Whether a SOURCE names DANDI (any accepted form) rather than a local path."""
    lowered = text.lower()
    return lowered.startswith(("dandiset:", "dandi:", *_URL_PREFIXES))


def refuse_bare_id(text: str) -> None:
    """SourceError pointing at the right form for a bare id such as `000123` or `000123@draft/sub-01`."""
    match = _BARE.fullmatch(text)
    if match is not None:
        raise SourceError(
            f"a bare dandiset id; write dandiset:{match['id']}{match['rest']} "
            "(or give the path of an .nwb file or folder)",
            where=text,
        )


def parse_source(text: str) -> DandiRef:
    """Parse a DANDI SOURCE; SourceError, with the accepted forms, for anything else."""
    short = _SHORT.fullmatch(text)
    if short is not None:
        return _ref(text, short["id"], short["version"], short["pattern"])
    doi = _DANDI.fullmatch(text)
    if doi is not None:
        return _ref(text, doi["id"], doi["version"], None)
    if text.lower().startswith("dandi://") or _ARCHIVE_URL.match(text):
        return _parse_url(text)
    refuse_bare_id(text)
    raise SourceError(f"not a DANDI source; use {FORMS}", where=text)


def _ref(
    text: str, dandiset_id: str, version: str | None, pattern: str | None, api_url: str | None = None
) -> DandiRef:
    if not _ID.fullmatch(dandiset_id or ""):
        raise SourceError(f"a dandiset id has six digits (e.g. dandiset:000123); use {FORMS}", where=text)
    if version is not None and not version:
        raise SourceError("empty version after '@'; write @draft or a published version", where=text)
    if version is not None and not _VERSION.fullmatch(version):
        raise SourceError(
            f"{version!r} is not a dandiset version; write draft or a published version "
            "such as 0.230101.1200",
            where=text,
        )
    pattern = (pattern or "").lstrip("/") or None
    return DandiRef(dandiset_id, version, pattern, api_url)


def _parse_url(text: str) -> DandiRef:
    """Archive and dandi:// URLs through dandi's own parser (which may ask the named server for its API),
    once the dandiset id and version they name are checked here: a malformed URL never waits on a server."""
    from dandi.dandiarchive import AssetIDURL, BaseAssetIDURL, parse_dandi_url

    parts = _URL_PARTS.match(text)
    if parts is not None and parts["id"].lower() not in ("", "assets"):
        version = parts["version"] or None
        _ref(text, parts["id"], version if version not in ("files", "assets") else None, None)

    try:
        with quiet_dandi():
            parsed = parse_dandi_url(text)
    except Exception as error:  # dandi raises several types (unknown URL, server unreachable)
        reason = one_line(str(error)) or type(error).__name__
        raise SourceError(f"not a DANDI URL that can be read ({reason}); use {FORMS}", where=text) from None
    if isinstance(parsed, (AssetIDURL, BaseAssetIDURL)):
        raise SourceError(
            "asset-id URLs are not supported; give dandiset:ID[@version]/<asset path>", where=text
        )
    return _ref(
        text, parsed.dandiset_id or "", parsed.version_id, getattr(parsed, "path", None), parsed.instance.api
    )
