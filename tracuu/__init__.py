"""tracuu: semantic search and question answering over Vietnamese documents."""

__version__ = "0.1.0"
