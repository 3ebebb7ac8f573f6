"""The HQ report room (`kiosk hq report`, the console's report pages): model.py the figures and
their definitions, build.py the SQL that computes them, followups.py the staff's call lists,
tables.py the sections as rows (text and CSV), html.py the page with its charts,
command.py the command line, migration.py the one column the report added to `events`."""
