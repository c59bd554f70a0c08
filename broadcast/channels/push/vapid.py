"""VAPID keys (RFC 8292): read the private key, derive the browsers' public key, make a pair.

A leaf module (cryptography and py_vapid only): the settings check the configured key with it at
start-up, and :class:`broadcast.channels.push.webpush.WebPushSender` signs with what it loads.
"""

from __future__ import annotations

import base64
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02  # type: ignore[import-untyped]


def load_vapid_key(private_key: str) -> Any:
    """A py_vapid :class:`Vapid02` from a PEM private key or pywebpush's base64url forms
    (the raw 32-byte scalar, or DER). Raises ValueError for anything else."""
    text = private_key.strip()
    try:
        if "-----BEGIN" in text:
            key = serialization.load_pem_private_key(text.encode(), password=None)
            vapid = Vapid02(private_key=key)
        else:
            vapid = Vapid02.from_string(private_key=text)
    except Exception as exc:  # py_vapid and cryptography raise several unrelated types
        raise ValueError(f"unreadable VAPID private key ({type(exc).__name__})") from exc
    if not isinstance(vapid.private_key, ec.EllipticCurvePrivateKey) or not isinstance(
        vapid.private_key.curve, ec.SECP256R1
    ):
        raise ValueError("the VAPID private key must be an EC P-256 key")
    return vapid


def application_server_key(vapid: Any) -> str:
    """The base64url uncompressed public point a browser passes to ``PushManager.subscribe``."""
    raw = vapid.public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return _b64url(raw)


def generate_vapid_keys() -> tuple[str, str]:
    """A new VAPID key pair: (private key, application server key), both base64url.

    The private key is the raw 32-byte P-256 scalar, the form pywebpush and
    :func:`load_vapid_key` read; short enough for an environment variable.
    """
    vapid = Vapid02()
    vapid.generate_keys()
    scalar = vapid.private_key.private_numbers().private_value.to_bytes(32, "big")
    return _b64url(scalar), application_server_key(vapid)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
