"""`nwb-v1former predict`: a checkpoint's predictions (with provenance) into an NWB session."""

from __future__ import annotations

import json
import sys

import click

from nwb_v1former.nwb.write import DEFAULT_NAME
from nwb_v1former.pipeline.predict import predict


@click.command("predict")
@click.argument("checkpoint", type=click.Path(dir_okay=False))
@click.argument("source", type=click.Path(dir_okay=False))
@click.option(
    "--out", type=click.Path(dir_okay=False), default=None, help="NWB file to write (a copy of SOURCE)."
)
@click.option("--in-place", is_flag=True, help="Add the predictions to SOURCE itself (atomically).")
@click.option(
    "--name",
    default=DEFAULT_NAME,
    show_default=True,
    help="Processing module to write; the same name replaces earlier predictions, another keeps both.",
)
@click.option(
    "--session", default=None, help="Which readout of the checkpoint to use [default: SOURCE's key]."
)
@click.option("--responses", default=None, help="Name or path of the response series (as for convert).")
@click.option("--device", default=None, help="cpu, cuda, cuda:N [default: a GPU if there is one, else cpu].")
@click.option("--overwrite", is_flag=True, help="Replace --out if it exists.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def predict_command(
    checkpoint: str,
    source: str,
    out: str | None,
    in_place: bool,
    name: str,
    session: str | None,
    responses: str | None,
    device: str | None,
    overwrite: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Predict every imaging frame of SOURCE.nwb with CHECKPOINT; write them into an NWB processing module."""
    result = predict(
        checkpoint,
        source,
        out,
        in_place=in_place,
        name=name,
        session=session,
        responses=responses,
        overwrite=overwrite,
        device=device,
        progress=not quiet and sys.stderr.isatty(),
    )
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
        return
    written = result.written
    click.echo(
        f"Wrote {written.module} into {written.path}: {len(written.series)} series, "
        f"{written.predicted_frames} of {written.frames} imaging frames predicted (readout {result.session})"
        + (" [replaced earlier predictions of that name]" if written.replaced else "")
    )
    if result.evaluation is not None:
        summary = result.evaluation.summary()
        figures = ", ".join(f"{metric} {value:.3f}" for metric, value in summary.items() if value is not None)
        click.echo(f"  on {result.evaluation.n_trials} {result.evaluation.tier} trials: {figures}")
