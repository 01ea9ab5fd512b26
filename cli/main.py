"""The `nwb-v1former` click group; user errors become one line on stderr and a non-zero exit.

Commands are imported only when asked for (cli.lazy), so `--version` and `--help` never import torch or
pynwb; Ctrl-C ends a command with exit status 130 and a line saying how to continue.
"""

from __future__ import annotations

import click
from nwb_v1former.cli.lazy import LazyGroup

from nwb_v1former import __version__
from nwb_v1former.atomic import write_failure
from nwb_v1former.errors import V1FormerError

COMMANDS = {
    "simulate": (
        "nwb_v1former.cli.simulate:simulate_command",
        "Simulate mouse V1 sessions with known ground truth, in a real-world layout.",
    ),
    "inspect": (
        "nwb_v1former.cli.inspect:inspect_command",
        "Show what each SOURCE holds, what the reader will use, and every problem.",
    ),
    "convert": (
        "nwb_v1former.cli.convert:convert_command",
        "Convert SOURCES into the training-ready dataset.",
    ),
    "convert-sensorium": (
        "nwb_v1former.cli.convert_sensorium:convert_sensorium_command",
        "Convert one Sensorium 2023 mouse folder into an NWB file.",
    ),
    "import-viv1t": (
        "nwb_v1former.cli.import_viv1t:import_viv1t_command",
        "Import a ViV1T checkpoint in the authors' layout.",
    ),
    "pretrain": (
        "nwb_v1former.cli.train:pretrain_command",
        "Train a core and readouts from scratch on many sessions.",
    ),
    "compare": (
        "nwb_v1former.cli.compare:compare_command",
        "Train model families on the same sessions and score them side by side.",
    ),
    "finetune": (
        "nwb_v1former.cli.train:finetune_command",
        "Fresh readouts for new animals on a pretrained core.",
    ),
    "predict": (
        "nwb_v1former.cli.predict:predict_command",
        "Predict every imaging frame of a SOURCE into an NWB module.",
    ),
    "evaluate": (
        "nwb_v1former.cli.evaluate:evaluate_command",
        "Score a checkpoint per session and per neuron.",
    ),
    "report": ("nwb_v1former.cli.report:report_command", "Write a run's HTML report."),
    "demo": (
        "nwb_v1former.cli.demo:demo_command",
        "The whole pipeline on a simulated mouse, on a laptop CPU: start here.",
    ),
    "insilico": (
        "nwb_v1former.cli.insilico:insilico_group",
        "In-silico experiments on a fitted model (tuning, receptive fields, attention).",
    ),
}
"""Every command, in the order --help lists them: name -> ('module:click object', its line in --help)."""

RESUMABLE = ("pretrain", "finetune")
"""Commands whose interrupted run continues with --resume (last.ckpt is written every epoch)."""

INTERRUPTED_EXIT = 130
"""The shell's status for a command ended by SIGINT (128 + 2)."""


class Interrupted(click.ClickException):
    """Ctrl-C (SIGINT): one line saying how to go on, and exit status 130."""

    exit_code = INTERRUPTED_EXIT


def interrupted_hint(command: str | None) -> str:
    """What an interrupted `command` left and how to go on."""
    if command in RESUMABLE:
        return (
            "interrupted; the run continues from its last finished epoch with the same command, "
            "--resume added, and the same --out"
        )
    return "interrupted; outputs are written whole or not at all, so run the same command again"


class _Group(LazyGroup):
    """Click group that reports library errors as `Error: <one line>`, exit code 1, never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise Interrupted(interrupted_hint(ctx.invoked_subcommand)) from None
        except V1FormerError as error:
            raise click.ClickException(str(error)) from None
        except OSError as error:  # an OS error no layer named (e.g. making a folder): one line, its file
            if error.errno is None or error.filename is None:
                raise
            failure = write_failure(error.filename, error)
            raise click.ClickException(str(failure or f"{error.filename}: {error.strerror}")) from None


@click.group(cls=_Group, lazy_commands=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="nwb-v1former")
def main() -> None:
    """Fit the ViV1T model of mouse V1 to your NWB / DANDI calcium-imaging sessions."""
