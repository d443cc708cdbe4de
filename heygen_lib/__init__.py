"""heygen_lib: the library behind the heygen-kit notebooks."""

__version__ = "0.1.0"
