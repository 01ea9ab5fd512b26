"""In-silico experiments on a fine-tuned model, their tables added beside its predictions in NWB.

    python examples/insilico_experiments.py my-run session-predicted.nwb

RUN is a run folder of `finetune` (or `pretrain`) with one session, PREDICTIONS the NWB file `predict`
wrote with RUN's best.ckpt. Gratings, receptive fields and attention-vs-behaviour results go to
RUN/insilico/ (JSON, NPZ, PNG; `nwb-v1former report RUN` shows them) and, as per-ROI tables, into the
predictions module. Then the tables are read back with plain pynwb, as anyone opening the file would.
"""

from __future__ import annotations

import argparse
import sys

from pynwb import NWBHDF5IO

from nwb_v1former.analysis.receptive_fields import NoiseConfig
from nwb_v1former.pipeline.insilico import run_attention, run_receptive_fields, run_tuning


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run", help="Run folder (its best.ckpt and data/ are used).")
    parser.add_argument("predictions", help="NWB file written by `predict` with RUN's best.ckpt.")
    parser.add_argument("--clips", type=int, default=8, help="Noise clips per ROI for receptive fields.")
    parser.add_argument("--overwrite", action="store_true", help="Replace earlier results in RUN/insilico.")
    args = parser.parse_args(argv)

    data = f"{args.run}/data"
    shared = {"nwb": args.predictions, "overwrite": args.overwrite, "progress": sys.stderr.isatty()}
    tuning = run_tuning(args.run, data=data, **shared)
    fields = run_receptive_fields(args.run, data=data, config=NoiseConfig(clips=args.clips), **shared)
    attention = run_attention(args.run, data, **shared)
    still = tuning.summary["still"]
    print(f"tuning: {still['tuned_rois']} of {tuning.summary['rois']} ROIs tuned (still)")
    print(f"receptive fields: {fields.summary['mapped']} ROIs mapped")
    print(f"attention: {attention.summary['frames']} frames, {attention.summary['shifts']} shuffles")

    with NWBHDF5IO(args.predictions, "r", load_namespaces=True) as io:
        module = io.read().processing["v1former_predictions"]
        tuning_table = module["insilico_tuning"].to_dataframe()
        fields_table = module["insilico_receptive_fields"].to_dataframe()
        attention_table = module["insilico_attention"].to_dataframe()
    best = tuning_table.sort_values("still_tuning_depth", ascending=False).iloc[0]
    print(
        f"most deeply tuned ROI {int(best.roi_id)}: preferred orientation "
        f"{best.still_preferred_orientation_deg:.0f} deg, depth {best.still_tuning_depth:.3f}, running "
        f"modulation index {best.running_modulation_index:.2f}"
    )
    rf = fields_table.set_index("roi_id").loc[int(best.roi_id)]
    print(
        f"  its receptive field: row {rf.rf_row:.1f}, column {rf.rf_column:.1f}, "
        f"radius {rf.rf_radius_px:.1f} px"
    )
    strongest = attention_table.loc[attention_table.r.abs().idxmax()]
    print(
        f"strongest attention-behaviour pair: {strongest.attention_summary} vs {strongest.behavior}, "
        f"r = {strongest.r:.2f} (p = {strongest.p_value:.3g}, shuffle 95% |r| {strongest.null_abs_95:.2f})"
    )


if __name__ == "__main__":
    main()
