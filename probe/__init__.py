"""tyndau probe: measures whether platforms are reachable and how they fail when they are not."""

__version__ = "0.1.0"

__all__ = ["__version__"]
