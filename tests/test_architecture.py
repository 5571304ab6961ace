"""The doors that stay shut (../shared/ARCHITECTURE.md), checked in fresh interpreters."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEAVY_OR_UI = ("textual", "torch", "transformers", "peft", "sqlite_utils", "studyapp.store",
               "studyapp.tui", "studyapp.training")


def modules_after_import(*modules: str) -> set[str]:
    code = ("import json, sys\n" + "".join(f"import {m}\n" for m in modules)
            + "print(json.dumps(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True, timeout=120)
    return set(json.loads(out.stdout))


def package_modules(package: str) -> list[str]:
    folder = ROOT / package.replace(".", "/")
    return sorted(f"{package}.{p.stem}" for p in folder.glob("*.py") if p.stem != "__init__")


@pytest.mark.parametrize("package", ["studyapp.course", "studyapp.study"])
def test_pure_domain_imports_no_store_ui_or_torch(package):
    modules = package_modules(package)
    if not modules:
        pytest.skip(f"{package} has no modules yet")
    loaded = modules_after_import(*modules)
    leaked = sorted(m for m in loaded if m.split(".")[0] in ("textual", "torch", "transformers")
                    or m.startswith(("studyapp.store", "studyapp.tui", "studyapp.training",
                                     "sqlite_utils")))
    assert leaked == []


def test_training_and_store_never_import_the_ui():
    modules = package_modules("studyapp.training") + package_modules("studyapp.store")
    loaded = modules_after_import(*modules)
    assert sorted(m for m in loaded if m.split(".")[0] == "textual"
                  or m.startswith("studyapp.tui")) == []


def test_cli_entry_point_is_light():
    loaded = modules_after_import("studyapp.cli")
    assert not {"torch", "transformers", "textual"} & loaded
