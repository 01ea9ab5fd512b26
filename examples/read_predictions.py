"""Read nwb-v1former predictions back with plain pynwb and numpy: nothing of nwb-v1former is needed.

    python examples/read_predictions.py session-predicted.nwb

The file carries the ndx-v1former extension's spec, so pynwb opens it on its own (load_namespaces=True).
Prints which model made the predictions, then compares each predicted series with the recording it
links to (`recorded`), ROI by ROI, over the imaging frames that have a prediction.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from pynwb import NWBHDF5IO


def correlation(predicted: np.ndarray, recorded: np.ndarray) -> np.ndarray:
    """Pearson correlation per column over the rows where both are finite; (T, N), (T, N) -> (N,)."""
    keep = np.isfinite(predicted).all(axis=1) & np.isfinite(recorded).all(axis=1)
    p = predicted[keep] - predicted[keep].mean(axis=0)
    r = recorded[keep] - recorded[keep].mean(axis=0)
    return (p * r).sum(axis=0) / np.sqrt((p**2).sum(axis=0) * (r**2).sum(axis=0) + 1e-12)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("path", help="An NWB file written by `predict`.")
    parser.add_argument("--module", default="v1former_predictions", help="Processing module to read.")
    args = parser.parse_args(argv)

    with NWBHDF5IO(args.path, "r", load_namespaces=True) as io:
        module = io.read().processing[args.module]
        model = module["model"]
        print(f"model {model.model_name}: sha256 {model.checkpoint_sha256[:12]}, readout {model.session_key}")
        print(f"  trained on: {model.training_data_description}")
        if model.evaluation is not None:
            session = json.loads(model.evaluation).get("session")
            if session is not None:
                print(
                    f"  {session['tier']} single-trial correlation {session['single_trial_correlation']:.3f}"
                )
        for name, series in module.data_interfaces.items():
            if type(series).__name__ != "PredictedRoiResponseSeries":  # the model and evaluation sit beside
                continue
            predicted = np.asarray(series.data[:], dtype=np.float64)
            recorded = np.asarray(series.recorded.data[:], dtype=np.float64)  # same ROIs, same frames
            roi_ids = np.asarray(series.rois.table.id[:])[series.rois.data[:]]
            r = correlation(predicted, recorded)
            best = int(np.nanargmax(r))
            print(
                f"  {name}: {predicted.shape[1]} ROIs x {predicted.shape[0]} frames, "
                f"{np.isfinite(predicted).all(axis=1).mean():.0%} predicted; correlation with the recording "
                f"mean {np.nanmean(r):.3f}, best {r[best]:.3f} (ROI {roi_ids[best]})"
            )
        if "evaluation" in module.data_interfaces:
            table = module["evaluation"].to_dataframe()
            print(f"  per-ROI evaluation table: {len(table)} rows, columns {', '.join(table.columns)}")


if __name__ == "__main__":
    main()
