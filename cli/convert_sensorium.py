"""`nwb-v1former convert-sensorium`: one Sensorium 2023 mouse folder -> one NWB file (neuroconv)."""

from __future__ import annotations

import sys

import click


@click.command("convert-sensorium")
@click.argument("folder", type=click.Path())
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="NWB file to create.")
@click.option(
    "--metadata",
    "metadata_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="YAML/JSON with NWBFile and Subject blocks (neuroconv layout) overriding the folder-name defaults.",
)
@click.option("--overwrite", is_flag=True, help="Replace an NWB file an earlier convert-sensorium wrote.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def convert_sensorium_command(
    folder: str, out: str, metadata_path: str | None, overwrite: bool, quiet: bool
) -> None:
    """Convert one Sensorium 2023 mouse FOLDER (data/ and meta/ of .npy files) into an NWB file."""
    from nwb_v1former.sources.sensorium import convert_sensorium

    path = convert_sensorium(
        folder,
        out,
        metadata_path=metadata_path,
        overwrite=overwrite,
        progress=not quiet and sys.stderr.isatty(),
    )
    click.echo(f"Wrote {path}")
