"""`nwb-v1former predict`: a checkpoint's predictions (with provenance) into an NWB session."""

from __future__ import annotations

import json
from pathlib import Path

import click
from nwb_v1former.cli.precision_option import precision_option
from nwb_v1former.cli.reader_options import reader_options
from nwb_v1former.cli.source_options import source_options

from nwb_v1former.nwb.choices import ReaderChoices
from nwb_v1former.nwb.convert import is_session_folder
from nwb_v1former.nwb.derived import COPIES, DEFAULT_COPY
from nwb_v1former.nwb.write import DEFAULT_NAME
from nwb_v1former.pipeline.predict import predict
from nwb_v1former.pipeline.predict_sources import predict_sources
from nwb_v1former.sources.dandi import is_dandi_source


@click.command("predict")
@click.argument("checkpoint")
@click.argument("source")
@click.option(
    "--out",
    type=click.Path(),
    default=None,
    help="NWB file to write, in SOURCE's format (.nwb, or .nwb.zarr for a Zarr SOURCE), with an identifier "
    "and object ids of its own, so it can sit beside SOURCE in a dandiset; for a folder or dandiset "
    "SOURCE, the folder to write into.",
)
@click.option(
    "--copy",
    type=click.Choice(COPIES),
    default=DEFAULT_COPY,
    show_default=True,
    help="What --out holds of SOURCE: predictions-only (the predictions with SOURCE's subject, session and "
    "ROI tables, no raw data: a small derived file) or full (all of SOURCE, then the predictions).",
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
@click.option("--device", default=None, help="cpu, cuda, cuda:N [default: a GPU if there is one, else cpu].")
@precision_option
@click.option("--overwrite", is_flag=True, help="Replace --out if it exists.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option(
    "--quiet", is_flag=True, help="No progress (bars on a terminal, else a line at least every minute)."
)
@source_options
@reader_options
def predict_command(
    checkpoint: str,
    source: str,
    out: str | None,
    copy: str,
    in_place: bool,
    name: str,
    session: str | None,
    choices: ReaderChoices,
    device: str | None,
    precision: str,
    overwrite: bool,
    as_json: bool,
    quiet: bool,
    cache_dir: str | None,
    stream: bool,
    dandi_api_url: str | None,
) -> None:
    """Predict every imaging frame of SOURCE with CHECKPOINT (a .ckpt, or RUN/best) into an NWB module.

    SOURCE is an .nwb file or .nwb.zarr store, or a folder / dandiset (then one file per session under
    --out).

    \b
    Examples:
      nwb-v1former predict run/best session.nwb --out session_predictions.nwb
      nwb-v1former predict run/best session.nwb --out copy.nwb --copy full
      nwb-v1former predict run/best session.nwb --in-place
    """
    options = {
        "copy": copy,
        "name": name,
        "session": session,
        "choices": choices,
        "overwrite": overwrite,
        "device": device,
        "precision": precision,
        "progress": not quiet,
    }
    if is_dandi_source(source) or is_session_folder(Path(source)):
        if stream or in_place or out is None:
            raise click.UsageError(
                "a folder or dandiset SOURCE needs --out FOLDER (no --in-place, no --stream)"
            )
        results = predict_sources(
            checkpoint,
            [source],
            out,
            cache_dir=cache_dir,
            api_url=dandi_api_url,
            on_skip=lambda line: click.echo(line, err=True),
            **options,
        )
        if as_json:
            click.echo(json.dumps([result.to_dict() for result in results], indent=2))
            return
        click.echo(f"Predicted {len(results)} session(s) into {out}:")
        for result in results:
            click.echo(f"  {result.written.path} (readout {result.session})")
        return
    result = predict(checkpoint, source, out, in_place=in_place, **options)
    if as_json:  # a list whatever the SOURCE, as for a folder or dandiset
        click.echo(json.dumps([result.to_dict()], indent=2))
        return
    written = result.written
    kind = "" if written.copy is None else f" ({written.copy}, identifier {written.identifier})"
    click.echo(
        f"Wrote {written.module} into {written.path}{kind}: {len(written.series)} series, "
        f"{written.predicted_frames} of {written.frames} imaging frames predicted (readout {result.session})"
        + (" [replaced earlier predictions of that name]" if written.replaced else "")
    )
    if result.evaluation is not None:
        summary = result.evaluation.summary()
        figures = ", ".join(f"{metric} {value:.3f}" for metric, value in summary.items() if value is not None)
        click.echo(f"  on {result.evaluation.n_trials} {result.evaluation.tier} trials: {figures}")
