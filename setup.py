"""Package layout only; everything else is in pyproject.toml.

The click commands live in the top-level `cli/` folder (as the project layout asks) but are
installed as `nwb_v1former.cli`, so no top-level `cli` package lands in site-packages. The NWB
extension's spec YAML stays where ndx-template puts it (extensions/ndx-v1former/spec) and is
installed as `nwb_v1former.nwb.spec`, so there is one copy of it.
"""

from setuptools import find_packages, setup

cli_packages = ["nwb_v1former.cli" + (f".{name}" if name else "") for name in ["", *find_packages("cli")]]

setup(
    packages=find_packages(include=["nwb_v1former", "nwb_v1former.*"])
    + cli_packages
    + ["nwb_v1former.nwb.spec"],
    package_dir={"nwb_v1former.cli": "cli", "nwb_v1former.nwb.spec": "extensions/ndx-v1former/spec"},
    package_data={"nwb_v1former.nwb.spec": ["*.yaml"], "nwb_v1former.weights": ["*.ckpt", "*.md"]},
    include_package_data=True,
)
