"""The project's own error types: every failure names the source, the series and the problem."""

from __future__ import annotations


class CrosswindError(Exception):
    """Base class for every error crosswind raises on purpose."""


class SourceError(CrosswindError):
    """A source could not deliver usable data.

    The message always reads ``[source/series] problem`` so a failed run in the Dagster UI says
    where to look without opening a stack trace.
    """

    def __init__(self, source: str, problem: str, series: str | None = None):
        self.source = source
        self.series = series
        self.problem = problem
        where = f"{source}/{series}" if series else source
        super().__init__(f"[{where}] {problem}")


class SourceUnreachable(SourceError):
    """Network failure after all retries (DNS, refused, timeout, repeated 5xx)."""


class SourceFormatError(SourceError):
    """The payload is not what the parser expects (HTML page, unknown header, bad date)."""


class ValidationFailed(CrosswindError):
    """A blocking quality check rejected a batch before it reached the warehouse."""

    def __init__(self, source: str, failures: list[str]):
        self.source = source
        self.failures = failures
        super().__init__(f"[{source}] batch rejected, warehouse unchanged: " + "; ".join(failures))


class WarehouseBusy(CrosswindError):
    """Another process holds the warehouse write lock."""


class WarehouseUnwritable(CrosswindError):
    """The warehouse folder cannot be written: the disk is full, or it is read-only."""


class CatalogError(CrosswindError):
    """The series catalog is invalid."""
