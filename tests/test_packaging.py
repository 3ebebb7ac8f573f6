"""The wheel a user installs carries what the kiosk reads at run time (the compiled gettext
catalogues, the sample rules), and building it raises none of setuptools' configuration
warnings: those walls of text at setup look like a broken install."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# What setup.cfg reads: metadata, the package, and the data_files it lists.
SOURCES = ("setup.cfg", "pyproject.toml", "README.md", "kiosk", "systemd", "provisioning")

BUILD = """
import sys, warnings
from setuptools import build_meta
from setuptools.warnings import SetuptoolsDeprecationWarning
warnings.simplefilter("error", SetuptoolsDeprecationWarning)
print(build_meta.build_wheel(sys.argv[1]))
"""


def _build_wheel(tmp_path: Path) -> Path:
    """Build from a clean copy, so a stale build/ or egg-info in the checkout cannot help."""
    src = tmp_path / "src"
    src.mkdir()
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, src / name)
    out = tmp_path / "dist"
    out.mkdir()
    result = subprocess.run([sys.executable, "-c", BUILD, str(out)], cwd=src,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "would be ignored" not in result.stderr, result.stderr
    return out / result.stdout.strip().splitlines()[-1]


def test_the_wheel_carries_the_catalogues_and_rules_without_setuptools_warnings(tmp_path):
    wheel = _build_wheel(tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())
    for locale in ("en", "zh_CN"):
        assert f"kiosk/locale/{locale}/LC_MESSAGES/kiosk.mo" in names
        assert f"kiosk/locale/{locale}/LC_MESSAGES/kiosk.po" not in names  # sources stay in the repo
    assert "kiosk/data/rules.default.json" in names
    assert {"kiosk/data/rewards/gift.png", "kiosk/data/rewards/coffee.png"} <= names  # reward pictures
    assert "kiosk/ui/i18n.py" in names
