"""Where reports go, and writing them safely: atomic writes, a writable-folder check."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def reports_dir(preset: str, root: Path = Path("reports")) -> Path:
    """Where a preset's store and reports live: `root` for quick (the committed reports), `root/<preset>`
    for any other preset, so that no other scale overwrites them."""
    return root if preset == "quick" else root / preset


def atomic_write(path: Path, write) -> None:
    """Write through `write(temporary path)` and move the result into place, so a reader never sees half a
    file; the temporary name is unique to this writer, so that two writers of one folder never share it."""
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}")
    os.close(handle)
    tmp = Path(name)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)  # mkstemp's file is private; a report is not
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def check_reports_dir(out: str | Path) -> Path:
    """Check now, before a grid trains, that reports can be written to `out` (else ValueError); a folder
    made for the check is removed again."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"reports folder {out} is a file: pass a folder with --reports")
    made = [folder for folder in (out, *out.parents) if not folder.exists()]
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".write-check-"):
            pass
    except OSError as error:
        raise ValueError(
            f"reports folder {out} cannot be written ({error.strerror or error}): pass a writable --reports"
        ) from None
    finally:
        for folder in made:
            if folder.is_dir():
                folder.rmdir()
    return out
