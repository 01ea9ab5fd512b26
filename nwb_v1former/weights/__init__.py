"""Model weights shipped inside the package (see README.md in this folder)."""
