"""Checks: each module turns one kind of validation into :class:`datapkg.report.Finding` objects."""
