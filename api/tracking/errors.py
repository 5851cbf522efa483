"""Tracking's problem types."""

from __future__ import annotations

from api.core.errors import Conflict, Invalid, NotFound


class StillLiveCaseNotFound(NotFound):
    """No still-live case has this id; list the open ones at `GET /v1/staff/still-live`."""

    slug = "still-live-case-not-found"
    title = "No such still-live case"


class StillLiveCaseClosed(Conflict):
    """The still-live case is already closed (by staff, or by itself once its page went quiet); `closed_at` says
    when. A new sighting of the copy opens a new case."""

    slug = "still-live-case-closed"
    title = "The still-live case is already closed"


class StillLiveNoteMissing(Invalid):
    """Closing a still-live case needs a note saying why (it is kept with the case and in the audit log)."""

    slug = "still-live-note-missing"
    title = "Say why the still-live case is closed"
