"""Whole jobs a command runs (files in, files out), joining the reader, the data, the model and training.

This is the top library layer: it may import every other part of nwb_v1former; nothing imports it
except the CLI and the package's lazy re-exports.
"""
