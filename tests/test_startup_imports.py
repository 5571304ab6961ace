"""Start-up (issue 12 item 9): what the TUI's start imports, checked in a fresh interpreter.

sqlite-utils would import numpy (and pandas) for values we never store; numpy alone is a
good part of the start (python -X importtime). The store hides them while sqlite-utils
loads; numpy still imports normally afterwards (the training worker needs it).
"""

from __future__ import annotations

import subprocess
import sys

CODE = """
import sys
import studyapp.cli, studyapp.services.study, studyapp.tui.app, studyapp.tui.screens.home
from studyapp.store import open_database
db = open_database(sys.argv[1])
db.execute("CREATE TABLE IF NOT EXISTS t (x)")
print("numpy" in sys.modules, "pandas" in sys.modules)
import numpy
print(numpy.zeros(2).sum() == 0)
"""


def test_the_tui_start_imports_no_numpy_and_numpy_still_imports_later(tmp_path) -> None:
    out = subprocess.run([sys.executable, "-c", CODE, str(tmp_path / "t.db")],
                         capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False", "True"]
