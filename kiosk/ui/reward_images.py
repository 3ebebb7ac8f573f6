"""Where a reward's picture comes from. The rules name a file (an optional `image`, checked by
kiosk/ledger/rules_fields.IMAGE_NAME to be a plain file name); the kiosk looks for it in its own
folder (DATA_DIR/reward-images, where the chain's pictures are installed) and then among the
pictures it ships with (kiosk/data/rewards, drawn by scripts/draw_reward_images.py). A reward
that names none, or a file the kiosk does not have, shows the gift picture: never a blank tile."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kiosk.ledger.rules_fields import IMAGE_NAME

PACKAGED = Path(__file__).resolve().parent.parent / "data" / "rewards"
DEFAULT_IMAGE = PACKAGED / "gift.png"
OWN_FOLDER = "reward-images"  # under the kiosk's data dir


@dataclass(frozen=True)
class RewardImages:
    """The folders searched, in order; the packaged pictures last."""

    folders: tuple[Path, ...] = (PACKAGED,)

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> RewardImages:
        return cls((Path(data_dir) / OWN_FOLDER, PACKAGED))

    def path_for(self, image: str | None) -> str:
        """The file to draw for a reward's `image` (checked again here: no name leaves these folders)."""
        if image and IMAGE_NAME.match(image):
            for folder in self.folders:
                candidate = folder / image
                if candidate.is_file():
                    return str(candidate)
        return str(DEFAULT_IMAGE)
