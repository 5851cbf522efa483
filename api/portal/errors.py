from __future__ import annotations

from api.core.errors import Invalid, Unauthenticated


class SignInLinkInvalid(Unauthenticated):
    slug = "sign-in-link-invalid"
    title = "The sign-in link does not work"


class PortalSignedOut(Unauthenticated):
    slug = "portal-signed-out"
    title = "You are not signed in to the portal"


class RepublishFormInvalid(Invalid):
    slug = "republish-form-invalid"
    title = "The republish form has errors"
