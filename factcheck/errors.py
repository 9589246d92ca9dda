"""One exception hierarchy. Every message says what went wrong and what to do about it.

The CLI prints ``str(exc)`` and exits non-zero; library code raises and never prints or exits.
"""

from __future__ import annotations


class FactCheckError(Exception):
    """Base of every error the project raises on purpose."""


class ConfigError(FactCheckError):
    """A setting is missing, unknown or invalid."""


class InputError(FactCheckError):
    """The user's input (a post, a file, a line) cannot be used as it is."""


class CorpusError(InputError):
    """A corpus file cannot be read or one of its records is malformed."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None):
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(where + message)
        self.path = path
        self.line = line


class UnknownBackendError(ConfigError):
    """A name given for an embedder, judge or LLM back end is not registered."""

    def __init__(self, kind: str, name: str, valid: list[str]):
        super().__init__(f"Unknown {kind} {name!r}. Valid names: {', '.join(sorted(valid))}.")
        self.kind, self.name, self.valid = kind, name, valid


class IndexError_(FactCheckError):
    """Base for index problems (named with a trailing underscore so it never shadows the builtin)."""


class IndexNotFoundError(IndexError_):
    pass


class IndexCorruptError(IndexError_):
    pass


class EmbedderMismatchError(IndexError_):
    pass


class EmbedderError(FactCheckError):
    """An embedding model could not be loaded or run."""


class LLMError(FactCheckError):
    """Base for problems with the language model."""


class LLMUnavailableError(LLMError):
    """The server is down, unreachable or too slow, or the local model cannot be loaded."""


class LLMOutputError(LLMError):
    """The model answered, but not with something that fits the schema, after every retry."""


class ModelAssemblyError(LLMError):
    """The bundled GGUF could not be joined from its parts or failed its checksum."""


class DatasetError(InputError):
    """A labelled data set cannot be read or mapped onto verdict labels."""
