"""`--precision`, shared by the commands that run a fitted model (predict, evaluate, insilico)."""

from __future__ import annotations

import click
from nwb_v1former.cli.lazy import LazyChoice

PRECISION_HELP = (
    "Arithmetic of the model's core: bf16 autocast or float32 (the tokenizer convolution and the heads are "
    "float32 either way); auto picks bf16 on CUDA GPUs of compute capability 8.0 or above and on CPUs with "
    "AMX, where it runs about twice as fast, else float32. The README states what bf16 changes."
)

precision_option = click.option(
    "--precision",
    type=LazyChoice("nwb_v1former.precision:PRECISIONS"),
    default="auto",
    show_default=True,
    help=PRECISION_HELP,
)
