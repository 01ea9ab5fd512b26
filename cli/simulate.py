"""`nwb-v1former simulate`: ground-truth sessions for demos, tests and benchmarks."""

from __future__ import annotations

import json
import sys

import click
from nwb_v1former.cli.lazy import LazyChoice


@click.command("simulate")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False), help="Folder to create.")
@click.option(
    "--layout",
    type=LazyChoice("nwb_v1former.simulate:LAYOUTS"),
    default="allen",
    show_default=True,
    help="How the sessions are written (the layouts real DANDI / Sensorium data use).",
)
@click.option(
    "--animals",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Mice to simulate, one session file each, each with its own neurons and retinotopy.",
)
@click.option(
    "--neurons", type=click.IntRange(min=1), default=1000, show_default=True, help="Neurons per animal."
)
@click.option(
    "--minutes",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    help="Minutes of recording per session.",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="The same seed and options write the same files, byte for byte.",
)
@click.option(
    "--imaging-rate",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Imaging frames per second [default: the layout's own: microns 6.3, else 30]; e.g. 15.",
)
@click.option(
    "--planes",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Imaging planes the neurons are split over (each its own ROI table and series).",
)
@click.option(
    "--clip-seconds",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    help="Length of each movie clip (a trial), in seconds.",
)
@click.option(
    "--present",
    type=click.Path(dir_okay=False),
    default=None,
    help="Show this stimulus set (`insilico export`) to the animal of --animal instead of movies: a new "
    "session of the same neurons, on the scale of their own session.",
)
@click.option(
    "--animal",
    type=click.Path(dir_okay=False),
    default=None,
    help="With --present: the simulated session (NWB file, simulation.json beside it) whose animal is shown "
    "the set. The population options are then its own.",
)
@click.option("--overwrite", is_flag=True, help="Replace an earlier simulation at --out.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def simulate_command(
    out: str,
    layout: str,
    animals: int,
    neurons: int,
    minutes: float,
    seed: int,
    imaging_rate: float | None,
    planes: int,
    clip_seconds: float,
    present: str | None,
    animal: str | None,
    overwrite: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Simulate mouse V1 sessions with known ground truth and write them in a real-world layout.

    Beside each session a `<session>.truth.npz` holds the expected responses, true receptive-field
    centres and the noise ceiling of every neuron; `simulation.json` lists what was written.

    Example: nwb-v1former simulate --out sims --layout allen --animals 2 --neurons 200 --minutes 5
    """
    import numpy as np

    from nwb_v1former.simulate import load_truth, simulate_and_write
    from nwb_v1former.simulate.present import present_and_write

    if (present is None) != (animal is None):
        raise click.UsageError("--present and --animal go together: the set, and the animal shown it")
    if present is not None:
        sessions = present_and_write(present, animal, out, seed=seed, overwrite=overwrite)
    else:
        sessions = simulate_and_write(
            out,
            layout=layout,
            animals=animals,
            overwrite=overwrite,
            progress=not quiet and sys.stderr.isatty(),
            neurons=neurons,
            minutes=minutes,
            seed=seed,
            imaging_rate=imaging_rate,
            planes=planes,
            clip_seconds=clip_seconds,
        )
    rows = []
    for session in sessions:
        ceiling = load_truth(session.truth, ("noise_ceiling",))["noise_ceiling"]
        rows.append(
            {
                "session_id": session.session_id,
                "data": str(session.data),
                "truth": str(session.truth),
                "neurons": session.config.neurons,
                "minutes": session.config.minutes,
                "median_noise_ceiling": round(float(np.median(ceiling)), 4),
            }
        )
    if as_json:
        click.echo(json.dumps({"layout": layout, "sessions": rows}, indent=2))
        return
    click.echo(f"Simulated {len(rows)} session(s), layout '{layout}', in {out}:")
    for row in rows:
        click.echo(
            f"  {row['session_id']}: {row['data']}  ({row['neurons']} neurons, {row['minutes']:g} min, "
            f"median noise ceiling {row['median_noise_ceiling']:.3f})"
        )
