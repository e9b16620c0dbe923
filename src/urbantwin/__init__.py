"""urbantwin: an open urban data platform and digital twin for cities."""

__version__ = "0.1.0"
