"""`nwb-v1former insilico`: experiments on a fitted model (gratings, receptive fields, attention)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import click

from nwb_v1former.analysis.attention import AttentionConfig
from nwb_v1former.analysis.insilico_text import summary_lines
from nwb_v1former.analysis.receptive_fields import NoiseConfig
from nwb_v1former.analysis.tuning import GratingConfig
from nwb_v1former.nwb.write import DEFAULT_NAME
from nwb_v1former.pipeline.insilico import InsilicoOutput, run_attention, run_receptive_fields, run_tuning


def _common(command: Callable) -> Callable:
    """Options every experiment takes."""
    options = [
        click.option(
            "--out",
            type=click.Path(file_okay=False),
            default=None,
            help="Folder for the results [default: RUN/insilico when CHECKPOINT is RUN/best or a run "
            "folder; `nwb-v1former report RUN` then shows them].",
        ),
        click.option("--session", default=None, help="Session key: the readout (or DATA session) to use."),
        click.option(
            "--nwb",
            type=click.Path(),
            default=None,
            help="Also add the result table to the predictions in this NWB file or .nwb.zarr store "
            "(written by `predict` with the same checkpoint), in place.",
        ),
        click.option(
            "--name", default=DEFAULT_NAME, show_default=True, help="Processing module of the predictions."
        ),
        click.option(
            "--device", default=None, help="cpu, cuda, cuda:N [default: a GPU if there is one, else cpu]."
        ),
        click.option("--overwrite", is_flag=True, help="Replace this experiment's earlier results in --out."),
        click.option("--json", "as_json", is_flag=True, help="Print the result as JSON."),
        click.option("--quiet", is_flag=True, help="No progress bars."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _data_option(command: Callable) -> Callable:
    return click.option(
        "--data",
        default=None,
        help="Session whose behaviour to hold, any SOURCE (store, NWB file, folder, dandiset): its median "
        "pupil size; still, or its 90th-percentile running speed [default: pupil 4, running 0 or 2, "
        "normalised units].",
    )(command)


def _library_options(options: dict[str, Any]) -> dict[str, Any]:
    """The pipeline's keyword arguments for the common options."""
    return {
        "session": options["session"],
        "nwb": options["nwb"],
        "name": options["name"],
        "device": options["device"],
        "overwrite": options["overwrite"],
        "progress": not options["quiet"] and sys.stderr.isatty(),
    }


def _report(output: InsilicoOutput, options: dict[str, Any]) -> None:
    """Print the result as JSON, or where it went and its summary in words."""
    if options["as_json"]:
        click.echo(json.dumps(output.to_dict(), indent=2))
        return
    click.echo(
        f"{output.analysis} ({output.provenance.session}) -> {', '.join(map(str, output.files.values()))}"
    )
    for line in summary_lines(output.analysis, output.summary, output.config):
        click.echo(f"  {line}")
    for table in output.nwb_tables:
        click.echo(f"  added {table} to {options['nwb']}")


@click.group("insilico")
def insilico_group() -> None:
    """In-silico experiments on a fitted model: results as JSON, NPZ and PNG (and NWB tables)."""


@insilico_group.command("tuning")
@click.argument("checkpoint", type=click.Path())
@_data_option
@click.option(
    "--directions", type=click.IntRange(4), default=12, show_default=True, help="Directions (even)."
)
@_common
def tuning_command(checkpoint: str, data: str | None, directions: int, **options: Any) -> None:
    """Drifting gratings shown to CHECKPOINT: per-ROI orientation and direction tuning, still and running."""
    config = GratingConfig(directions=directions)
    output = run_tuning(checkpoint, options["out"], data=data, config=config, **_library_options(options))
    _report(output, options)


@insilico_group.command("rf")
@click.argument("checkpoint", type=click.Path())
@_data_option
@click.option("--roi", "rois", type=int, multiple=True, help="Map only this ROI id (repeatable).")
@click.option("--clips", type=click.IntRange(1), default=8, show_default=True, help="Noise clips per ROI.")
@_common
def rf_command(checkpoint: str, data: str | None, rois: tuple[int, ...], clips: int, **options: Any) -> None:
    """Spatial receptive fields of CHECKPOINT's ROIs from its gradients: maps, centres and sizes."""
    output = run_receptive_fields(
        checkpoint,
        options["out"],
        data=data,
        roi_ids=list(rois) or None,
        config=NoiseConfig(clips=clips),
        **_library_options(options),
    )
    _report(output, options)


@insilico_group.command("attention")
@click.argument("checkpoint", type=click.Path())
@click.argument("data")
@click.option("--tier", default="test", show_default=True, help="Held-out trials to analyse.")
@click.option("--max-trials", type=click.IntRange(1), default=None, help="Analyse at most this many trials.")
@_common
def attention_command(checkpoint: str, data: str, tier: str, max_trials: int | None, **options: Any) -> None:
    """Attention of CHECKPOINT's spatial and temporal Transformers on DATA's held-out trials, against
    pupil position, pupil size and running speed, with a circular-shift control (DATA: any SOURCE, a
    converted store, an NWB file, a folder or a dandiset)."""
    config = AttentionConfig(tier=tier, max_trials=max_trials)
    output = run_attention(checkpoint, data, options["out"], config=config, **_library_options(options))
    _report(output, options)
