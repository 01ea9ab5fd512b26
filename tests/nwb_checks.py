"""Helpers for tests that check NWB files: schema validation and nwbinspector findings."""

from __future__ import annotations

import hashlib
from pathlib import Path

import h5py
import numpy as np
from nwbinspector import Importance, inspect_nwbfile
from pynwb import validate

SERIOUS = {Importance.CRITICAL, Importance.BEST_PRACTICE_VIOLATION, Importance.ERROR}


def serious_findings(path: Path) -> list[str]:
    """Schema errors plus nwbinspector findings at CRITICAL / BEST_PRACTICE_VIOLATION level."""
    errors = [str(error) for error in validate(path=str(path))]
    findings = [
        f"{message.importance.name} {message.check_function_name} {message.location}: {message.message}"
        for message in inspect_nwbfile(nwbfile_path=path)
        if message.importance in SERIOUS
    ]
    return errors + findings


def dataset_digests(path: Path, skip: tuple[str, ...] = ("/file_create_date",)) -> dict[str, str]:
    """sha256 of every dataset's bytes (object references by their target path), keyed by dataset path."""
    digests: dict[str, str] = {}
    with h5py.File(path, "r") as handle:

        def visit(name: str, obj) -> None:
            if not isinstance(obj, h5py.Dataset) or f"/{name}" in skip or name.startswith("specifications"):
                return
            values = obj[()]
            if obj.dtype.kind == "O" and h5py.check_dtype(ref=obj.dtype) is not None:
                values = np.array([handle[ref].name for ref in np.ravel(values)], dtype=object)
            digest = hashlib.sha256(
                np.asarray(values).tobytes()
                if np.asarray(values).dtype.kind != "O"
                else repr(values.tolist()).encode()
            )
            digests[f"/{name}"] = digest.hexdigest()

        handle.visititems(visit)
    return digests
