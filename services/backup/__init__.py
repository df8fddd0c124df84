"""Backups and disaster recovery: encrypted base backups with WAL archiving (point-in-time
recovery), logical dumps per service database, a catalog, restores and a timed drill.

`python -m services.backup backup|restore|list|verify|drill`; `services.backup.wal` is the
archive/restore command PostgreSQL itself runs, so it imports as little as it can.
"""
