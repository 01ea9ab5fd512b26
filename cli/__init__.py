"""The `nwb-v1former` command line: thin click commands over the library (installed as nwb_v1former.cli)."""
