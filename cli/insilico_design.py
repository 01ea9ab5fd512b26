"""`nwb-v1former insilico mei`, `surround`, `controls`, `export` and `loop`: stimuli a model designs,
the controls they are judged against, shown, judged."""

from __future__ import annotations

import sys
from typing import Any

import click
from nwb_v1former.cli.checkpoints import checkpoint_argument
from nwb_v1former.cli.insilico import (
    EPILOG,
    _common,
    _data_option,
    _heartbeat,
    _library_options,
    _report,
    insilico_group,
)

_ROI_HELP = "ROI id to target; repeat for several, e.g. --roi 12 --roi 40"


@insilico_group.command("mei", epilog=EPILOG)
@checkpoint_argument
@click.option(
    "--data",
    required=True,
    help="The session the model was fitted to, any SOURCE (e.g. --data RUN/data): its video statistics "
    "put the stimuli on the screen's pixel scale; its median pupil size is held.",
)
@click.option("--roi", "rois", type=int, multiple=True, help=f"{_ROI_HELP} [default: every ROI].")
@click.option(
    "--population", is_flag=True, help="One stimulus for all the ROIs together (mean response over grey)."
)
@click.option("--video", is_flag=True, help="Most exciting videos (MEVs) rather than images.")
@click.option("--inhibit", is_flag=True, help="Most inhibiting rather than most exciting.")
@click.option(
    "--region",
    type=click.Choice(["full", "centre", "surround"]),
    default="full",
    show_default=True,
    help="centre: confined to a disc around each ROI's RF; surround: the rest, around a fixed centre "
    "(its centre MEI). Both read the RFs `insilico rf` wrote to --out.",
)
@click.option(
    "--contrast",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="RMS contrast budget, in training-video standard deviations (1: the training movies').",
)
@click.option(
    "--spectrum-weight",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Hold the stimuli's spatial spectrum near the --data movies' with this penalty weight "
    "(0: only report the distance, beside the movies' own frames'; 10: a strong hold).",
)
@click.option("--steps", type=click.IntRange(1), default=100, show_default=True, help="Optimiser steps.")
@click.option("--starts", type=click.IntRange(1), default=3, show_default=True, help="Random starts.")
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True, help="Seed of the starts.")
@_common
def mei_command(
    checkpoint: str,
    data: str,
    rois: tuple[int, ...],
    population: bool,
    video: bool,
    inhibit: bool,
    region: str,
    contrast: float,
    spectrum_weight: float,
    steps: int,
    starts: int,
    seed: int,
    **options: Any,
) -> None:
    """Most exciting (or inhibiting) images or videos of CHECKPOINT's ROIs, one per ROI or one for the
    population, in the screen's range at a stated contrast, from several random starts."""
    from nwb_v1former.analysis.mei import MEIConfig
    from nwb_v1former.pipeline.design import run_mei

    config = MEIConfig(
        kind="video" if video else "image",
        direction="inhibit" if inhibit else "excite",
        region=region,
        contrast=contrast,
        spectrum_weight=spectrum_weight,
        steps=steps,
        starts=starts,
        seed=seed,
    )
    with _heartbeat("mei", checkpoint, options):
        output = run_mei(
            checkpoint,
            data,
            options["out"],
            roi_ids=list(rois) or None,
            population=population,
            config=config,
            **_library_options(options),
        )
    _report(output, options)


@insilico_group.command("surround", epilog=EPILOG)
@checkpoint_argument
@_data_option
@click.option(
    "--roi", "rois", type=int, multiple=True, help=f"{_ROI_HELP} [default: every ROI `insilico rf` mapped]."
)
@_common
def surround_command(checkpoint: str, data: str | None, rois: tuple[int, ...], **options: Any) -> None:
    """Size tuning (preferred size, suppression index) and iso / cross surround modulation of CHECKPOINT's
    ROIs, with gratings centred on the RFs `insilico rf` wrote to --out."""
    from nwb_v1former.pipeline.design import run_contextual

    with _heartbeat("surround", checkpoint, options):
        output = run_contextual(
            checkpoint, options["out"], roi_ids=list(rois) or None, data=data, **_library_options(options)
        )
    _report(output, options)


@insilico_group.command("controls", epilog=EPILOG)
@checkpoint_argument
@click.option(
    "--data",
    required=True,
    help="The session the model was fitted to, any SOURCE (e.g. --data RUN/data): its training trials "
    "are searched for each ROI's best natural clip.",
)
@click.option(
    "--roi",
    "rois",
    type=int,
    multiple=True,
    help=f"{_ROI_HELP} [default: every ROI `insilico surround` measured].",
)
@click.option(
    "--stride",
    type=click.IntRange(1),
    default=10,
    show_default=True,
    help="Ticks between the natural windows scored (smaller: a finer search, more model time).",
)
@_common
def controls_command(checkpoint: str, data: str, rois: tuple[int, ...], stride: int, **options: Any) -> None:
    """Each ROI's best natural clip (of its training movies) and best grating (from `insilico surround`
    in --out), chosen by the model and shown like the designed stimuli, for `insilico export` to put
    beside them as the loop's controls."""
    from nwb_v1former.analysis.controls import ControlConfig
    from nwb_v1former.pipeline.design import run_controls

    with _heartbeat("controls", checkpoint, options):
        output = run_controls(
            checkpoint,
            data,
            options["out"],
            roi_ids=list(rois) or None,
            config=ControlConfig(stride=stride),
            **_library_options(options),
        )
    _report(output, options)


