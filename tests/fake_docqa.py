"""`docqa` with the tests' fake embedder, for tests that run it as a process (and kill it).

    python tests/fake_docqa.py index --corpus DIR --index DIR
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest import HashingEmbedder  # noqa: E402
from docqa.cli import run_console  # noqa: E402

if __name__ == "__main__":
    sys.exit(run_console(sys.argv[1:], embedder=HashingEmbedder()))
