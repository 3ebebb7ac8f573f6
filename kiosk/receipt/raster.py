"""The receipt's rows drawn as a black-and-white bitmap, the width of the printer's head.

Why a bitmap and not the printer's own Chinese font (GB18030 in CJK double-byte mode): the
bitmap (ESC/POS `GS v 0`) prints the same on every ESC/POS printer, whatever fonts and code
pages its firmware has (many have no Chinese font, or an older GB2312 one without ¥ or some
names' characters), it is drawn with the font the kiosk already installs for its screen
(fonts-wqy-microhei), and it is exactly what docs/receipts.md shows. The cost is bytes: about
40 KB a receipt at 576 dots, a fraction of a second over USB, seconds over a 115200-baud
serial line (the printing runs off the session's thread, see escpos_printer.py)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

from kiosk.receipt.layout import Row, Style, receipt_rows, wrap
from kiosk.receipt.receipt import Receipt

MARGIN = 8  # dots left blank at each side: printers lose a dot or two at the edges
GAP = 16  # at least this between a label and its value


@dataclass(frozen=True)
class Sizes:
    """Pixel heights of the fonts, scaled to the paper: 24 dots is a printer's own font A."""

    body: int
    large: int
    small: int

    @classmethod
    def for_width(cls, width_dots: int) -> Sizes:
        body = 24 if width_dots >= 512 else 20
        return cls(body=body, large=body + body // 2, small=body - 4)


@lru_cache(maxsize=16)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


def render_rows(rows: tuple[Row, ...], width_dots: int, font_path: str) -> Image.Image:
    """A mode "1" image (0 = ink) `width_dots` wide, as tall as the rows need."""
    sizes = Sizes.for_width(width_dots)
    inner = width_dots - 2 * MARGIN
    # draw on a tall canvas, then crop to what was used
    canvas = Image.new("L", (width_dots, 64 * len(rows) * 3 + 64), 255)
    draw = ImageDraw.Draw(canvas)

    def _wrap(text: str, font: ImageFont.FreeTypeFont) -> list[str]:
        return wrap(text, inner, lambda piece: draw.textlength(piece, font=font))

    y = MARGIN
    for row in rows:
        if row.style is Style.RULE:
            mid = y + sizes.body // 2
            for x in range(MARGIN, width_dots - MARGIN, 12):
                draw.line((x, mid, min(x + 6, width_dots - MARGIN), mid), fill=0, width=2)
            y += sizes.body
            continue
        size = {Style.STORE: sizes.large, Style.TITLE: sizes.large, Style.FOOTER: sizes.small}.get(
            row.style, sizes.body
        )
        font = _font(font_path, size)
        step = size + size // 4
        if row.style is Style.LINE:
            label_w = draw.textlength(row.label, font=font)
            value_w = draw.textlength(row.value, font=font)
            if label_w + GAP + value_w <= inner:
                draw.text((MARGIN, y), row.label, font=font, fill=0)
                draw.text((width_dots - MARGIN - value_w, y), row.value, font=font, fill=0)
                y += step
                continue
            for piece in _wrap(row.label, font):
                draw.text((MARGIN, y), piece, font=font, fill=0)
                y += step
            for piece in _wrap(row.value, font):
                draw.text((width_dots - MARGIN - draw.textlength(piece, font=font), y), piece, font=font, fill=0)
                y += step
            continue
        for piece in _wrap(row.label, font):
            draw.text(((width_dots - draw.textlength(piece, font=font)) / 2, y), piece, font=font, fill=0)
            y += step
    used = canvas.crop((0, 0, width_dots, y + MARGIN))
    return used.point(lambda v: 255 if v >= 128 else 0).convert("1", dither=Image.Dither.NONE)


def render_receipt(receipt: Receipt, width_dots: int, font_path: str) -> Image.Image:
    """The receipt as the printer will print it."""
    return render_rows(receipt_rows(receipt), width_dots, font_path)
