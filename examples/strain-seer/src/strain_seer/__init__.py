"""Strain Seer: planar strain analysis from marker positions, with a Streamlit UI."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("strain-seer")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"
