"""Every SOURCE a command takes -> the NWB files to read, one ResolvedSource per file.

A SOURCE is a local .nwb file or .nwb.zarr store, a folder of them, or a DANDI reference (see
`sources.dandi`); this is the one entry point `inspect`, `convert`, `finetune` and `predict` share.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from nwb_v1former.nwb.convert import SessionInput, is_session_folder, nwb_files
from nwb_v1former.nwb.discover import NWBSource
from nwb_v1former.sources.dandi.asset import DandiAsset
from nwb_v1former.sources.dandi.reference import is_dandi_source, parse_source, refuse_bare_id


@dataclass(frozen=True)
class ResolvedSource:
    """One NWB file to read: a local path or a RemoteFile, the SOURCE it came from and, for a DANDI
    asset, which one (dandiset, version, asset path and id: for provenance and mirrored outputs)."""

    file: NWBSource
    source: str
    asset: DandiAsset | None = None

    @property
    def session_input(self) -> SessionInput:
        """What `convert` takes: DANDI assets carry their origin; files found in a dandiset or a folder
        may be skipped when unusable (a raw companion file beside a processed one)."""
        if self.asset is None:
            return SessionInput(self.file, skip_unusable=is_session_folder(Path(self.source)))
        return SessionInput(self.file, origin=self.asset.provenance(), skip_unusable=True)


def local_sources(sources: Sequence[str | Path]) -> list[Path]:
    """The SOURCEs that are local paths (files or folders), not DANDI references."""
    return [Path(source) for source in sources if not is_dandi_source(str(source))]


def resolve_sources(
    sources: Sequence[str | Path],
    *,
    cache_dir: str | Path | None = None,
    stream: bool = False,
    api_url: str | None = None,
    progress: bool = True,
    on_note: Callable[[str], None] | None = None,
) -> list[ResolvedSource]:
    """Resolve SOURCEs in order: local files and folders as they are (folders expanded), DANDI
    references downloaded into the cache (or, with `stream`, read in place); duplicates dropped.
    `on_note` hears what the user should know (e.g. that an unpublished dandiset's draft is used, or
    what a folder holds besides NWB files)."""
    resolved: dict[NWBSource, ResolvedSource] = {}
    for source in sources:
        text = str(source)
        if isinstance(source, str) and is_dandi_source(text):
            from nwb_v1former.sources.dandi.fetch import fetch_dandi  # the dandi client loads on first use

            found = [
                ResolvedSource(file, text, asset)
                for asset, file in fetch_dandi(
                    parse_source(text),
                    cache_dir=cache_dir,
                    stream=stream,
                    api_url=api_url,
                    progress=progress,
                    on_note=on_note,
                )
            ]
        else:
            if not Path(text).exists():
                refuse_bare_id(text)
            found = [ResolvedSource(file, text) for file in nwb_files([source], on_skip=on_note)]
        for item in found:
            resolved.setdefault(item.file, item)
    return list(resolved.values())