def _screen(value: str) -> tuple[int, int]:
    try:
        height, width = (int(part) for part in value.lower().split("x"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not HEIGHTxWIDTH, e.g. 1080x1920") from None
    return height, width


@insilico_group.command("export")
@click.argument("results", type=click.Path(file_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="The stimulus set, an .nwb file.")
@click.option(
    "--analysis",
    "analyses",
    multiple=True,
    help="Export this MEI result (e.g. mei_image_excite_full); "
    "repeat for several [default: every mei_* result in RESULTS].",
)
@click.option(
    "--repeats", type=click.IntRange(1), default=10, show_default=True, help="Presentations of each stimulus."
)
@click.option(
    "--gap",
    type=click.FloatRange(0),
    default=1.0,
    show_default=True,
    help="Grey before each presentation (s).",
)
@click.option(
    "--frame-rate", type=float, default=60.0, show_default=True, help="Screen refresh (Hz), a multiple of 30."
)
@click.option(
    "--screen",
    default="144x256",
    show_default=True,
    help="Screen HEIGHTxWIDTH in pixels, a multiple of 36x64.",
)
@click.option(
    "--seed", type=click.IntRange(0), default=0, show_default=True, help="Seed of the presentation order."
)
@click.option(
    "--controls/--no-controls",
    default=True,
    show_default=True,
    help="Add each targeted ROI's best natural clip and best grating (`insilico controls` in RESULTS).",
)
@click.option(
    "--video/--no-video",
    default=True,
    show_default=True,
    help="Also write the screen as a lossless .mp4 beside --out, refresh by refresh.",
)
@click.option("--overwrite", is_flag=True, help="Replace an earlier stimulus set at --out.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def export_command(
    results: str,
    out: str,
    analyses: tuple[str, ...],
    repeats: int,
    gap: float,
    frame_rate: float,
    screen: str,
    seed: int,
    controls: bool,
    video: bool,
    overwrite: bool,
    quiet: bool,
) -> None:
    """Export the stimuli designed in RESULTS (`insilico mei`'s folder), with their controls, for
    presentation: an NWB file with the stimuli as templates and a shuffled, repeated schedule with grey
    gaps; the stimuli also as .npz, and the screen as an .mp4."""
    from nwb_v1former.analysis.controls import CONTROL_ROLES
    from nwb_v1former.nwb.stimulus_set import ScheduleConfig
    from nwb_v1former.pipeline.export import export_stimuli

    config = ScheduleConfig(
        repeats=repeats, gap_s=gap, frame_rate=frame_rate, screen=_screen(screen), seed=seed
    )
    stimuli, schedule = export_stimuli(
        results,
        out,
        analyses=list(analyses) or None,
        controls=controls,
        video=video,
        config=config,
        overwrite=overwrite,
        progress=not quiet and sys.stderr.isatty(),
    )
    added = sum(role in CONTROL_ROLES for role in stimuli.roles)
    click.echo(
        f"{len(stimuli.names)} stimuli ({added} of them controls) x {repeats} repeats "
        f"({len(schedule.stimulus)} presentations, {schedule.stop_s[-1]:.1f} s) -> {out} (and .npz"
        f"{', .mp4' if video else ''}); targeted ROIs {stimuli.provenance['targeted_rois']}"
    )


@insilico_group.command("loop", epilog=EPILOG)
@checkpoint_argument
@click.option(
    "--set",
    "stimulus_set",
    required=True,
    type=click.Path(dir_okay=False),
    help="The stimulus set shown (`insilico export`).",
)
@click.option(
    "--data",
    required=True,
    help="The session recorded while the set was shown, any SOURCE (NWB file, store).",
)
@_common
def loop_command(checkpoint: str, stimulus_set: str, data: str, **options: Any) -> None:
    """Close the loop: find the set's stimuli in the --data session by their frames and test each
    designed stimulus against its controls (the other ROIs' designs, the ROI's best natural clip and best
    grating), recorded and predicted, with paired Wilcoxon tests, effect sizes and Benjamini-Hochberg
    correction."""
    from nwb_v1former.pipeline.closed_loop import run_loop

    library = _library_options(options)
    if library.pop("nwb") is not None:
        raise click.UsageError("insilico loop does not add its table to a predictions file; drop --nwb")
    library.pop("name", None)
    with _heartbeat("loop", checkpoint, options):
        output = run_loop(checkpoint, stimulus_set, data, options["out"], **library)
    _report(output, options)
