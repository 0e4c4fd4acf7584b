"""Make the verifier test helpers (asm_util, kernel_oracle, corpora) importable by the tests here."""
from __future__ import annotations

import sys
from pathlib import Path

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)
