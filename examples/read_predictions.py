"""Read nwb-v1former predictions back with plain pynwb and numpy, and score them on held-out trials only.

    python examples/read_predictions.py session_predictions.nwb --recording session.nwb
    python examples/read_predictions.py session-full-copy.nwb

The file carries the ndx-v1former extension's spec, so pynwb opens it on its own (load_namespaces=True).
Prints which model made the predictions, then compares each predicted series with its recording, ROI
by ROI, on the imaging frames of the held-out test trials the module's `split` table lists (after each
trial's first 50 ticks, as evaluation does): frames the model was trained on would flatter it. A full
copy links each predicted series to its recording (`recorded`); a predictions-only file names the
recorded series' path (`recorded_path`) in its source file, which --recording opens.
"""

from __future__ import annotations

import argparse
import contextlib
import json

import h5py
import numpy as np
from pynwb import NWBHDF5IO

BURN_IN_S = 50 / 30
"""Evaluation skips each trial's first 50 ticks of the model's 30 Hz grid (the model's warm-up)."""


def correlation(predicted: np.ndarray, recorded: np.ndarray) -> np.ndarray:
    """Pearson correlation per column over the rows where both are finite; (T, N), (T, N) -> (N,)."""
    keep = np.isfinite(predicted).all(axis=1) & np.isfinite(recorded).all(axis=1)
    p = predicted[keep] - predicted[keep].mean(axis=0)
    r = recorded[keep] - recorded[keep].mean(axis=0)
    return (p * r).sum(axis=0) / np.sqrt((p**2).sum(axis=0) * (r**2).sum(axis=0) + 1e-12)


def held_out(times: np.ndarray, split, tier: str = "test") -> np.ndarray:
    """Which of the frame `times` (T,) lie in a `tier` trial of the split table, after its burn-in."""
    table = split.to_dataframe()
    inside = np.zeros(len(times), bool)
    for start, stop in table.loc[table["tier"] == tier, ["start_time", "stop_time"]].to_numpy():
        inside |= (times >= start + BURN_IN_S) & (times < stop)
    return inside


def frame_times(series) -> np.ndarray:
    """A series' frame times (s), from its timestamps or its rate."""
    if series.timestamps is not None:
        return np.asarray(series.timestamps[:], np.float64)
    return series.starting_time + np.arange(len(series.data)) / series.rate


def object_id(path: str, inside: str) -> str:
    """The object id of the NWB object at `inside` in the HDF5 file `path` (an attribute of its group)."""
    with h5py.File(path, "r") as handle:
        return str(handle[inside].attrs["object_id"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("path", help="An NWB file written by `predict`.")
    parser.add_argument("--recording", help="The source NWB file, for a predictions-only file.")
    parser.add_argument("--module", default="v1former_predictions", help="Processing module to read.")
    args = parser.parse_args(argv)

    with contextlib.ExitStack() as files:
        module = files.enter_context(NWBHDF5IO(args.path, "r")).read().processing[args.module]
        source = (
            None if args.recording is None else files.enter_context(NWBHDF5IO(args.recording, "r")).read()
        )
        model = module["model"]
        print(f"model {model.model_name}: sha256 {model.checkpoint_sha256[:12]}, readout {model.session_key}")
        print(f"  trained on: {model.training_data_description}")
        if model.learned is not None and not model.learned:
            reasons = "; ".join(model.fit_check_reasons[:])
            print(f"  WARNING: the fit check says this model did not learn: {reasons}")
        if model.evaluation is not None:
            session = json.loads(model.evaluation).get("session")
            if session is not None:
                print(
                    f"  {session['tier']} single-trial correlation {session['single_trial_correlation']:.3f}"
                    " (on the model's 30 Hz grid)"
                )
        split = module["split"]
        tiers = split.to_dataframe()["tier"].value_counts()
        print(f"  split: {', '.join(f'{n} {tier}' for tier, n in tiers.items())} trials")
        for name, series in module.data_interfaces.items():
            if type(series).__name__ != "PredictedRoiResponseSeries":  # the model and tables sit beside
                continue
            recording = series.recorded
            if recording is None:
                if source is None:
                    raise SystemExit(
                        f"{args.path} is a predictions-only file: give its source with --recording"
                    )
                recording = source.objects[object_id(args.recording, series.recorded_path)]
            predicted = np.asarray(series.data[:], dtype=np.float64)
            recorded = np.asarray(recording.data[:], dtype=np.float64)  # same ROIs, same frames
            roi_ids = np.asarray(series.rois.table.id[:])[series.rois.data[:]]
            test = held_out(frame_times(series), split)
            r = correlation(predicted[test], recorded[test])
            best = int(np.nanargmax(r))
            print(
                f"  {name}: {predicted.shape[1]} ROIs x {predicted.shape[0]} frames, {test.sum()} of them in "
                f"held-out test trials; correlation there mean {np.nanmean(r):.3f}, best {r[best]:.3f} "
                f"(ROI {roi_ids[best]})"
            )
        if "evaluation" in module.data_interfaces:
            table = module["evaluation"].to_dataframe()
            print(f"  per-ROI evaluation table: {len(table)} rows, columns {', '.join(table.columns)}")


if __name__ == "__main__":
    main()
