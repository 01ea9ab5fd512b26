"""Options every command that reads NWB sessions shares, for the choices a file can leave the reader:
--responses, --stimulus (repeatable), --image-order and --split, handed to the command as one
`choices`."""

from __future__ import annotations

import functools
from collections.abc import Callable

import click
from nwb_v1former.cli.lazy import LazyChoice, attribute

from nwb_v1former.errors import ConfigError

MAX_NAN_FRACTION = "nwb_v1former.nwb.read:MAX_NAN_FRACTION"

_OPTIONS = (
    click.option("--responses", default=None, help="Name or path of the response series to use."),
    click.option(
        "--stimulus",
        multiple=True,
        help="Name or path of a stimulus object to use; repeat for several [default: every stimulus in "
        "/stimulus or named as one, never a camera's video].",
    ),
    click.option(
        "--image-order",
        type=LazyChoice("nwb_v1former.nwb.frame_sources:IMAGE_ORDERS"),
        default=None,
        help="How images without order_of_images are indexed: auto (by the numbers in their names when "
        "those are 0..n-1, else refuse), numbers (by those numbers), names (name order) [default: auto, "
        "or for predict what training recorded].",
    ),
    click.option(
        "--split",
        type=LazyChoice("nwb_v1former.nwb.trials:SPLITS"),
        default=None,
        help="How trials get tiers: file (its tier column), stimulus (repeated clips held out whole, the "
        "rest train), clips (whole clips to train/validation/test), segments (every clip cut by time "
        "70/10/20). auto: file if it has tiers, else stimulus if some clip is shown once, else clips if 3 "
        "or more, else segments [default: auto, or for predict what training recorded].",
    ),
)


max_nan_fraction_option = click.option(
    "--max-nan-fraction",
    type=click.FloatRange(0, 1),
    default=None,
    callback=lambda ctx, param, value: attribute(MAX_NAN_FRACTION) if value is None else value,
    help="Refuse responses with more NaN imaging frames than this fraction; fewer are dropped and "
    "counted [default: 0.05].",
)
"""convert's limit on NaN imaging frames, which inspect takes too so that it judges as convert does
(not given: the reader's own, imported only then; the help states it and a test keeps the two equal)."""


def reader_options(command: Callable) -> Callable:
    """Add --responses, --stimulus, --image-order and --split; the command receives `choices`."""

    @functools.wraps(command)
    def wrapped(
        *args,
        responses: str | None,
        stimulus: tuple[str, ...],
        image_order: str | None,
        split: str | None,
        **kwargs,
    ):
        from nwb_v1former.nwb.choices import ReaderChoices

        try:
            choices = ReaderChoices(responses, stimulus, image_order, split)
        except ConfigError as error:
            raise click.UsageError(str(error)) from None
        return command(*args, choices=choices, **kwargs)

    for option in reversed(_OPTIONS):
        wrapped = option(wrapped)
    return wrapped
