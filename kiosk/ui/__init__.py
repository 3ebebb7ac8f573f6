"""Kivy touchscreen app: screens that show the session state and send it choices."""
