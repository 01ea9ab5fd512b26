"""The `nwb-v1former` click group; user errors become one line on stderr and a non-zero exit."""

from __future__ import annotations

import click
from nwb_v1former.cli.compare import compare_command
from nwb_v1former.cli.convert import convert_command
from nwb_v1former.cli.convert_sensorium import convert_sensorium_command
from nwb_v1former.cli.demo import demo_command
from nwb_v1former.cli.evaluate import evaluate_command
from nwb_v1former.cli.import_viv1t import import_viv1t_command
from nwb_v1former.cli.insilico import insilico_group
from nwb_v1former.cli.inspect import inspect_command
from nwb_v1former.cli.predict import predict_command
from nwb_v1former.cli.report import report_command
from nwb_v1former.cli.simulate import simulate_command
from nwb_v1former.cli.train import finetune_command, pretrain_command

from nwb_v1former import __version__
from nwb_v1former.atomic import write_failure
from nwb_v1former.errors import V1FormerError


class _Group(click.Group):
    """Click group that reports library errors as `Error: <one line>`, exit code 1, never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except V1FormerError as error:
            raise click.ClickException(str(error)) from None
        except OSError as error:  # an OS error no layer named (e.g. making a folder): one line, its file
            if error.errno is None or error.filename is None:
                raise
            failure = write_failure(error.filename, error)
            raise click.ClickException(str(failure or f"{error.filename}: {error.strerror}")) from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="nwb-v1former")
def main() -> None:
    """Fit the ViV1T model of mouse V1 to your NWB / DANDI calcium-imaging sessions."""


main.add_command(simulate_command)
main.add_command(inspect_command)
main.add_command(convert_command)
main.add_command(convert_sensorium_command)
main.add_command(import_viv1t_command)
main.add_command(pretrain_command)
main.add_command(compare_command)
main.add_command(finetune_command)
main.add_command(predict_command)
main.add_command(evaluate_command)
main.add_command(report_command)
main.add_command(demo_command)
main.add_command(insilico_group)
