"""What a staff password must be: 12 to 128 characters, and not easy to guess.

"Easy to guess" is zxcvbn's estimate (the Python port of Dropbox's estimator), which ships its
dictionaries in the package, offline: 30,000 passwords most common in breach corpora, English words,
names, keyboard walks, dates, repeats and sequences, and the account's own name and e-mail address.
A password it scores below 3 (fewer than about 10^8 guesses) is refused, with its own advice.
"""

from __future__ import annotations

from api.staff.errors import PasswordRejected

MIN_LENGTH = 12
MAX_LENGTH = 128  # longer ones are refused before hashing, at login too: no megabyte reaches Argon2
MIN_SCORE = 3


def check_length(password: str) -> None:
    if len(password) > MAX_LENGTH:
        raise PasswordRejected(f"A staff password has at most {MAX_LENGTH} characters; this one has {len(password)}.")


def check_new_password(password: str, *, email: str = "", name: str = "") -> None:
    """Raise PasswordRejected unless `password` may become a staff password."""
    check_length(password)
    if len(password) < MIN_LENGTH:
        raise PasswordRejected(f"A staff password needs at least {MIN_LENGTH} characters.")
    inputs = [value for value in (email, email.split("@")[0], name, *name.split()) if value]
    from zxcvbn import zxcvbn  # imported when first used: not needed to start the server (its dictionaries take a while to load)

    verdict = zxcvbn(password, user_inputs=inputs, max_length=MAX_LENGTH)
    if verdict["score"] < MIN_SCORE:
        feedback = verdict["feedback"]
        why = feedback.get("warning") or ("It is close to common or breached passwords, or to the account's name or "
                                          "e-mail address.")
        advice = " ".join(feedback.get("suggestions") or ["Use a few uncommon words together."])
        raise PasswordRejected(f"That password is too easy to guess. {why} {advice}")
