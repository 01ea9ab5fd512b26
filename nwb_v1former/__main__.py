"""`python -m nwb_v1former` runs the CLI (also what `torchrun -m nwb_v1former ...` starts)."""

from nwb_v1former.cli.main import main

main(prog_name="nwb-v1former")
