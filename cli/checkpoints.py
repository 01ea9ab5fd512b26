"""The CHECKPOINT argument, one convention for every command that reads a fitted model: a .ckpt file,
or a run folder (also written RUN/best) meaning RUN/best.ckpt (resolved by
nwb_v1former.run_folder.checkpoint_file, which the library uses too)."""

from __future__ import annotations

import click

CHECKPOINT_HELP = (
    "A CHECKPOINT is a .ckpt file, or a run folder (RUN or RUN/best) meaning RUN/best.ckpt; "
    "e.g. run/ or run/best.ckpt."
)

checkpoint_argument = click.argument("checkpoint", type=click.Path())
"""The positional CHECKPOINT (the library resolves it, so a missing one is its one-line error)."""
