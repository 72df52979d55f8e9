"""A fixed cause means a fresh run: failed runs are retried, devices are checked up front, a script without
its main guard is told so, stores never mix scales, plug-in code is in the fingerprint, a store's messages
never call a readable store damaged, report folders are checked before training, SIGTERM ends a grid like
Ctrl-C, and repeated or ranged selections mean what they say. Real processes where the case needs them."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import child_pids, run_cli

from interactions.executor import MissingMainGuard, WorkerLost
from interactions.fingerprint import code_fingerprint, is_stale
from interactions.grid import grid, parse_seeds, run_grid
from interactions.objectives import register_objective
from interactions.objectives.cross import Cross
from interactions.presets import Preset
from interactions.report import atomic_write
from interactions.store import ResultsStore, StoreError, run_id
from interactions.train import TrainingDiverged

TINY = Preset("tiny", ("bimodal_1bit",), ("cross",), (0,), 600, 400, 400, 1200, 2, (0, 2),
              n_permutations=3, n_bootstrap=4)  # fmt: skip
REPO = Path(__file__).resolve().parent.parent


class _Exits(Cross):
    """A plug-in that ends its process the polite way."""

    def loss(self, views):
        sys.exit(3)


register_objective("test_exits")(_Exits)


def _python(script: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    (cwd / "script.py").write_text(textwrap.dedent(script))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests")])}
    return subprocess.run(
        [sys.executable, "script.py"], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env
    )


# ---- 1. a failure is not cached forever ------------------------------------------------------------------
def test_a_failed_run_is_retried_by_the_next_grid_unless_failures_are_kept(
    tmp_path: Path, monkeypatch
) -> None:
    store = ResultsStore(tmp_path / "r.sqlite")
    specs = grid(TINY, objectives=["cross", "random_encoders"], device="cpu")

    def diverge(spec):
        raise TrainingDiverged(1, 3, float("nan"))

    with monkeypatch.context() as patch:
        patch.setattr("interactions.grid.run_one", diverge)
        assert run_grid(specs, store, log=None, workers=1)["failed"] == 2
    # The cause is fixed: the failures are kept on request, retried by default.
    assert run_grid(specs, store, log=None, workers=1, retry_failed=False) == {
        "trained": 0, "cached": 2, "failed": 0, "stale": 0, "retried": 0,
    }  # fmt: skip
    log = tmp_path / "log.txt"
    with log.open("w") as out:
        counts = run_grid(specs, store, log=out, workers=1)
    assert counts == {"trained": 2, "cached": 0, "failed": 0, "stale": 0, "retried": 2}
    said = log.read_text().splitlines()[0]
    assert said.startswith("[grid] retrying 2 runs that failed before:") and "epoch 1, step 3" in said
    assert set(store.runs()["status"]) == {"done"}


def test_a_plugin_calling_sys_exit_fails_its_run_and_the_pooled_grid_goes_on(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.sqlite")
    counts = run_grid(grid(TINY, objectives=["test_exits", "random_fused"]), store, log=None, workers=2)
    assert counts == {"trained": 1, "cached": 0, "failed": 1, "stale": 0, "retried": 0}
    runs = store.runs().set_index("objective")
    assert runs.loc["test_exits", "reason"].startswith("the run called sys.exit(3) (test_reliability.py:")


# ---- 2. devices this machine cannot run are refused before any run -----------------------------------------
@pytest.mark.parametrize("device", ["mps", "meta", "cuda:7"])
def test_a_device_this_machine_cannot_run_is_refused_before_any_run(tmp_path: Path, device: str) -> None:
    if device == "cuda:7" and __import__("torch").cuda.device_count() > 7:
        pytest.skip("this machine has 8 GPUs")
    store = ResultsStore(tmp_path / "r.sqlite")
    with pytest.raises(ValueError, match=r"(this machine can run|this machine has): auto, cpu"):
        run_grid(grid(TINY, device=device), store, log=None, workers=1)
    assert store.runs().empty
    result = run_cli("run", "--objective", "cross", "--generator", "bimodal_1bit", "--device", device,
                     "--store", str(tmp_path / "cli.sqlite"), cwd=tmp_path)  # fmt: skip
    assert result.returncode == 2 and "auto, cpu" in result.stderr.splitlines()[-1]


# ---- 3. a pooled grid started by a script without its main guard -------------------------------------------
def test_a_script_without_its_main_guard_is_told_so_and_nothing_is_stored(tmp_path: Path) -> None:
    result = _python(
        """
        from interactions.grid import grid, run_grid
        from interactions.presets import Preset
        from interactions.store import ResultsStore

        tiny = Preset("tiny", ("bimodal_1bit",), ("cross",), (0,), 600, 400, 400, 1200, 2, (0, 2))
        specs = grid(tiny, objectives=["random_fused", "random_encoders"], device="cpu")
        run_grid(specs, ResultsStore("r.sqlite"), workers=2)
        """,
        tmp_path,
    )
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("interactions.executor.MissingMainGuard: ") and "script.py starts a grid" in last
    assert 'if __name__ == "__main__":' in last
    assert ResultsStore(tmp_path / "r.sqlite").runs().empty
    assert issubclass(MissingMainGuard, RuntimeError)


def test_a_pooled_estimator_validation_without_its_main_guard_is_told_so(tmp_path: Path) -> None:
    """Before, each worker died starting a pool of its own, every case came back failed and the table had no
    `estimate` column to read (a KeyError)."""
    result = _python(
        """
        from pathlib import Path

        from interactions.estimator_validation import ValidationCase, run_validation
        from interactions.executor import make_executor

        cases = [ValidationCase("bimodal_1bit", 1000, seed) for seed in (0, 1)]
        run_validation(cases, Path("estimators.json"), make_executor("local", 2))
        """,
        tmp_path,
    )
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("interactions.executor.MissingMainGuard: ")
    assert "script.py starts the estimator validation" in last and not (tmp_path / "estimators.json").exists()


def test_a_validation_whose_every_case_failed_says_so(tmp_path: Path) -> None:
    from interactions.estimator_validation import ValidationCase, run_validation

    class Dies:
        def map_unordered(self, fn, items):
            return [(i, WorkerLost("killed by signal 9")) for i in range(len(items))]

    table = run_validation([ValidationCase("bimodal_1bit", 1000, 0)], tmp_path / "estimators.json", Dies())
    assert table.empty and table.attrs["failed"] == [
        "ValidationCase(setting='bimodal_1bit', n_samples=1000, seed=0): killed by signal 9"
    ]


# ---- 4. a store never mixes scales ------------------------------------------------------------------------
def test_a_grid_of_another_preset_is_refused_by_the_store_with_one_line(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.sqlite")
    (smoke,) = grid("smoke", ["bimodal_1bit"], ["cross"], [0], device="cpu")
    store.record(run_id(smoke.config()), smoke.config(), [], status="failed", reason="x")
    # An older store (no recorded scale): its runs' sizes are compared with the grid's preset.
    selection = ["--preset", "quick", "--generators", "bimodal_1bit", "--objectives", "cross"]
    result = run_cli(
        "grid", *selection, "--store", str(store.path), "--reports", str(tmp_path / "out"), cwd=tmp_path
    )
    assert result.returncode == 2, result.stderr
    assert "holds runs at another scale than preset 'quick'" in result.stderr.splitlines()[-1]
    assert len(store.runs()) == 1 and not (tmp_path / "out").exists()
    # The same preset is accepted (and the store now remembers it); another preset is refused by name.
    assert run_grid([smoke], store, log=None, workers=1, retry_failed=False)["cached"] == 1
    assert store.scale()["preset"] == "smoke"
    with pytest.raises(ValueError, match="holds preset 'smoke' runs; this grid is preset 'quick'"):
        run_grid(grid("quick", ["bimodal_1bit"], ["cross"]), store, log=None)


# ---- 5. plug-in code is part of the fingerprint -----------------------------------------------------------
PLUGIN = """
from interactions.objectives import register_objective
from interactions.objectives.cross import Cross


