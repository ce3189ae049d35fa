"""Signed, expiring bearer tokens and password hashing.

A token is ``<user_id>.<role>.<expires_epoch>.<hmac>``: verifiable without any storage
read, so authentication costs one HMAC per request. Example::

    >>> signer = TokenSigner(b"k" * 32, ttl_s=60)
    >>> token, _ = signer.issue(7, Role.BETTOR, now=1000.0)
    >>> signer.verify(token, now=1001.0)
    Principal(user_id=7, role=<Role.BETTOR: 'bettor'>)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from sut.domain import DomainError, Role

_MAX_TOKEN_LEN = 256


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the verified content of a token."""

    user_id: int
    role: Role


class AuthError(DomainError):
    """Missing, malformed, forged or expired credentials (401)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(401, code, message)


class TokenSigner:
    """Issues and verifies HMAC-SHA256 tokens with a fixed time-to-live."""

    def __init__(self, secret: bytes, ttl_s: float) -> None:
        self._secret = secret
        self._ttl_s = ttl_s

    def issue(self, user_id: int, role: Role, now: float) -> tuple[str, float]:
        """Return a token for the user and its expiry (epoch seconds)."""
        expires = int(now + self._ttl_s)
        body = f"{user_id}.{role.value}.{expires}"
        return f"{body}.{self._sign(body)}", float(expires)

    def verify(self, token: str, now: float) -> Principal:
        """Return the Principal of a valid token; raise AuthError otherwise."""
        if len(token) > _MAX_TOKEN_LEN or not token.isascii():
            raise AuthError("invalid_token", "token is malformed")
        body, _, signature = token.rpartition(".")
        if not hmac.compare_digest(self._sign(body), signature):
            raise AuthError("invalid_token", "token signature is invalid")
        user_id, role, expires = body.split(".")
        if float(expires) <= now:
            raise AuthError("token_expired", "token has expired; log in again")
        return Principal(int(user_id), Role(role))

    def _sign(self, body: str) -> str:
        digest = hmac.new(self._secret, body.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def hash_password(password: str, salt: str) -> str:
    """A salted SHA-256 of a password.

    Deliberately cheap: this is a load-test target where logins are part of the load;
    a production system would use a slow KDF here.
    """
    return hashlib.sha256(f"{salt}:{password}".encode()).hexdigest()


def check_password(password: str, salt: str, expected_hash: str) -> bool:
    """Constant-time comparison of a password against its stored hash."""
    return hmac.compare_digest(hash_password(password, salt), expected_hash)
