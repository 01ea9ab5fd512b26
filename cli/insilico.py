"""`nwb-v1former insilico`: experiments on a fitted model (gratings, receptive fields, attention)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import click
from nwb_v1former.cli.checkpoints import CHECKPOINT_HELP, checkpoint_argument
from nwb_v1former.cli.lazy import LazyChoice
from nwb_v1former.cli.precision_option import precision_option
from nwb_v1former.cli.source_options import SOURCE_HELP

from nwb_v1former.progress import Reporter

if TYPE_CHECKING:
    from nwb_v1former.pipeline.insilico import InsilicoOutput


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
            "--name",
            default=None,
            help="Processing module of the predictions in --nwb [default: the one `predict` writes, "
            "v1former_predictions].",
        ),
        click.option(
            "--device", default=None, help="cpu, cuda, cuda:N [default: a GPU if there is one, else cpu]."
        ),
        precision_option,
        click.option("--overwrite", is_flag=True, help="Replace this experiment's earlier results in --out."),
        click.option("--json", "as_json", is_flag=True, help="Print the result as JSON."),
        click.option(
            "--quiet",
            is_flag=True,
            help="Say nothing while working (by default: progress bars on a terminal; without one, a "
            "line at least every minute).",
        ),
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
        "normalised units]. Example: --data RUN/data.",
    )(command)


def _library_options(options: dict[str, Any]) -> dict[str, Any]:
    """The pipeline's keyword arguments for the common options (--name only when given)."""
    return {
        "session": options["session"],
        "nwb": options["nwb"],
        **({"name": options["name"]} if options["name"] else {}),
        "device": options["device"],
        "precision": options["precision"],
        "overwrite": options["overwrite"],
        "progress": not options["quiet"] and sys.stderr.isatty(),
    }


def _heartbeat(analysis: str, checkpoint: str, options: dict[str, Any]) -> AbstractContextManager[None]:
    """In a log, a line at least every minute while the experiment runs."""
    return Reporter.for_terminal(quiet=options["quiet"]).heartbeat(f"insilico {analysis} on {checkpoint}")


def _report(output: InsilicoOutput, options: dict[str, Any]) -> None:
    """Print the result as JSON, or where it went and its summary in words."""
    from nwb_v1former.analysis.insilico_text import summary_lines

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


EPILOG = f"{CHECKPOINT_HELP} {SOURCE_HELP}"


@insilico_group.command("tuning", epilog=EPILOG)
@checkpoint_argument
@_data_option
@click.option(
    "--directions",
    type=click.IntRange(4),
    default=12,
    show_default=True,
    help="Directions of drift, evenly spaced (an even number, so each orientation has both).",
)
@_common
def tuning_command(checkpoint: str, data: str | None, directions: int, **options: Any) -> None:
    """Drifting gratings shown to CHECKPOINT: per-ROI orientation and direction tuning, still and running."""
    from nwb_v1former.analysis.tuning import GratingConfig
    from nwb_v1former.pipeline.insilico import run_tuning

    config = GratingConfig(directions=directions)
    with _heartbeat("tuning", checkpoint, options):
        output = run_tuning(checkpoint, options["out"], data=data, config=config, **_library_options(options))
    _report(output, options)


@insilico_group.command("rf", epilog=EPILOG)
@checkpoint_argument
@_data_option
@click.option(
    "--roi",
    "rois",
    type=int,
    multiple=True,
    help="Map only this ROI id; repeat for several, e.g. --roi 12 --roi 40 [default: every ROI].",
)
@click.option(
    "--clips",
    type=click.IntRange(1),
    default=8,
    show_default=True,
    help="Blurred-noise clips per ROI (more: smoother maps, longer run).",
)
@_common
def rf_command(checkpoint: str, data: str | None, rois: tuple[int, ...], clips: int, **options: Any) -> None:
    """Spatial receptive fields of CHECKPOINT's ROIs from its gradients: maps, centres and sizes."""
    from nwb_v1former.analysis.receptive_fields import NoiseConfig
    from nwb_v1former.pipeline.insilico import run_receptive_fields

    with _heartbeat("rf", checkpoint, options):
        output = run_receptive_fields(
            checkpoint,
            options["out"],
            data=data,
            roi_ids=list(rois) or None,
            config=NoiseConfig(clips=clips),
            **_library_options(options),
        )
    _report(output, options)


@insilico_group.command("attention", epilog=EPILOG)
@checkpoint_argument
@click.argument("data_argument", metavar="[DATA]", required=False)
@click.option(
    "--data",
    default=None,
    help="The session whose held-out trials to analyse, any SOURCE (store, NWB file, folder, dandiset); "
    "e.g. --data RUN/data. (DATA as a second argument still works, deprecated.)",
)
@click.option(
    "--tier",
    type=LazyChoice("nwb_v1former.nwb.trials:TIER_ORDER"),
    default="test",
    show_default=True,
    help="Which trials to analyse (held-out: test or validation).",
)
@click.option(
    "--max-trials",
    type=click.IntRange(1),
    default=None,
    help="Analyse at most this many trials [default: every trial of the tier].",
)
@_common
def attention_command(
    checkpoint: str,
    data_argument: str | None,
    data: str | None,
    tier: str,
    max_trials: int | None,
    **options: Any,
) -> None:
    """Attention of CHECKPOINT's spatial and temporal Transformers on the held-out trials of --data,
    against pupil position, pupil size and running speed, with a circular-shift control."""
    from nwb_v1former.analysis.attention import AttentionConfig
    from nwb_v1former.pipeline.insilico import run_attention

    data = _attention_data(data_argument, data)
    config = AttentionConfig(tier=tier, max_trials=max_trials)
    with _heartbeat("attention", checkpoint, options):
        output = run_attention(checkpoint, data, options["out"], config=config, **_library_options(options))
    _report(output, options)


def _attention_data(positional: str | None, option: str | None) -> str:
    """--data, as tuning and rf take it; the older second argument with a line saying it is deprecated."""
    if positional is not None and option is not None:
        raise click.UsageError("give the session once: --data SOURCE (not also as a second argument)")
    if positional is not None:
        click.echo("note: DATA as a second argument is deprecated; write --data DATA", err=True)
        return positional
    if option is None:
        raise click.UsageError("give the session to analyse: --data SOURCE (e.g. --data RUN/data)")
    return option


# The designed-stimulus commands (mei, surround, export, loop) live in their own module and register here.
from nwb_v1former.cli import insilico_design  # noqa: E402, F401
