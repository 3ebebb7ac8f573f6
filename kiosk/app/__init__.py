"""The application: the `kiosk` command, its configuration, and the assembly of the rooms into a running kiosk."""
