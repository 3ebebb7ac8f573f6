"""Local persistence: the append-only journal, atomic snapshots, the outbox for HQ."""
