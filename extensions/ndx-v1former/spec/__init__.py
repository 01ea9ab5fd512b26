"""The ndx-v1former spec YAML, installed as the data package `nwb_v1former.nwb.spec` (see setup.py)."""
