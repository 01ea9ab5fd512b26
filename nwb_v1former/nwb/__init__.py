"""Everything that touches NWB files: discovery (and, later, reading and writing)."""

from nwb_v1former.nwb.discover import SessionInventory, inspect_session, open_nwb

__all__ = ["SessionInventory", "inspect_session", "open_nwb"]
