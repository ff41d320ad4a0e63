"""Start the docqa chat app on the default corpus: `python app.py` (options: --host, --port)."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "src"))  # runs from a clone even before `pip install -e .`

from docqa.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["serve", "--corpus", str(ROOT / "corpus"), "--index", str(ROOT / "index"), *sys.argv[1:]]))
