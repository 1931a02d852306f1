"""HTTP intake keys: ``<tenantid>.<secret>``, stored only as a scrypt hash in the tenant's file.

Verification is constant-time; a key verified once is remembered by its SHA-256 for the
life of the process, so scrypt's deliberate cost is paid once per key, not per request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from softcollect_runtime.tenants import TenantConfig

_N, _R, _P = 2**14, 8, 1


def new_key(tenantid: str) -> str:
    return f"{tenantid}.{secrets.token_urlsafe(32).replace('.', '')}"


def hash_key(key: str, *, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(key.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_key(key: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt_b64, digest_b64 = stored.split("$")
        if scheme != "scrypt":
            return False
        salt, expected = base64.b64decode(salt_b64), base64.b64decode(digest_b64)
        actual = hashlib.scrypt(key.encode(), salt=salt, n=int(n), r=int(r), p=int(p), dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


class KeyVerifier:
    def __init__(self) -> None:
        self._known: dict[bytes, str] = {}  # key fingerprint -> the stored hash it matched

    def tenant_for(self, key: str, tenant: TenantConfig | None) -> str | None:
        """The tenant the key belongs to, or None. The key's prefix names the tenant; only that
        tenant's hashes are tried, so a key of tenant A can never pass as tenant B's."""
        if tenant is None:
            return None
        fingerprint = hashlib.sha256(key.encode()).digest()
        hashes = {k.hash for k in tenant.api_keys}
        if self._known.get(fingerprint) in hashes:  # still configured: a removed key stops working
            return tenant.tenantid
        for stored in hashes:
            if verify_key(key, stored):
                self._known[fingerprint] = stored
                return tenant.tenantid
        return None


def tenant_prefix(key: str) -> str | None:
    tenantid, sep, secret = key.rpartition(".")
    return tenantid if sep and tenantid and secret else None
