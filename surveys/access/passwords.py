"""What a username and password may be, and argon2 hashing (with a dummy hash for unknown names)."""

from __future__ import annotations

import functools
import re
import secrets
import unicodedata

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

PASSWORD_MIN_LENGTH = 12
# argon2 would hash a megabyte happily; a cap keeps a sign-in form from being used to burn CPU.
PASSWORD_MAX_LENGTH = 256
USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._@+-]{1,119}$")

# argon2id with the library's defaults (RFC 9106's second recommended option).
_hasher = PasswordHasher()


class AccountError(ValueError):
    """An account change that cannot be made; the message says why."""


def normalise_username(username: str) -> str:
    return username.strip().lower()


def is_username(name: str) -> bool:
    """Whether `name` (normalised) could be a username at all; nothing else is looked up."""
    return USERNAME_PATTERN.fullmatch(name) is not None


def check_username(username: str) -> str:
    name = normalise_username(username)
    if not USERNAME_PATTERN.match(name):
        raise AccountError(
            "a username is 2 to 120 characters: letters, digits and . _ @ + -, "
            "starting with a letter or digit"
        )
    return name


def check_password(password: str, *, username: str = "") -> None:
    """Refuse passwords too short to resist guessing, too long to hash cheaply, or the name."""
    if len(password) < PASSWORD_MIN_LENGTH:
        raise AccountError(f"the password must be at least {PASSWORD_MIN_LENGTH} characters")
    if len(password) > PASSWORD_MAX_LENGTH:
        raise AccountError(f"the password must be at most {PASSWORD_MAX_LENGTH} characters")
    if any(unicodedata.category(character) == "Cs" for character in password):
        # Unpaired surrogates (undecodable bytes from a terminal) cannot be hashed as UTF-8.
        raise AccountError("the password contains bytes that are not text; type it again")
    if username and normalise_username(username) in password.lower():
        raise AccountError("the password must not contain the username")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def needs_rehash(password_hash: str) -> bool:
    """Whether a stored hash was made with weaker parameters than the hasher's current ones."""
    return _hasher.check_needs_rehash(password_hash)


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(24))


def verify_password(password_hash: str | None, password: str) -> bool:
    """Check a password; with no hash, check against a dummy hash (to defeat timing attacks
    that would tell unknown usernames from known ones) and fail."""
    try:
        matched = _hasher.verify(password_hash or _dummy_hash(), password)
    except (VerifyMismatchError, VerificationError, InvalidHashError, UnicodeEncodeError):
        # UnicodeEncodeError: an unpaired surrogate, which no stored password contains.
        return False
    return matched and password_hash is not None
