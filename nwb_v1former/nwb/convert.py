"""`convert`: NWB sessions -> the common dataset, one store folder per input file, written atomically."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from nwb_v1former.atomic import OutputKind, atomic_output, check_apart, visible_entries
from nwb_v1former.digest import sha256
from nwb_v1former.errors import MissingDataError, SessionError
from nwb_v1former.nwb.choices import READER_DEFAULTS, ReaderChoices
from nwb_v1former.nwb.discover import NWBSource
from nwb_v1former.nwb.plan import open_session
from nwb_v1former.nwb.read import MAX_NAN_FRACTION, write_store
from nwb_v1former.nwb.remote import RemoteFile
from nwb_v1former.nwb.zarr_files import holds_nwb, is_zarr_store, nwb_stem


def is_dataset(path: Path) -> bool:
    """Whether `path` is what `convert` writes: a folder of session folders, each with its meta.json
    (or a folder with nothing visible in it); dot-files (partials, locks) are ignored."""
    if not path.is_dir() or path.is_symlink():
        return False
    return all((entry / "meta.json").is_file() for entry in visible_entries(path))


DATASET = OutputKind("a dataset nwb-v1former converted (session folders with meta.json)", is_dataset)


@dataclass(frozen=True)
class ConvertedSession:
    """One converted session: its key (folder name), folder and size."""

    key: str
    source: NWBSource
    folder: Path
    ticks: int
    neurons: int


@dataclass(frozen=True)
class SessionInput:
    """One NWB file to convert, where it came from, and whether it may be skipped.

    `origin` is added to meta.json's source (e.g. a DANDI asset's dandiset, version, path and id).
    `skip_unusable`: a file picked out of a collection (a dandiset, a folder) that has no stimulus movie or
    no ROI responses (e.g. Allen's raw `..._ophys.nwb` beside each processed file) is skipped with one
    line instead of stopping the conversion.
    """

    file: NWBSource
    origin: Mapping[str, str] = field(default_factory=dict)
    skip_unusable: bool = False


def file_origin(item: SessionInput) -> dict[str, str]:
    """What meta.json's source records of a local file beside the reader's own fields: its absolute
    path (for this machine: the report finds a simulation's truth beside it), and its name and sha256
    (what provenance keeps, `pipeline.train.data_provenance`). A DANDI asset is known by its asset
    record instead, and a Zarr store (a folder) by its name alone."""
    if not isinstance(item.file, Path) or "digest" in item.origin:
        return {}
    origin = {"path": str(item.file.resolve()), "name": item.file.name}
    return origin if item.file.is_dir() else {**origin, "sha256": sha256(item.file)}


def is_session_folder(path: Path) -> bool:
    """Whether a local path is a folder of sessions: a folder, and not a Zarr store (one session)."""
    return path.is_dir() and not is_zarr_store(path)


def nwb_files(
    sources: Sequence[str | Path | RemoteFile], *, on_skip: Callable[[str], None] | None = None
) -> list[NWBSource]:
    """Expand sources (.nwb files, .nwb.zarr stores, folders of them, remote files) into a de-duplicated
    list of files; what a folder holds besides NWB files is told to `on_skip` (see `folder_sessions`)."""
    files: list[NWBSource] = []
    for source in sources:
        if isinstance(source, RemoteFile):
            files.append(source)
            continue
        source = Path(source)
        if is_session_folder(source):
            files.extend(folder_sessions(source, on_skip=on_skip))
        elif source.exists():
            files.append(source)
        else:
            raise SessionError("no such file or folder", where=source)
    return list(dict.fromkeys(files))


def folder_sessions(folder: Path, *, on_skip: Callable[[str], None] | None = None) -> list[Path]:
    """The NWB files under `folder`: `.nwb` files and Zarr stores holding NWB (each one session, never
    searched inside), in name order. Dot-entries are passed over (another tool's data, locks, partial
    writes); a Zarr store that is not NWB gets a line to `on_skip`, and the other files one line
    together. The same session in both formats (`x.nwb` beside `x.nwb.zarr`) is refused."""
    sessions: list[Path] = []
    stores: list[Path] = []
    others: list[Path] = []
    _search(folder, sessions, stores, others)
    if not sessions:
        raise SessionError("a folder without NWB files (.nwb, .nwb.zarr)", where=folder)
    twins = _twins(sessions)
    if twins:
        raise SessionError(
            f"{twins[0].name} and {twins[1].name} are one session in two formats; "
            "give one of them, or move the other out of the folder",
            where=twins[0].parent,
        )
    if on_skip is not None:
        for store in stores:
            on_skip(f"skipped {store}: a Zarr store whose root is not an NWBFile, so not an NWB file")
        if others:
            shown = ", ".join(str(path.relative_to(folder)) for path in others[:4])
            more = f" and {len(others) - 4} more" if len(others) > 4 else ""
            on_skip(
                f"skipped {len(others)} file(s) in {folder} that are not NWB files (.nwb, .nwb.zarr): "
                f"{shown}{more}"
            )
    return sessions


def _search(folder: Path, sessions: list[Path], stores: list[Path], others: list[Path]) -> None:
    """Sort the entries under `folder` into sessions, Zarr stores that are not NWB, and other files."""
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if is_zarr_store(entry):
            nwb = entry.name.lower().endswith(".nwb.zarr") or holds_nwb(entry)
            (sessions if nwb else stores).append(entry)
        elif entry.is_dir() and not entry.is_symlink():
            _search(entry, sessions, stores, others)
        elif entry.suffix.lower() == ".nwb":
            sessions.append(entry)
        elif not entry.is_dir():
            others.append(entry)


def _twins(sessions: list[Path]) -> tuple[Path, Path] | None:
    """Two sessions of one folder named alike but for their format (`x.nwb`, `x.nwb.zarr`), if any."""
    seen: dict[tuple[Path, str], Path] = {}
    for path in sessions:
        key = (path.parent, nwb_stem(path.name))
        if key in seen:
            return seen[key], path
        seen[key] = path
    return None


def session_inputs(
    sources: Sequence[str | Path | RemoteFile | SessionInput], *, on_skip: Callable[[str], None] | None = None
) -> list[SessionInput]:
    """Every source as SessionInputs (folders expanded, `on_skip` hearing what they hold besides NWB
    files), de-duplicated by file, first one kept."""
    inputs: dict[NWBSource, SessionInput] = {}
    for source in sources:
        if isinstance(source, SessionInput):
            expanded = [source]
        else:  # a file found in a folder may be skipped when unusable, as in a dandiset
            folder = not isinstance(source, RemoteFile) and is_session_folder(Path(source))
            files = nwb_files([source], on_skip=on_skip)
            expanded = [SessionInput(file, skip_unusable=folder) for file in files]
        for item in expanded:
            inputs.setdefault(item.file, item)
    return list(inputs.values())


def session_key(subject_id: str | None, session_id: str | None, path: NWBSource, taken: set[str]) -> str:
    """A stable, file-system-safe key: subject and session ids when the file has them, else its name."""
    raw = "_".join(part for part in (subject_id, session_id) if part) or nwb_stem(path.name)
    key = re.sub(r"[^A-Za-z0-9._-]+", "-", raw).strip("-.") or "session"
    candidate, suffix = key, 2
    while candidate in taken:
        candidate, suffix = f"{key}-{suffix}", suffix + 1
    taken.add(candidate)
    return candidate


def convert(
    sources: Sequence[str | Path | RemoteFile | SessionInput],
    out: str | Path,
    *,
    overwrite: bool = False,
    choices: ReaderChoices = READER_DEFAULTS,
    max_nan_fraction: float = MAX_NAN_FRACTION,
    progress: bool = True,
    on_skip: Callable[[str], None] | None = None,
) -> list[ConvertedSession]:
    """Convert every NWB file in `sources` into `out/<session_key>/`; all or nothing.

    `out` may not overlap a source, and `overwrite` replaces only an earlier converted dataset. `choices`
    are the reader's options (responses, stimulus, image order, split).

    Inputs marked `skip_unusable` that lack a movie or responses are left out, each reported as one
    line to `on_skip`; if nothing is left to convert, that is a SessionError.
    """
    out = Path(out)
    check_apart(out, [source for source in sources if isinstance(source, (str, Path))])
    inputs = session_inputs(sources, on_skip=on_skip)
    check_apart(out, [item.file for item in inputs if isinstance(item.file, Path)])
    converted = []
    taken: set[str] = set()
    with atomic_output(out, overwrite=overwrite, kind=DATASET) as staging:
        staging.mkdir(parents=True)
        for item in tqdm(inputs, desc="convert", unit="session", disable=not progress or len(inputs) < 2):
            try:
                with open_session(item.file, choices) as plan:
                    key = session_key(plan.subject_id, plan.session_id, item.file, taken)
                    write_store(
                        plan,
                        staging / key,
                        max_nan_fraction=max_nan_fraction,
                        progress=progress,
                        origin={**file_origin(item), **item.origin},
                    )
                    session = ConvertedSession(key, item.file, out / key, plan.n_ticks, plan.n_neurons)
                    converted.append(session)
            except SessionError as error:
                if not (item.skip_unusable and isinstance(error, MissingDataError)):
                    raise
                if on_skip is not None:
                    on_skip(f"skipped {error}")
        if not converted:
            raise SessionError(
                f"none of the {len(inputs)} session(s) has both a stimulus movie and ROI responses; "
                "nothing to convert (run `inspect` on them to see what each holds)"
            )
    return converted
