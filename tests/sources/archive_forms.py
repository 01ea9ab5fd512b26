"""The two storage forms the archive accepts beside a plain .nwb file, written as real tools write them,
and the stand-in dandisets that serve them.

- External videos: a neuroconv lab session whose stimulus is in two external video files, with an eye
  camera's video beside them, laid out by `dandi organize` itself (see external_video_layouts): every
  file of the organized tree is an asset.
- Zarr: a simulated session exported to an `.nwb.zarr` folder with hdmf-zarr's `NWBZarrIO.export`, as
  the archive's Zarr migrations write them.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
from external_video_layouts import external_session, organize
from stores import export_to_zarr

from nwb_v1former.simulate import simulate_and_write
from sources.dandi_server import LATEST, SMALL, DandiServer

ZARR_SESSION = "sub-sim/sub-sim_ses-zarr.nwb.zarr"
STIMULUS = [np.arange(1, 61), np.arange(61, 91)]
"""The stimulus, 60 then 30 frames, each uniform with its own value."""
WITH_VIDEOS, ZARR_ONLY, VIDEOS_MISSING, OUTSIDE = "000321", "000322", "000323", "000324"
"""Dandisets: the video session with its videos and the Zarr; the Zarr alone; the video session without
its stimulus videos; files whose videos are named outside the dandiset."""


@dataclass(frozen=True)
class Forms:
    """The files served, by asset path, and which assets play which part."""

    files: dict[str, Path]
    nwb: str
    """The organized NWB asset whose stimulus is in external videos."""
    written: list[str]
    """Its stimulus videos' paths as the NWB file writes them (relative to it), in file order."""
    videos: list[str]
    """Their asset paths."""
    camera: str
    """The eye camera's video asset (never needed, never fetched)."""
    zarr_source: Path
    """The HDF5 file the Zarr asset was exported from."""
    outside: dict[str, Path]
    """NWB files naming a video outside the dandiset (an absolute path, a path climbing out of it)."""


def write_forms(root: Path) -> Forms:
    """Write every file the stand-in serves for these dandisets under `root`."""
    lab, _ = external_session(root / "lab", STIMULUS)
    organized = organize(lab, root / "dandiset")
    tree = root / "dandiset"
    files = {
        path.relative_to(tree).as_posix(): path
        for path in sorted(tree.rglob("*"))
        if path.is_file() and path.name != "dandiset.yaml"
    }
    nwb = organized.relative_to(tree).as_posix()
    with h5py.File(organized, "r") as handle:
        written = [name.decode() for name in handle["acquisition/StimulusMovie/external_file"][()]]
        (camera,) = [name.decode() for name in handle["acquisition/EyeCamera/external_file"][()]]
    folder = nwb.rpartition("/")[0]
    source = simulate_and_write(root / "sim", layout="openscope", animals=1, progress=False, **SMALL)[0].data
    files[ZARR_SESSION] = export_to_zarr(source, root / "zarr" / Path(ZARR_SESSION).name)
    escaping = with_external_files(organized, root / "escaping.nwb", ["../../../elsewhere/stimulus.avi"])
    return Forms(
        files=files,
        nwb=nwb,
        written=written,
        videos=[f"{folder}/{name}" for name in written],
        camera=f"{folder}/{camera}",
        zarr_source=source,
        outside={"sub-m1/absolute.nwb": lab, "sub-m1/escaping.nwb": escaping},
    )


def with_external_files(nwb: Path, out: Path, written: list[str]) -> Path:
    """A copy of `nwb` whose stimulus series names the external files `written` instead."""
    shutil.copyfile(nwb, out)
    with h5py.File(out, "a") as handle:
        files = handle["acquisition/StimulusMovie/external_file"]
        for index, name in enumerate(written):
            files[index] = name
    return out


def serve_forms(forms: Forms) -> DandiServer:
    """A started stand-in archive with the dandisets WITH_VIDEOS (published and draft), ZARR_ONLY,
    VIDEOS_MISSING (the camera's video kept) and OUTSIDE (drafts)."""
    server = DandiServer().start()
    everything = dict(forms.files)
    server.add_dandiset(WITH_VIDEOS, {LATEST: everything, "draft": everything})
    server.add_dandiset(ZARR_ONLY, {"draft": {ZARR_SESSION: forms.files[ZARR_SESSION]}})
    missing = {path: forms.files[path] for path in (forms.nwb, forms.camera)}
    server.add_dandiset(VIDEOS_MISSING, {"draft": missing})
    server.add_dandiset(OUTSIDE, {"draft": forms.outside})
    return server
