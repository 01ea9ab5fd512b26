"""Predictions for many sessions at once (a folder or a dandiset): one NWB file per session in a folder.

DANDI assets are downloaded into the cache and their predictions written to OUT/<asset path>, never
into the download cache (a later download could skip or clobber them). Local files go to
OUT/<file name>. Sessions without a movie or without ROI responses are skipped, one line each.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from nwb_v1former.atomic import check_apart
from nwb_v1former.errors import MissingDataError, SessionError
from nwb_v1former.nwb.choices import READER_DEFAULTS, ReaderChoices
from nwb_v1former.nwb.derived import DEFAULT_COPY
from nwb_v1former.nwb.write import DEFAULT_NAME
from nwb_v1former.pipeline.predict import PredictionResult, predict
from nwb_v1former.sources import ResolvedSource, local_sources, resolve_sources


def output_for(item: ResolvedSource, out: Path) -> Path:
    """Where one session's predictions go: the asset path (checked safe by the resolver) or the name."""
    return out / (item.asset.path if item.asset is not None else Path(str(item.file)).name)


def predict_sources(
    checkpoint: str | Path,
    sources: list[str],
    out: str | Path,
    *,
    cache_dir: str | Path | None = None,
    api_url: str | None = None,
    on_skip: Callable[[str], None] | None = None,
    copy: str = DEFAULT_COPY,
    name: str = DEFAULT_NAME,
    session: str | None = None,
    choices: ReaderChoices = READER_DEFAULTS,
    overwrite: bool = False,
    device: str | None = None,
    precision: str = "auto",
    progress: bool = True,
) -> list[PredictionResult]:
    """`predict` for every session of `sources` into the folder `out` (DANDI assets from `cache_dir` of
    the instance at `api_url`); `copy` to `progress` as for `predict`, the same for every session.

    `out` may not overlap a local source (predictions inside it would be read as sessions next time).
    """
    check_apart(out, local_sources(sources))
    resolved = resolve_sources(
        sources, cache_dir=cache_dir, api_url=api_url, progress=progress, on_note=on_skip
    )
    results = []
    for item in resolved:
        try:
            result = predict(
                checkpoint,
                item.file,
                output_for(item, Path(out)),
                copy=copy,
                name=name,
                session=session,
                choices=choices,
                overwrite=overwrite,
                device=device,
                precision=precision,
                progress=progress,
            )
            results.append(result)
        except SessionError as error:
            if item.asset is None or not isinstance(error, MissingDataError):
                raise
            if on_skip is not None:
                on_skip(f"skipped {error}")
    if not results:
        raise SessionError("no session with a movie and ROI responses to predict", where=", ".join(sources))
    return results
