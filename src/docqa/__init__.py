"""docqa: answers questions from a folder of documents, citing the exact sentences."""

import os as _os

# Before torch or FAISS load their OpenMP runtimes, which read it once: threads that wait for
# work sleep instead of spinning. With other processes on the cores (load average 6 on 2),
# spinning threads starved each other: docqa batch answered 8.7 questions/s, and 23 with this
# (benchmarks/speed.py). Set OMP_WAIT_POLICY yourself to override it.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
