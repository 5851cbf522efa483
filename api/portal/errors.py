from __future__ import annotations

from api.core.errors import Unauthenticated


class SignInLinkInvalid(Unauthenticated):
    slug = "sign-in-link-invalid"
    title = "The sign-in link does not work"


class PortalSignedOut(Unauthenticated):
    slug = "portal-signed-out"
    title = "You are not signed in to the portal"

