"""LabLink client."""

__version__ = "0.3.0"
