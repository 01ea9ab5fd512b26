"""Write a fitted model's predictions into an NWB file beside the session, with the model's provenance.

    python examples/predict_into_nwb.py my-run/best.ckpt session.nwb --out session-predicted.nwb
    python examples/predict_into_nwb.py my-run/best.ckpt session.nwb --copy full

The new file (by default predictions-only: the session's subject, session and ROI tables, no raw data;
`--copy full`: all of the session) has an identifier of its own, so it can go into the dandiset beside
the session, and processing/v1former_predictions: one predicted series per recorded response series
(same ROIs, same imaging times, NaN where nothing was predicted), the model's provenance, the trials'
split and, when the session has held-out test trials, a per-ROI evaluation table. The source file is
left untouched.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nwb_v1former.nwb.derived import COPIES, DEFAULT_COPY
from nwb_v1former.pipeline.predict import predict


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("checkpoint", help="best.ckpt of a run fitted to this session.")
    parser.add_argument("source", help="The NWB session to predict.")
    parser.add_argument("--out", default=None, help="NWB file to write (default: <source>-predicted.nwb).")
    parser.add_argument(
        "--copy", choices=COPIES, default=DEFAULT_COPY, help="What the new file holds of the session."
    )
    parser.add_argument("--session", default=None, help="Which readout of the checkpoint to use.")
    parser.add_argument("--overwrite", action="store_true", help="Replace --out if it exists.")
    args = parser.parse_args(argv)

    source = Path(args.source)
    out = Path(args.out) if args.out else source.with_name(f"{source.stem}-predicted.nwb")
    result = predict(
        args.checkpoint,
        source,
        out,
        copy=args.copy,
        session=args.session,
        overwrite=args.overwrite,
        progress=sys.stderr.isatty(),
    )
    written = result.written
    print(f"{written.path} ({written.copy}): {written.module} with {', '.join(written.series)}")
    print(
        f"  {written.predicted_frames} of {written.frames} imaging frames predicted, readout {result.session}"
    )
    if result.evaluation is not None:
        summary = result.evaluation.summary()
        print(
            f"  {result.evaluation.tier} single-trial correlation {summary['single_trial_correlation']:.3f}"
        )


if __name__ == "__main__":
    main()
