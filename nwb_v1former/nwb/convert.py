"""`convert`: NWB sessions -> the common dataset, one store folder per input file, written atomically."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from nwb_v1former.atomic import atomic_output
from nwb_v1former.errors import SessionError
from nwb_v1former.nwb.read import MAX_NAN_FRACTION, open_session, write_store


@dataclass(frozen=True)
class ConvertedSession:
    """One converted session: its key (folder name), folder and size."""

    key: str
    source: Path
    folder: Path
    ticks: int
    neurons: int


def nwb_files(sources: list[str | Path]) -> list[Path]:
    """Expand sources (.nwb files or folders of them) into a sorted, de-duplicated list of files."""
    files: list[Path] = []
    for source in map(Path, sources):
        if source.is_dir():
            found = sorted(source.rglob("*.nwb"))
            if not found:
                raise SessionError(f"{source}: a folder without .nwb files")
            files.extend(found)
        elif source.exists():
            files.append(source)
        else:
            raise SessionError(f"{source}: no such file or folder")
    return list(dict.fromkeys(files))


def session_key(subject_id: str | None, session_id: str | None, path: Path, taken: set[str]) -> str:
    """A stable, file-system-safe key: subject and session ids when the file has them, else its name."""
    raw = "_".join(part for part in (subject_id, session_id) if part) or path.stem
    key = re.sub(r"[^A-Za-z0-9._-]+", "-", raw).strip("-.") or "session"
    candidate, suffix = key, 2
    while candidate in taken:
        candidate, suffix = f"{key}-{suffix}", suffix + 1
    taken.add(candidate)
    return candidate


def convert(
    sources: list[str | Path],
    out: str | Path,
    *,
    overwrite: bool = False,
    responses: str | None = None,
    stimulus: str | None = None,
    max_nan_fraction: float = MAX_NAN_FRACTION,
    progress: bool = True,
) -> list[ConvertedSession]:
    """Convert every NWB file in `sources` into `out/<session_key>/`; all or nothing."""
    files = nwb_files(sources)
    out = Path(out)
    converted = []
    taken: set[str] = set()
    with atomic_output(out, overwrite=overwrite) as staging:
        staging.mkdir(parents=True)
        for path in tqdm(files, desc="convert", unit="session", disable=not progress or len(files) < 2):
            with open_session(path, responses=responses, stimulus=stimulus) as plan:
                key = session_key(plan.subject_id, plan.session_id, path, taken)
                write_store(plan, staging / key, max_nan_fraction=max_nan_fraction, progress=progress)
                converted.append(ConvertedSession(key, path, out / key, plan.n_ticks, plan.n_neurons))
    return converted
