"""One screen per session state (or a few states that look alike). Each screen builds its
widgets once and `show(view)` fills them from a SessionView: screens are views, nothing more."""
