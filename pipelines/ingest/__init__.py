"""Ingest of an extract in the raw record contract's shape (issue 3).

Entry point: :func:`pipelines.ingest.pipeline.ingest`; the one error raised on purpose is
:class:`pipelines.ingest.errors.IngestError`.
"""
