"""The ``hitloop`` command line: thin commands that parse input, call a service and print the result."""

from __future__ import annotations

from hitloop.cli.main import cli, main

__all__ = ["cli", "main"]
