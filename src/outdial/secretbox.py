"""Secrets at rest (SKs, file-server passwords and private keys) are encrypted with Fernet.

The key comes from OUTDIAL_SECRET_KEY, else from a `secret.key` file (created on first use) that belongs
to the database: beside the SQLite database file, so every command run against that database uses the
same key whatever its working directory; for PostgreSQL in the data directory (set OUTDIAL_SECRET_KEY
for every process sharing one PostgreSQL). At start-up `check_opens` tries the key on a secret the
database already holds, so a wrong key stops the process with one clear line instead of failing every
request that needs a secret.
"""

from __future__ import annotations

import os
from pathlib import Path

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy.engine import Connection, make_url

from outdial.models.foundation import api_keys
from outdial.models.imports import file_servers

KEY_FILE_NAME = "secret.key"


class SecretUnreadable(ValueError):
    """A stored secret this key cannot decrypt: it was sealed with another key."""


class SecretKeyMismatch(RuntimeError):
    """The configured key does not open the secrets the database holds (start-up refuses to go on)."""


class SecretBox:
    def __init__(self, key: str | bytes, source: str = "OUTDIAL_SECRET_KEY") -> None:
        self._fernet = Fernet(key)
        self.source = source  # where the key came from, for messages

    @classmethod
    def from_settings(cls, secret_key: str, data_dir: Path) -> SecretBox:
        """OUTDIAL_SECRET_KEY, else `data_dir/secret.key` (created when missing)."""
        if secret_key:
            return cls(secret_key)
        return cls.from_file(data_dir / KEY_FILE_NAME)

    @classmethod
    def for_database(cls, secret_key: str, database_url: str, data_dir: Path) -> SecretBox:
        """The database's key: OUTDIAL_SECRET_KEY, else the key file beside a SQLite database file (the
        data directory for PostgreSQL or an in-memory SQLite)."""
        if secret_key:
            return cls(secret_key)
        return cls.from_file(key_file_for(database_url, data_dir))

    @classmethod
    def from_file(cls, path: Path) -> SecretBox:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass  # another process made it first: use theirs
            else:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(Fernet.generate_key())
        return cls(path.read_bytes().strip(), source=str(path.resolve()))

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise SecretUnreadable(
                f"secret cannot be decrypted with the key of {self.source}: it was stored with another key"
            ) from None


def key_file_for(database_url: str, data_dir: Path) -> Path:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).resolve().parent / KEY_FILE_NAME
    return data_dir / KEY_FILE_NAME


def check_opens(conn: Connection, box: SecretBox) -> None:
    """Raise SecretKeyMismatch unless `box` decrypts a secret the database holds (any will do: they are
    all sealed with one key). A database without secrets yet accepts any key."""
    token = conn.execute(sa.select(api_keys.c.sk_encrypted).limit(1)).scalar()
    if token is None:
        token = conn.execute(
            sa.select(file_servers.c.password_encrypted)
            .where(file_servers.c.password_encrypted.is_not(None))
            .limit(1)
        ).scalar()
    if token is None:
        return
    try:
        box.decrypt(token)
    except SecretUnreadable:
        raise SecretKeyMismatch(
            f"the secret key of {box.source} does not open the secrets stored in this database: use the key"
            " they were stored with (OUTDIAL_SECRET_KEY, or the secret.key file beside the SQLite database)"
        ) from None
