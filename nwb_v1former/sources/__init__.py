"""Sources that are not NWB yet: each becomes an NWB file first, so the NWB reader stays the only reader."""
