"""A reward's picture: the file its rules name, from the kiosk's own folder first, then the
packaged pictures; the gift picture when there is no name, no such file, or a name that is not a
plain file name (checked again here, whatever the rules parser let through)."""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path

from PIL import Image

from kiosk.ui.reward_images import DEFAULT_IMAGE, PACKAGED, RewardImages


def test_no_name_or_a_missing_file_shows_the_gift(tmp_path):
    images = RewardImages.for_data_dir(tmp_path)
    assert images.path_for(None) == str(DEFAULT_IMAGE)
    assert images.path_for("not-installed.png") == str(DEFAULT_IMAGE)


def test_the_kiosks_own_picture_comes_before_the_packaged_one(tmp_path):
    images = RewardImages.for_data_dir(tmp_path)
    assert images.path_for("coffee.png") == str(PACKAGED / "coffee.png")
    own = tmp_path / "reward-images" / "coffee.png"
    own.parent.mkdir()
    own.write_bytes((PACKAGED / "bag.png").read_bytes())
    assert images.path_for("coffee.png") == str(own)


def test_a_name_that_is_not_a_plain_file_name_never_leaves_the_folders(tmp_path):
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"not for the screen")
    (tmp_path / "reward-images").mkdir()
    images = RewardImages.for_data_dir(tmp_path)
    for name in ("../secret.png", str(secret), "reward-images/../secret.png", ".png"):
        assert images.path_for(name) == str(DEFAULT_IMAGE)


def test_every_picture_the_sample_rules_name_is_packaged_and_drawable():
    doc = json.loads(files("kiosk.data").joinpath("rules.default.json").read_text())
    named = {r["image"] for r in doc["rewards"] if "image" in r}
    assert named and named <= {p.name for p in PACKAGED.glob("*.png")}
    for path in [DEFAULT_IMAGE, *(PACKAGED / n for n in named)]:
        with Image.open(path) as image:
            assert image.format == "PNG" and image.size == (256, 256)
            assert image.mode == "RGBA" and image.getextrema()[3][1] == 255  # something opaque on it
    assert Path(DEFAULT_IMAGE).name == "gift.png"
