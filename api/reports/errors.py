"""The reports domain's problem types: each names what went wrong and what to do about it."""

from __future__ import annotations

from api.core.errors import Invalid


class BadReportRange(Invalid):
    """The report's `to` date is not after its `from` date; `to` is the first day not counted."""

    slug = "bad-report-range"
    title = "The report's date range is empty or reversed"


class ReportRangeTooLong(Invalid):
    """The report spans more days than one report may; ask for a shorter range."""

    slug = "report-range-too-long"
    title = "The report's date range is too long"
