"""docqa: answers questions from a folder of documents, citing the exact sentences."""

__version__ = "0.1.0"
