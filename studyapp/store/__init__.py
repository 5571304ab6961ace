"""SQLite storage: schema and migrations, queries, backups, integrity checks.

Imports nothing of the TUI or training engine. `open_database` is the one way in.
"""

from studyapp.store.db import StoreError, open_database, write_transaction

__all__ = ["StoreError", "open_database", "write_transaction"]
