"""`nwb-v1former import-viv1t`: an authors' ViV1T run folder -> one nwb-v1former checkpoint."""

from __future__ import annotations

import click


@click.command("import-viv1t")
@click.argument("ckpt_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Checkpoint file to write.")
@click.option("--overwrite", is_flag=True, help="Replace an nwb-v1former checkpoint at --out.")
def import_viv1t_command(ckpt_dir: str, out: str, overwrite: bool) -> None:
    """Import a ViV1T checkpoint in the authors' layout (CKPT_DIR/args.yaml, CKPT_DIR/ckpt/model.pt).

    Every weight is mapped; a checkpoint whose architecture is not the published V-2025 one is refused.
    """
    from nwb_v1former.model.checkpoint import load_checkpoint
    from nwb_v1former.model.importer import import_viv1t

    path = import_viv1t(ckpt_dir, out, overwrite=overwrite)
    model = load_checkpoint(path)
    sessions = ", ".join(f"{key} ({info.n_neurons} neurons)" for key, info in model.sessions.items())
    parameters = sum(p.numel() for p in model.parameters())
    click.echo(f"Wrote {path}: preset {model.config.preset}, {parameters:,} parameters, sessions: {sessions}")
