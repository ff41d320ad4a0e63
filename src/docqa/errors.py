"""Domain exceptions. The library raises these; cli.py and ui.py turn them into messages."""


class DocqaError(Exception):
    """Base class: a problem with the user's input or data. The message names the fix."""


class CorpusNotFound(DocqaError):
    """The corpus folder does not exist."""


class EmptyCorpus(DocqaError):
    """The corpus folder holds no readable document."""


class IndexNotFound(DocqaError):
    """There is no finished index in the index folder."""


class StaleIndex(DocqaError):
    """The index no longer matches the corpus or the settings."""

    def __init__(self, message: str, reasons: list[str]):
        super().__init__(message)
        self.reasons = reasons


class CorruptIndex(DocqaError):
    """The index files are unreadable or disagree with each other."""


class InvalidQuery(DocqaError):
    """A question or a search parameter that cannot be answered as given."""


class InvalidSetting(DocqaError):
    """A ``DOCQA_*`` environment variable with a value docqa does not know."""
