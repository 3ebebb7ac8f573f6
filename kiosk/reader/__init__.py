"""Card readers: one small interface (base.py), thin drivers that only move bytes, and the
on-card format above them. Hardware packages are imported lazily inside each driver."""
