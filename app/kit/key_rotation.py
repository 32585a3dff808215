"""Re-encryption of every EncryptedString column under the newest field key.

The append-only identity tables admit this one change on PostgreSQL only inside a transaction
that declares a key rotation (`app.rotating_field_keys`, migration 0020): their other columns
stay as they are, and no other transaction may change even the encrypted ones.
"""

from __future__ import annotations

from sqlalchemy import MetaData, String, select, text, type_coerce, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.crypto import field_cipher
from app.kit.types import EncryptedString


async def rotate_encrypted_columns(session: AsyncSession, metadata: MetaData) -> int:
    """Rotate the stored tokens of every encrypted column; returns how many values changed."""
    dialect = session.get_bind().dialect
    cipher = field_cipher(dialect)
    if dialect.name == "postgresql":
        await session.execute(text("SET LOCAL app.rotating_field_keys = 'on'"))
    rotated = 0
    for table in metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, EncryptedString)]
        if not columns:
            continue
        primary_key = list(table.primary_key.columns)
        # Read and write the raw tokens (type_coerce bypasses the decrypting column type).
        raw = [type_coerce(c, String).label(c.name) for c in columns]
        rows = (await session.execute(select(*primary_key, *raw))).mappings().all()
        for row in rows:
            values = {
                c.name: type_coerce(cipher.rotate(row[c.name]), String)
                for c in columns
                if row[c.name] is not None
            }
            if values:
                condition = [pk == row[pk.name] for pk in primary_key]
                await session.execute(update(table).where(*condition).values(**values))
                rotated += len(values)
    return rotated
