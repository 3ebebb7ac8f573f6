"""Draws the reward pictures the kiosk ships with (kiosk/data/rewards/*.png): flat icons in the
screen's colours on a transparent square, so no image of unknown licence is needed. gift.png is
the picture of any reward whose rules name none (or name a file the kiosk does not have).

Run from the repository root after changing a drawing: .venv/bin/python scripts/draw_reward_images.py"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

SIZE = 256
SCALE = 4  # drawn 4x larger and scaled down: smooth edges without an anti-aliasing library
OUT = Path(__file__).resolve().parent.parent / "kiosk" / "data" / "rewards"
GOLD, GOLD_DARK, RED, CREAM, BLUE, WHITE = "#F2B33D", "#C98B1E", "#F0605D", "#F4E9D8", "#5B8BD9", "#F4F6FA"
BROWN, BROWN_DARK, TEAL = "#8A5A3B", "#5E3B25", "#3CC28A"


def canvas() -> tuple[Image.Image, ImageDraw.ImageDraw]:
    image = Image.new("RGBA", (SIZE * SCALE, SIZE * SCALE), (0, 0, 0, 0))
    return image, ImageDraw.Draw(image)


def box(*xy: float) -> list[float]:
    return [v * SCALE for v in xy]


def gift(d: ImageDraw.ImageDraw) -> None:
    d.rounded_rectangle(box(40, 112, 216, 224), radius=12 * SCALE, fill=GOLD)
    d.rounded_rectangle(box(28, 80, 228, 120), radius=10 * SCALE, fill=GOLD_DARK)
    d.rectangle(box(114, 80, 142, 224), fill=RED)
    d.ellipse(box(70, 36, 128, 88), outline=RED, width=12 * SCALE)
    d.ellipse(box(128, 36, 186, 88), outline=RED, width=12 * SCALE)
    d.ellipse(box(116, 68, 140, 92), fill=RED)


def coffee(d: ImageDraw.ImageDraw) -> None:
    d.ellipse(box(168, 110, 226, 178), outline=CREAM, width=14 * SCALE)
    d.rounded_rectangle(box(52, 84, 184, 214), radius=22 * SCALE, fill=CREAM)
    d.rectangle(box(52, 84, 184, 118), fill=BROWN)
    d.ellipse(box(36, 206, 212, 232), fill=BROWN_DARK)
    for x in (86, 118, 150):
        d.arc(box(x - 12, 28, x + 12, 76), 100, 260, fill=CREAM, width=8 * SCALE)


def bag(d: ImageDraw.ImageDraw) -> None:
    d.arc(box(84, 28, 172, 124), 180, 360, fill=CREAM, width=12 * SCALE)
    d.polygon(box(48, 84, 208, 84, 224, 228, 32, 228), fill=TEAL)
    d.line(box(84, 84, 84, 96), fill=CREAM, width=12 * SCALE)
    d.line(box(172, 84, 172, 96), fill=CREAM, width=12 * SCALE)
    d.ellipse(box(108, 132, 148, 172), fill=WHITE)


def voucher(d: ImageDraw.ImageDraw) -> None:
    d.rounded_rectangle(box(20, 64, 236, 192), radius=16 * SCALE, fill=BLUE)
    d.ellipse(box(4, 110, 40, 146), fill=(0, 0, 0, 0))  # the ticket's notches
    d.ellipse(box(216, 110, 252, 146), fill=(0, 0, 0, 0))
    for y in range(76, 186, 16):
        d.rectangle(box(170, y, 176, y + 8), fill=WHITE)
    d.ellipse(box(60, 92, 132, 164), outline=GOLD, width=10 * SCALE)
    d.line(box(78, 104, 96, 128), fill=GOLD, width=8 * SCALE)  # the yuan sign
    d.line(box(114, 104, 96, 128), fill=GOLD, width=8 * SCALE)
    d.line(box(96, 126, 96, 152), fill=GOLD, width=8 * SCALE)
    d.line(box(82, 130, 110, 130), fill=GOLD, width=6 * SCALE)
    d.line(box(82, 142, 110, 142), fill=GOLD, width=6 * SCALE)


DRAWINGS = {"gift.png": gift, "coffee.png": coffee, "bag.png": bag, "voucher.png": voucher}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, draw in DRAWINGS.items():
        image, d = canvas()
        draw(d)
        image.resize((SIZE, SIZE), Image.LANCZOS).save(OUT / name, optimize=True)
        print(OUT / name)


if __name__ == "__main__":
    main()
