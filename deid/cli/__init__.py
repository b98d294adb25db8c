"""The ``deid`` command line: one module per command group, shared options in :mod:`deid.cli.options`."""

from deid.cli.app import main

__all__ = ["main"]
