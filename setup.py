"""Package layout only; everything else is in pyproject.toml.

The click commands live in the top-level `cli/` folder (as the project layout asks) but are
installed as `nwb_v1former.cli`, so no top-level `cli` package lands in site-packages.
"""

from setuptools import find_packages, setup

cli_packages = ["nwb_v1former.cli" + (f".{name}" if name else "") for name in ["", *find_packages("cli")]]

setup(
    packages=find_packages(include=["nwb_v1former", "nwb_v1former.*"]) + cli_packages,
    package_dir={"nwb_v1former.cli": "cli"},
    include_package_data=True,
)