@register_objective("test_scaled_cross")
class ScaledCross(Cross):
    def loss(self, views):
        out = super().loss(views)
        return {**out, "loss": out["loss"] * 1.0}
"""


def test_an_edited_plugin_module_makes_its_runs_stale(tmp_path: Path, monkeypatch) -> None:
    module = tmp_path / "my_plugin.py"
    module.write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "my_plugin", raising=False)
    __import__("my_plugin")
    store = ResultsStore(tmp_path / "r.sqlite")
    specs = grid(TINY, objectives=["test_scaled_cross"], device="cpu")
    assert run_grid(specs, store, log=None, workers=1)["trained"] == 1
    meta = json.loads(store.runs()["meta"].iloc[0])
    assert meta["code"] == code_fingerprint() and list(meta["plugins"]) == [str(module.resolve())]
    assert list(meta["objective"]) == ["interactions/objectives/cross.py"]  # the module it derives from
    assert not is_stale(meta)
    module.write_text(PLUGIN.replace("* 1.0", "* 0.0"))  # the plug-in's loss changed
    assert is_stale(meta) and is_stale(meta, specs[0])  # the report's check and the grid's
    assert run_grid(specs, store, log=None, workers=1) == {
        "trained": 0, "cached": 1, "failed": 0, "stale": 1, "retried": 0,
    }  # fmt: skip
    assert run_grid(specs, store, log=None, workers=1, stale="recompute")["trained"] == 1
    assert not is_stale(store.runs()["meta"].iloc[0], specs[0])


def test_an_objective_registered_in_the_calling_script_runs_on_ray_too(tmp_path: Path) -> None:
    pytest.importorskip("ray", reason='the ray extra is not installed (pip install -e ".[ray]")')
    result = _python(
        PLUGIN
        + """
