"""Import the authors' ViV1T checkpoints, from a run folder or by name from the Hugging Face Hub.

A run folder in the authors' layout holds `args.yaml` (their arguments) and `ckpt/model.pt` (their
state_dict, tensors only); `ckpt/info.yaml` (epoch, best correlation) is kept as provenance.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from nwb_v1former.atomic import check_apart, check_writable
from nwb_v1former.errors import CheckpointError, ConfigError, detail
from nwb_v1former.model.checkpoint import CHECKPOINT, load_tensors, save_checkpoint
from nwb_v1former.model.provenance import Provenance
from nwb_v1former.model.published import model_from_authors

HUB_REPOSITORY = "bryanlimy/ViV1T-closed-loop"
PUBLISHED = {"viv1t-2025": HUB_REPOSITORY}


def _run_folder(folder: Path) -> Path:
    """The folder holding args.yaml and ckpt/model.pt (accepts the run folder or its ckpt/)."""
    for candidate in (folder, folder.parent):
        if (candidate / "args.yaml").is_file() and (candidate / "ckpt" / "model.pt").is_file():
            return candidate
    missing = "args.yaml" if not (folder / "args.yaml").is_file() else "ckpt/model.pt"
    raise CheckpointError(
        f"not a ViV1T run folder (no {missing}); give the folder that holds args.yaml and ckpt/model.pt",
        where=folder,
    )


def import_viv1t(folder: str | Path, out: str | Path, *, overwrite: bool = False) -> Path:
    """Convert an authors' run folder into one nwb-v1former checkpoint at `out`; every weight is mapped."""
    check_writable(Path(out), overwrite, CHECKPOINT)  # before reading anything
    run = _run_folder(Path(folder))
    check_apart(out, [run])  # the authors' run folder is a source: only read
    try:
        args = yaml.safe_load((run / "args.yaml").read_text())
    except Exception as error:  # yaml raises many types for damaged files
        raise CheckpointError(f"cannot read args.yaml ({detail(error)})", where=run) from None
    state_dict = load_tensors(run / "ckpt" / "model.pt", "check that it is the authors' ckpt/model.pt")
    info_path = run / "ckpt" / "info.yaml"
    info = yaml.safe_load(info_path.read_text()) if info_path.is_file() else {}
    try:
        model = model_from_authors(args, state_dict)
    except ConfigError as error:
        raise CheckpointError(str(error), where=run) from None
    provenance = Provenance(
        imported_from=str(run.resolve()),
        model="ViV1T V-2025 (Li et al., bioRxiv 2025)",
        authors_epoch=int(info.get("epoch", -1)),
        authors_best_corr=float(info.get("best_corr", float("nan"))),
    )
    return save_checkpoint(model, out, extra={"provenance": provenance.to_dict()}, overwrite=overwrite)


def default_cache_dir() -> Path:
    """Where imported published checkpoints are kept: $NWB_V1FORMER_CACHE, else the user's cache."""
    if os.environ.get("NWB_V1FORMER_CACHE"):
        return Path(os.environ["NWB_V1FORMER_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "nwb-v1former"


def resolve_published(
    name: str, *, hub_cache: str | Path | None = None, cache_dir: Path | None = None
) -> Path:
    """Our checkpoint for published weights `name` (e.g. `viv1t-2025` or `viv1t-2025:<run folder>`).

    Downloads through huggingface_hub into its standard cache (offline, HF_HUB_OFFLINE=1 uses that
    cache only), imports the run folder once and reuses the result.
    """
    from huggingface_hub import snapshot_download  # imported on use: only this path needs it

    base, _, subfolder = name.partition(":")
    if base not in PUBLISHED:
        raise CheckpointError(f"unknown published model {base!r}; known: {', '.join(PUBLISHED)}")
    # HF_HUB_OFFLINE is read now, not only when huggingface_hub was first imported: offline, no request.
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}
    try:
        snapshot = Path(
            snapshot_download(
                PUBLISHED[base],
                allow_patterns=["*args.yaml", "*ckpt/model.pt", "*ckpt/info.yaml"],
                cache_dir=hub_cache,
                local_files_only=offline,
            )
        )
    except Exception as error:  # network, offline-without-cache, missing repository
        raise CheckpointError(
            f"cannot fetch {PUBLISHED[base]} from the Hugging Face Hub ({type(error).__name__}); connect to "
            "the internet once, or import a downloaded run folder with `nwb-v1former import-viv1t`"
        ) from None
    runs = sorted(p.parent for p in snapshot.rglob("args.yaml") if (p.parent / "ckpt" / "model.pt").is_file())
    if subfolder:
        runs = [run for run in runs if run.relative_to(snapshot).as_posix() == subfolder.strip("/")]
    if len(runs) != 1:
        names = ", ".join(f"{base}:{run.relative_to(snapshot).as_posix()}" for run in runs) or "none"
        raise CheckpointError(
            f"{PUBLISHED[base]} holds {len(runs)} matching run folders; choose one of: {names}"
        )
    target = (
        (cache_dir or default_cache_dir()) / "published" / f"{base}-{snapshot.name[:12]}-{runs[0].name}.ckpt"
    )
    if not target.is_file():
        import_viv1t(runs[0], target)
    return target
