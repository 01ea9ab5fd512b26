"""The `nwb-v1former` click group; user errors become one line on stderr and a non-zero exit.

Commands are imported only when asked for (cli.lazy), so `--version` and `--help` never import torch or
pynwb; Ctrl-C and SIGTERM end a command as a failure does (outputs whole or absent, temporary files
removed), with exit status 130 or 143 and a line saying how to continue.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

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

SIGNAL_EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143}
"""The shell's status for a command ended by a signal: 128 + its number."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the process is (as Ctrl-C is), so that the same clean-up runs."""


class Interrupted(click.ClickException):
    """A command ended by SIGINT or SIGTERM: one line saying how to go on, and the shell's status."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def interrupted_hint(command: str | None, how: str = "interrupted") -> str:
    """What `command`, `how` ended ("interrupted", "terminated"), left and how to go on."""
    if command in RESUMABLE:
        return (
            f"{how}; the run continues from its last finished epoch with the same command, "
            "--resume added, and the same --out"
        )
    return f"{how}; outputs are written whole or not at all, so run the same command again"


def _raise_terminated(_signum: int, _frame: object) -> None:
    raise Terminated


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """While a command runs, SIGTERM (a scheduler's time limit, `kill`) unwinds it as Ctrl-C does."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class _Group(LazyGroup):
    """Click group that reports library errors as `Error: <one line>`, exit code 1, never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            with _sigterm_as_interrupt():
                return super().invoke(ctx)
        except Terminated:
            raise Interrupted(
                interrupted_hint(ctx.invoked_subcommand, "terminated"), SIGNAL_EXIT[signal.SIGTERM]
            ) from None
        except KeyboardInterrupt:
            raise Interrupted(interrupted_hint(ctx.invoked_subcommand), SIGNAL_EXIT[signal.SIGINT]) from None
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
