from __future__ import annotations

from api.core.errors import Unauthenticated


class SignInLinkInvalid(Unauthenticated):
    """The sign-in link was already used or has expired; ask for a new one on the sign-in page."""

    slug = "sign-in-link-invalid"
    title = "The sign-in link does not work"


class PortalSignedOut(Unauthenticated):
    """You are not signed in to the partner portal, or your session ended; sign in again."""

    slug = "portal-signed-out"
    title = "You are not signed in to the portal"