from interactions.grid import grid, run_grid
from interactions.presets import Preset
from interactions.store import ResultsStore

if __name__ == "__main__":
    tiny = Preset("tiny", ("bimodal_1bit",), ("cross",), (0,), 600, 400, 400, 1200, 2, (0, 2),
                  n_permutations=3, n_bootstrap=4)
    specs = grid(tiny, objectives=["test_scaled_cross"], device="cpu")
    print(run_grid(specs, ResultsStore("r.sqlite"), log=None, backend="ray"))
""",
        tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1].startswith("{'trained': 1, 'cached': 0, 'failed': 0")
    meta = json.loads(ResultsStore(tmp_path / "r.sqlite").runs()["meta"].iloc[0])
    assert meta["backend"] == "ray" and list(meta["plugins"]) == [str((tmp_path / "script.py").resolve())]


# ---- 6. the store: concurrent openers wait; a full disk is not called corruption --------------------------
def _open(path: str, barrier, results) -> None:
    barrier.wait()
    try:
        ResultsStore(path).runs()
        results.put("ok")
    except StoreError as error:
        results.put(str(error))


def test_processes_opening_a_new_store_at_the_same_instant_all_succeed(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    outcomes = []
    for trial in range(6):
        barrier, results = context.Barrier(8), context.Queue()
        path = str(tmp_path / f"new{trial}.sqlite")
        processes = [context.Process(target=_open, args=(path, barrier, results)) for _ in range(8)]
        for process in processes:
            process.start()
        outcomes += [results.get(timeout=120) for _ in processes]
        for process in processes:
            process.join()
    assert outcomes == ["ok"] * 48, [o for o in outcomes if o != "ok"][:1]


@pytest.fixture
def tiny_disk(tmp_path: Path):
    """A 256 KiB filesystem of its own (tmpfs; needs root), unmounted afterwards."""
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({made.stderr.decode().strip()})")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_is_named_and_the_intact_store_is_not_called_damaged(tiny_disk: Path) -> None:
    store = ResultsStore(tiny_disk / "r.sqlite")
    store.record("k", {"objective": {"arm": "a"}, "generator": {"preset": "g"}, "seed": 0}, [])
    filler = os.open(tiny_disk / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(filler, b"0" * 4096)
    except OSError:
        pass
    finally:
        os.close(filler)
    with pytest.raises(StoreError) as error:
        ResultsStore(tiny_disk / "r.sqlite").runs()
    message = str(error.value)
    assert "the disk holding it is full" in message and "what the store holds is kept" in message
    assert "not a readable" not in message and "move it away" not in message
    (tiny_disk / "filler").unlink()
    assert list(ResultsStore(tiny_disk / "r.sqlite").runs()["run_id"]) == ["k"]


def test_no_store_message_advises_moving_a_readable_store_away() -> None:
    source = (REPO / "interactions" / "store.py").read_text()
    assert "move it away" not in source and "corrupted" not in source


# ---- 7. reports folders, temporary files and SIGTERM -------------------------------------------------------
@pytest.mark.parametrize("kind", ["file", "unwritable"])
def test_a_bad_reports_folder_is_refused_before_training(tmp_path: Path, kind: str) -> None:
    reports = tmp_path / "reports.txt" if kind == "file" else Path("/proc/interactions-reports")
    if kind == "file":
        reports.write_text("not a folder")
    store = tmp_path / "r.sqlite"
    selection = ["--preset", "smoke", "--generators", "bimodal_1bit", "--objectives", "random_fused"]
    result = run_cli("grid", *selection, "--store", str(store), "--reports", str(reports), cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert f"reports folder {reports}" in result.stderr.splitlines()[-1]
    assert ResultsStore(store).runs().empty  # nothing trained


def test_two_writers_of_one_report_never_share_a_temporary_file(tmp_path: Path) -> None:
    """Both writers open their temporary file before either writes: with a shared name, the file that
    lands is a mixture of the two."""
    target, opened = tmp_path / "summary.md", threading.Barrier(2)

    def writer(text: str):
        def write(path: Path) -> None:
            with open(path, "w") as file:
                opened.wait()
                file.write(text)
                file.flush()
                time.sleep(0.05 * len(text) / 10)

        return lambda: atomic_write(target, write)

    threads = [threading.Thread(target=writer(text)) for text in ("A" * 10, "B" * 5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert target.read_text() in ("A" * 10, "B" * 5)
    assert [p.name for p in tmp_path.iterdir()] == ["summary.md"]  # no temporary file left behind


@pytest.mark.parametrize("backend", ["local", "ray"])
def test_sigterm_ends_a_grid_like_ctrl_c(tmp_path: Path, backend: str) -> None:
    if backend == "ray":
        pytest.importorskip("ray", reason='the ray extra is not installed (pip install -e ".[ray]")')
    store = tmp_path / "r.sqlite"
    command = [
        sys.executable, "-m", "interactions.cli", "grid", "--preset", "smoke", "--generators", "bimodal_1bit",
        "--objectives", "random_encoders,random_fused,cross,cross_self,comm", "--device", "cpu",
        "--workers", "2", "--backend", backend, "--store", str(store), "--reports", str(tmp_path / "reports"),
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while time.time() < deadline and process.poll() is None:
        done = ResultsStore(store).runs() if store.exists() else pd.DataFrame()
        if len(done) >= 1 and child_pids(process.pid):
            break
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 143, err[-3000:]
    # The last line is ours: a worker stopped mid-run leaves no named semaphore for multiprocessing's resource
    # tracker to warn about after the CLI has exited (tqdm's default lock was one).
    assert err.strip().splitlines()[-1].startswith("terminated (SIGTERM): finished runs are in the store")
    assert "Traceback" not in err and "Stack trace" not in err and "leaked" not in err
    finished = ResultsStore(store).runs()
    assert 1 <= len(finished) < 5 and (finished["status"] == "done").all()


# ---- 8. seeds, repeats and names --------------------------------------------------------------------------
def test_seed_ranges_and_lists() -> None:
    assert parse_seeds("0-4") == [0, 1, 2, 3, 4]
    assert parse_seeds("0,2,5-7") == [0, 2, 5, 6, 7]
    assert parse_seeds(" 3 ") == [3]
    for bad in ("1-x", "4-2", "-1", "1.5"):
        with pytest.raises(ValueError, match="seeds must be integers >= 0 or ranges such as 0-4"):
            parse_seeds(bad)


def test_cli_seeds_accept_a_range_and_name_the_knob_when_wrong(tmp_path: Path) -> None:
    result = run_cli("grid", "--seeds", "1-x", cwd=tmp_path)
    assert result.returncode == 2 and "<lambda>" not in result.stderr
    assert "argument --seeds: seeds must be integers >= 0 or ranges such as 0-4" in result.stderr


def test_repeated_seeds_objectives_and_generators_run_once_with_a_note(tmp_path: Path) -> None:
    with pytest.warns(UserWarning) as notes:
        specs = grid(TINY, objectives=["random_fused", "random_fused"], seeds=[0, 0], device="cpu")
    assert len(specs) == 1
    assert [str(note.message) for note in notes] == [
        "objectives: random_fused given more than once; each runs once",
        "seeds: 0 given more than once; each runs once",
    ]
    result = run_cli("grid", "--preset", "smoke", "--generators", "bimodal_1bit,bimodal_1bit", "--objectives",
                     "random_fused", "--seeds", "0,0", "--store", str(tmp_path / "r.sqlite"), "--reports",
                     str(tmp_path / "reports"), "--workers", "2", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "note: generators: bimodal_1bit given more than once; each runs once" in result.stderr
    assert "note: seeds: 0 given more than once" in result.stderr
    assert "trained 1, cached 0, failed 0" in result.stdout


def test_an_unknown_objective_lists_the_grid_arms_too() -> None:
    with pytest.raises(
        ValueError, match=r"grid arms .*random_fused.*random_encoders.* or a registered"
    ) as error:
        grid(TINY, objectives=["simclr9000"])
    assert "got 'simclr9000'" in str(error.value)


@pytest.fixture
def project_copy(tmp_path: Path, monkeypatch):
    """The fingerprint module reading a copy of this project's packages, to edit; caches cleared around."""
    import shutil

    import interactions.fingerprint as fingerprint

    for package in ("generators", "estimators", "interactions"):
        shutil.copytree(REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(fingerprint, "ROOT", tmp_path)

    def clear() -> None:
        fingerprint.code_fingerprint.cache_clear()
        fingerprint.objective_digests.cache_clear()

    def edit(relative: str) -> None:
        with (tmp_path / relative).open("a") as file:
            file.write("\n# an edit\n")
        clear()

    clear()
    yield fingerprint, edit
    clear()


def test_editing_orchestration_keeps_runs_current_and_editing_scoring_code_makes_them_stale(
    project_copy,
) -> None:
    fingerprint, edit = project_copy

    def fingerprint_after(relative: str) -> str:
        edit(relative)
        return fingerprint.code_fingerprint()

    before = fingerprint.code_fingerprint()
    for orchestration in ("grid.py", "cli.py", "report/markdown.py", "report/html.py", "store.py",
                          "executor.py", "fingerprint.py", "maps.py", "leaderboard.py"):  # fmt: skip
        assert fingerprint_after(f"interactions/{orchestration}") == before, orchestration
    no_grid_run_uses = (
        "estimators/registry.py",
        "estimators/peers/cluster_recipe.py",
        "estimators/peers/batch.py",
    )
    for unused in no_grid_run_uses:
        assert fingerprint_after(unused) == before, unused
    for scoring in ("interactions/scoring.py", "interactions/train.py", "estimators/probes.py",
                    "interactions/objectives/base.py"):  # fmt: skip
        assert fingerprint_after(scoring) != before, scoring
        before = fingerprint.code_fingerprint()


def test_editing_an_objective_makes_its_runs_stale_and_no_others(project_copy) -> None:
    """A run records its objective's modules: an edit to CoMM stales the CoMM arms and InfMasking (derived
    from it), not Cross or FactorCL, in the grid's check and in the report's (which reads the files again)."""
    from interactions.grid import ARMS

    fingerprint, edit = project_copy
    recorded = {arm: {"code": fingerprint.code_fingerprint(), "objective": fingerprint.objective_digests(arm),
                      "plugins": {}} for arm in ARMS}  # fmt: skip
    assert not any(fingerprint.is_stale(meta) for meta in recorded.values())
    edit("interactions/objectives/comm.py")
    stale = {arm for arm, meta in recorded.items() if fingerprint.is_stale(meta)}
    changed = {arm for arm in ARMS if fingerprint.objective_digests(arm) != recorded[arm]["objective"]}
    assert stale == changed == {"comm", "comm_fused", "infmasking"}
    assert fingerprint.code_fingerprint() == recorded["cross"]["code"]


def test_a_sigterm_that_ray_turns_into_ctrl_c_still_exits_143(monkeypatch, capsys) -> None:
    """Inside `ray.wait` the handler's `Terminated` comes back as a plain KeyboardInterrupt (Ray checks
    signals in its C++ loop and raises its own); the CLI still reports a SIGTERM, from the flag the handler
    set."""
    import interactions.cli as cli

    def ray_like(args, parser) -> int:
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        except KeyboardInterrupt:
            raise KeyboardInterrupt from None  # what Ray's wait raises for any KeyboardInterrupt subclass
        return 0

    monkeypatch.setattr(cli, "_command", ray_like)
    assert cli.main(["report"]) == 143
    assert capsys.readouterr().err.startswith("terminated (SIGTERM)")
    monkeypatch.setattr(cli, "_command", lambda args, parser: (_ for _ in ()).throw(KeyboardInterrupt))
    assert cli.main(["report"]) == 130  # a Ctrl-C after a SIGTERM run is a Ctrl-C again


def test_an_estimator_s_rows_go_stale_only_when_code_it_runs_changes(tmp_path: Path, monkeypatch) -> None:
    """The leaderboard's and the validation's caches are fingerprinted by the modules each estimator imports
    (`source_fingerprint`): editing the probes (which no presence PID imports) or another estimator leaves
    them current (a peer's rows do not depend on this suite's estimator, whose registry entry lives in
    `estimators.builtin`); editing the solver (which the generators' exact truth runs), the generators or
    the registry's types makes them stale."""
    import shutil

    import interactions.fingerprint as fingerprint
    from interactions.estimator_validation import validate_case, validate_usable_case, validation_fingerprint
    from interactions.leaderboard import estimator_fingerprint

    for package in ("generators", "estimators", "interactions"):
        shutil.copytree(REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(fingerprint, "ROOT", tmp_path)

    def fingerprints() -> dict[str, str]:
        fingerprint.source_fingerprint.cache_clear()
        return {
            **{
                name: estimator_fingerprint(name)
                for name in ("representation_pid", "batch", "cluster_recipe", "knn_imin")
            },
            "presence": validation_fingerprint(validate_case),
            "usable": validation_fingerprint(validate_usable_case),
        }

    def edit(file: str) -> set[str]:
        before = fingerprints()
        with (tmp_path / file).open("a") as handle:
            handle.write("\n# an edit\n")
        after = fingerprints()
        return {name for name in before if before[name] != after[name]}

    try:
        assert edit("estimators/probes.py") == {"usable"}
        assert edit("estimators/peers/batch.py") == {"batch"}
        assert edit("interactions/scoring.py") == set()
        ours = {"representation_pid", "presence", "usable"}
        assert edit("estimators/representation_pid.py") == ours
        assert edit("estimators/discretize.py") == ours | {"cluster_recipe"}
        assert edit("estimators/builtin.py") == {"representation_pid"}
        board = {"representation_pid", "batch", "cluster_recipe", "knn_imin"}
        assert edit("estimators/registry.py") == board
        everything = board | {"presence", "usable"}
        assert edit("estimators/pid.py") == everything
        assert edit("generators/factors.py") == everything
    finally:
        fingerprint.source_fingerprint.cache_clear()
