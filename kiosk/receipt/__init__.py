"""Receipts: what a member takes home after a top-up, a charge or a refund (储值单, 消费单, 退款单).

receipt.py builds the Receipt value (translated text, masked name and card), layout.py lays it out
as rows and plain text lines (the till API's answer), raster.py draws the rows as a bitmap with a
Chinese font, printer.py is the port the session prints through (NoPrinter when none is set up),
escpos_printer.py the adapter for ESC/POS thermal printers, settings.py the [printer] table of
kiosk.toml and setup.py the printer a configuration asks for.

Import the module you need: this package imports nothing, so `kiosk run` loads only what it uses."""
