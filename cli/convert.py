"""`nwb-v1former convert`: NWB sessions -> the common dataset (one store folder per file)."""

from __future__ import annotations

import json
import sys

import click

from nwb_v1former.nwb.convert import convert
from nwb_v1former.nwb.read import MAX_NAN_FRACTION


@click.command("convert")
@click.argument("sources", nargs=-1, required=True, type=click.Path())
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder to create.")
@click.option("--responses", default=None, help="Name or path of the response series to use.")
@click.option("--stimulus", default=None, help="Name or path of the stimulus to use (default: all).")
@click.option(
    "--max-nan-fraction",
    type=click.FloatRange(0, 1),
    default=MAX_NAN_FRACTION,
    show_default=True,
    help="Refuse responses with more NaN imaging frames than this; fewer are dropped and counted.",
)
@click.option("--overwrite", is_flag=True, help="Replace --out if it exists.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def convert_command(
    sources: tuple[str, ...],
    out: str,
    responses: str | None,
    stimulus: str | None,
    max_nan_fraction: float,
    overwrite: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Convert NWB SOURCES (files or folders of .nwb) into the training-ready common dataset."""
    sessions = convert(
        list(sources),
        out,
        overwrite=overwrite,
        responses=responses,
        stimulus=stimulus,
        max_nan_fraction=max_nan_fraction,
        progress=not quiet and sys.stderr.isatty(),
    )
    rows = [
        {
            "key": s.key,
            "source": str(s.source),
            "folder": str(s.folder),
            "ticks": s.ticks,
            "neurons": s.neurons,
        }
        for s in sessions
    ]
    if as_json:
        click.echo(json.dumps({"out": out, "sessions": rows}, indent=2))
        return
    click.echo(f"Converted {len(rows)} session(s) into {out}:")
    for row in rows:
        click.echo(
            f"  {row['key']}: {row['ticks']} ticks at 30 Hz, {row['neurons']} neurons  <- {row['source']}"
        )
