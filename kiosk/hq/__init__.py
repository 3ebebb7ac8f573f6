"""Headquarters: the receiver, the authoritative ledger in SQL, admin operations, reports."""
