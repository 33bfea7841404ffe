"""The command line: ``devito-crfwi demo | simulate | invert | convert | ntk | benchmark``."""

from .main import build_parser, main

__all__ = ["build_parser", "main"]
