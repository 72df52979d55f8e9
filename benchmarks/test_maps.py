"""The committed interaction maps (reports/maps/): complete, and their reports redrawn from their store.

They are not trained here (`interactions maps` does: 312 runs, 50 minutes on two cores): `pytest benchmarks/`
only checks that every run of every map is in the committed store and rewrites a map's table and figure
when what its store holds changed (runs made by other code are marked as such in the table)."""

from __future__ import annotations

from pathlib import Path

from interactions.maps import MAPS, map_results, write_map_reports
from interactions.store import ResultsStore

MAPS_REPORTS = Path(__file__).resolve().parent.parent / "reports" / "maps"


def test_committed_maps_are_complete_and_their_reports_current() -> None:
    store = ResultsStore(MAPS_REPORTS / "results.sqlite")
    results = [map_results(imap, store) for imap in MAPS.values()]
    missing = {r.imap.name: int((r.runs["status"] != "done").sum()) for r in results if not r.complete}
    assert not missing, f"runs missing or failed per map: {missing}; run `interactions maps`"
    write_map_reports(results, MAPS_REPORTS)
    for imap in MAPS.values():
        text = (MAPS_REPORTS / f"{imap.name}.md").read_text()
        assert f"Regenerate: `interactions maps {imap.name}`" in text
