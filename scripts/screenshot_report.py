"""Make the README's pictures: the size plot of VGG-16 and a browser screenshot of a report.

Both run the README's commands: docs/sizes_vgg16.png is ``convsolve plot configs/vgg16.yaml
--input 8:256``; docs/report.png is the top of ``convsolve report`` on a shipped config, as headless
Chromium renders it (with the flags of the browser test in tests/test_render_report.py).

Usage:
    python scripts/screenshot_report.py                      # needs matplotlib and Debian's chromium
    python scripts/screenshot_report.py --config configs/unet.yaml --height 2400
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]


def screenshot(page: Path, png: Path, width: int, height: int) -> None:
    """Render ``page`` in headless Chromium with a fresh profile and save the window as ``png``."""
    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("needs Debian's chromium: apt-get install -y chromium")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [chromium, *FLAGS, f"--user-data-dir={profile}", f"--screenshot={png}", f"--window-size={width},{height}", page.as_uri()],
            check=True, capture_output=True, timeout=120,
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/vgg16.yaml", help="the shipped config whose report is shown")
    parser.add_argument("--width", type=int, default=1200)
    parser.add_argument("--height", type=int, default=2000)
    args = parser.parse_args()
    DOCS.mkdir(exist_ok=True)
    convsolve = shutil.which("convsolve")
    if convsolve is None:
        raise SystemExit("needs the convsolve command: pip install -e '.[plot]'")
    plot = [convsolve, "plot", "configs/vgg16.yaml", "--input", "8:256", "-o", "docs/sizes_vgg16.png", "--force"]
    subprocess.run(plot, check=True, cwd=ROOT)
    with tempfile.TemporaryDirectory() as folder:
        page = Path(folder) / "report.html"
        subprocess.run([convsolve, "report", args.config, "-o", str(page)], check=True, cwd=ROOT)
        screenshot(page, DOCS / "report.png", args.width, args.height)
    print(f"wrote docs/report.png ({args.width}x{args.height} screenshot of the report of {args.config})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
