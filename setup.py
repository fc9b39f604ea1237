"""Only what setup.cfg cannot say: the packages are those found plus ``monai_tumorcls._bundles``, the top-level
``bundles/`` folder shipped inside the package (its files: ``[options.package_data]`` in setup.cfg), found by
``monai_tumorcls.bundle.packaged_bundles_dir``."""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["monai_tumorcls*"]) + ["monai_tumorcls._bundles"],
    package_dir={"monai_tumorcls._bundles": "bundles"},
)
