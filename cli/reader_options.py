"""Options every command that reads NWB sessions shares, for the choices a file can leave the reader:
--responses, --stimulus (repeatable) and --image-order, handed to the command as one `choices`."""

from __future__ import annotations

import functools
from collections.abc import Callable

import click

from nwb_v1former.errors import ConfigError
from nwb_v1former.nwb.choices import ReaderChoices
from nwb_v1former.nwb.frame_sources import IMAGE_ORDERS

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
        type=click.Choice(IMAGE_ORDERS),
        default="auto",
        show_default=True,
        help="How images without order_of_images are indexed: auto (by the numbers in their names when "
        "those are 0..n-1, else refuse), numbers (by those numbers), names (name order).",
    ),
)


def reader_options(command: Callable) -> Callable:
    """Add --responses, --stimulus and --image-order; the command receives `choices: ReaderChoices`."""

    @functools.wraps(command)
    def wrapped(*args, responses: str | None, stimulus: tuple[str, ...], image_order: str, **kwargs):
        try:
            choices = ReaderChoices(responses=responses, stimulus=stimulus, image_order=image_order)
        except ConfigError as error:
            raise click.UsageError(str(error)) from None
        return command(*args, choices=choices, **kwargs)

    for option in reversed(_OPTIONS):
        wrapped = option(wrapped)
    return wrapped
