"""Turning a fresh Raspberry Pi OS image into a kiosk: the technician's `kiosk provision` and
`kiosk cards`. Every file it writes goes through fsops (atomic, owned, exact mode), every step is
printed (and only printed under --dry-run), and `--root DIR` acts on a directory instead of /."""
