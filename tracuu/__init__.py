"""tracuu: semantic search and question answering over Vietnamese documents."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tracuu")  # the one place it is written: pyproject.toml
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0+unknown"
