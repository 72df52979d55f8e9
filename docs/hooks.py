"""mkdocs hook: the committed reports (reports/: the markdown tables, figures, the results page and the tidy
scores) join the site under reports/, so the documentation links to them as they are, without copies."""

from __future__ import annotations

from pathlib import Path

from mkdocs.structure.files import File, Files

REPORTS = Path(__file__).resolve().parent.parent / "reports"
KINDS = ("*.md", "*.png", "*.pdf", "*.html", "*.parquet")


def on_files(files: Files, config) -> Files:
    for pattern in KINDS:
        for path in sorted(REPORTS.rglob(pattern)):
            uri = (Path("reports") / path.relative_to(REPORTS)).as_posix()
            files.append(
                File(
                    uri,
                    src_dir=str(REPORTS.parent),
                    dest_dir=config["site_dir"],
                    use_directory_urls=config["use_directory_urls"],
                )
            )
    return files
