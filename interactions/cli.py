"""Command line: `interactions run | grid | sweep | maps | estimators | ceilings | profile | report`."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import warnings
from pathlib import Path

import pandas as pd

from estimators.representation_pid import ATOMS
from estimators.threads import usable_cores
from generators import available_generators
from interactions.ceilings import ceiling_cases, run_ceilings, write_ceilings
from interactions.device import resolve_device
from interactions.executor import BACKENDS, make_executor
from interactions.grid import ARMS, STALE_POLICIES, grid, parse_duration, parse_seeds, run_grid
from interactions.leaderboard import run_estimator_reports
from interactions.maps import MAP_OBJECTIVES, MAPS, MAPS_DIR, SWEEPS_DIR, InteractionMap, parse_vary, run_maps
from interactions.objectives import available_objectives
from interactions.presets import PRESETS
from interactions.profiling import (
    default_generators,
    machine_name,
    profile_table,
    training_table,
    write_profile,
    write_training,
)
from interactions.report import PID_PROBES, check_reports_dir, reports_dir, tidy_scores, write_reports
from interactions.store import ResultsStore, run_id


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}")
    return int(text)


def _seeds(text: str) -> list[int]:
    try:
        return parse_seeds(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


class Terminated(KeyboardInterrupt):
    """SIGTERM (`kill`, a cluster job's time limit): handled as Ctrl-C is, finished runs kept."""


_sigterm = threading.Event()  # set by the handler: Ray's wait turns the exception it raises into a plain
# KeyboardInterrupt when the signal lands inside it (a Ray grid exited 130, not 143, about 1 SIGTERM in 5)


def _terminate(signum: int, frame: object) -> None:
    _sigterm.set()
    raise Terminated


def _choices() -> str:
    arms = sorted(set(ARMS) | set(available_objectives()))
    return (
        f"generator presets: {', '.join(available_generators())}\n"
        f"objectives (grid arms and registered objectives): {', '.join(arms)}"
    )


def _grid_arguments(parser: argparse.ArgumentParser, preset: bool = True) -> None:
    if preset:  # maps and sweeps run at the maps preset's sizes
        parser.add_argument("--preset", default="quick", choices=sorted(PRESETS))
    parser.add_argument(
        "--store",
        type=Path,
        default=None,
        help="SQLite results store (default: in the preset's or the maps' reports folder)",
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--force", action="store_true", help="retrain runs already in the store")
    parser.add_argument(
        "--time-budget",
        default=None,
        help="e.g. 9m or 1h: start only the runs that will finish within it (seed by seed), stop the rest "
        "at its end; run the same command again to go on",
    )
    parser.add_argument(
        "--keep-failed",
        action="store_true",
        help="keep the stored failures as they are (default: retry runs that failed before)",
    )
    parser.add_argument(
        "--workers",
        type=_positive_int,
        default=None,
        help="local worker processes (default: every usable core; 1 runs in this process)",
    )
    parser.add_argument("--backend", default="local", choices=BACKENDS, help="local processes or Ray tasks")
    parser.add_argument(
        "--stale",
        default="keep",
        choices=STALE_POLICIES,
        help="stored runs computed by other code or dependency versions: keep them (default) or recompute",
    )
    parser.add_argument(
        "--ray-address",
        default=None,
        help="Ray cluster to join (default: RAY_ADDRESS, else a local instance)",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="interactions",
        description=__doc__,
        epilog=_choices(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    sub = {"epilog": _choices(), "formatter_class": argparse.RawDescriptionHelpFormatter}
    one = commands.add_parser("run", help="run and score one configuration, print its scores", **sub)
    one.add_argument(
        "--objective", required=True, help="grid arm (e.g. comm, comm_fused) or registered objective"
    )
    one.add_argument("--generator", required=True, help="generator preset (listed below)")
    one.add_argument("--seed", type=int, default=0)
    _grid_arguments(one)
    many = commands.add_parser("grid", help="run a preset's grid into the store and write the reports", **sub)
    many.add_argument("--generators", type=_csv, default=None)
    many.add_argument("--objectives", type=_csv, default=None)
    many.add_argument("--seeds", type=_seeds, default=None, help="e.g. 0,1,2 or 0-4")
    many.add_argument("--reports", type=Path, default=None, help="default: the preset's reports folder")
    _grid_arguments(many)
    sweep = commands.add_parser(
        "sweep", help="an interaction map: one knob over values, every objective and seed at each", **sub
    )
    sweep.add_argument("--generator", required=True, help="generator preset (listed below)")
    sweep.add_argument(
        "--vary",
        required=True,
        help="KNOB=V1,V2,...: a generator knob (noise=0.1,0.2; mlp_depth=0,1,2,3 with 0 linear mixing) or "
        "an objective's (cross_self.cross_weight=0,0.5,1)",
    )
    sweep.add_argument("--objectives", type=_csv, default=list(MAP_OBJECTIVES))
    sweep.add_argument("--seeds", type=_seeds, default=[0, 1, 2], help="e.g. 0,1,2 or 0-4")
    sweep.add_argument("--name", default=None, help="the map's name (default: GENERATOR_KNOB)")
    sweep.add_argument("--reports", type=Path, default=SWEEPS_DIR, help=f"default: {SWEEPS_DIR}")
    _grid_arguments(sweep, preset=False)
    maps = commands.add_parser(
        "maps",
        help=f"regenerate the committed interaction maps ({MAPS_DIR}), training what is missing",
        **sub,
    )
    maps.add_argument("names", nargs="*", choices=[[], *MAPS], default=[], metavar="MAP",
                      help=f"maps to regenerate (default: all: {', '.join(MAPS)})")  # fmt: skip
    maps.add_argument("--reports", type=Path, default=MAPS_DIR, help=f"default: {MAPS_DIR}")
    _grid_arguments(maps, preset=False)
    boards = commands.add_parser(
        "estimators",
        help="PID estimators side by side on data with exact truth (reports/estimators.md), computing what "
        "its cache lacks",
        **sub,
    )
    boards.add_argument(
        "--estimators", type=_csv, default=None, help="registered estimators (default: all of them)"
    )
    boards.add_argument("--reports", type=Path, default=Path("reports"), help="default: reports")
    boards.add_argument("--workers", type=_positive_int, default=None,
                        help="local worker processes (default: every usable core)")  # fmt: skip
    boards.add_argument("--backend", default="local", choices=BACKENDS)
    boards.add_argument("--ray-address", default=None)
    boards.add_argument("--stale", default="keep", choices=STALE_POLICIES,
                        help="cached calls of other code: keep them (default) or recompute")  # fmt: skip
    ceilings = commands.add_parser(
        "ceilings",
        help="Trifeature ceilings: the long preset's network trained on each label at 32 and 64 px "
        "(reports/long/ceilings.md), computing what its cache lacks",
        **sub,
    )
    ceilings.add_argument("--reports", type=Path, default=Path("reports/long"), help="default: reports/long")
    ceilings.add_argument("--workers", type=_positive_int, default=None,
                          help="local worker processes (default: every usable core)")  # fmt: skip
    profile = commands.add_parser(
        "profile", help="time each stage of one run per arm and generator (reports/profile.md)", **sub
    )
    profile.add_argument("--preset", default="quick", choices=sorted(PRESETS))
    profile.add_argument("--generators", type=_csv, default=None,
                         help="default: the first vector and the first image generator preset")  # fmt: skip
    profile.add_argument("--objectives", type=_csv, default=None, help="default: the preset's")
    profile.add_argument("--training-only", action="store_true",
                         help="time training alone, every generator by default: the grid's floor "
                              "(reports/training.md)")  # fmt: skip
    profile.add_argument("--out", type=Path, default=None,
                         help="default: reports/profile.md, or reports/training.md")  # fmt: skip
    report = commands.add_parser("report", help="regenerate the reports from the store, without training")
    report.add_argument("--preset", default="quick", choices=sorted(PRESETS))
    report.add_argument("--store", type=Path, default=None)
    report.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    _sigterm.clear()
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return _command(args, parser)
    except ValueError as error:  # bad input: one line naming the problem, exit code 2
        parser.error(str(error))
    except KeyboardInterrupt as interrupt:
        terminated = isinstance(interrupt, Terminated) or _sigterm.is_set()
        how = "terminated (SIGTERM)" if terminated else "interrupted"
        print(f"{how}: finished runs are in the store; run the same command to resume", file=sys.stderr)
        return 143 if terminated else 130
    finally:
        signal.signal(signal.SIGTERM, previous)


def _command(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.command == "estimators":
        executor = make_executor(args.backend, args.workers, ray_address=args.ray_address)
        board, *_ = run_estimator_reports(
            check_reports_dir(args.reports), executor, args.estimators, args.stale
        )
        print(f"{board.attrs['calls']} calls; report: {args.reports / 'estimators.md'}")
        for failure in board.attrs["failed"]:
            print(f"failed: {failure}", file=sys.stderr)
        return 1 if board.attrs["failed"] else 0
    if args.command == "ceilings":
        reports = check_reports_dir(args.reports)
        table = run_ceilings(ceiling_cases(), reports / "ceilings.json", make_executor("local", args.workers))
        print(f"ceilings: {write_ceilings(table, reports / 'results.sqlite', reports / 'ceilings.md')}")
        return 0
    if args.command == "profile":
        generators = args.generators or (None if args.training_only else default_generators())
        specs = grid(args.preset, generators, args.objectives, [0], "cpu")  # validates the selection
        generators = list(dict.fromkeys(s.generator for s in specs))
        arms = list(dict.fromkeys(s.arm for s in specs))
        preset = specs[0].preset
        if args.training_only:
            rows = training_table(preset, generators, arms)
            out = args.out or Path("reports/training.md")
            print(f"training: {write_training(rows, preset, machine_name(), usable_cores(), out)}")
            return 0
        rows, out = profile_table(preset, generators, arms), args.out or Path("reports/profile.md")
        print(f"profile: {write_profile(rows, args.preset, machine_name(), out)}")
        return 0
    if args.command in ("sweep", "maps"):  # the maps preset's scale; the store is in the reports folder
        folder = args.reports
    else:  # each preset keeps its store and reports apart (reports/ for quick, reports/<preset>/ otherwise)
        folder = reports_dir(args.preset)
    args.store = args.store or folder / "results.sqlite"

    if args.command == "report":
        if not args.store.exists():
            parser.error(f"no results store at {args.store}")
        for name, path in write_reports(ResultsStore(args.store), args.out or folder).items():
            print(f"{name}: {path}")
        return 0
    resolve_device(args.device)  # before any data are sampled or models built
    execution = {
        "workers": args.workers,
        "backend": args.backend,
        "ray_address": args.ray_address,
        "stale": args.stale,
        "retry_failed": not args.keep_failed,
        "time_budget": None if args.time_budget is None else parse_duration(args.time_budget),
    }
    if args.command in ("sweep", "maps"):
        if args.command == "sweep":
            knob, values = parse_vary(args.vary)
            name = args.name or f"{args.generator}_{knob.replace('.', '_')}"
            chosen = [
                InteractionMap(name, args.generator, knob, values, tuple(args.objectives), tuple(args.seeds))
            ]
        else:
            chosen = [MAPS[name] for name in args.names or MAPS]
        for line in run_maps(chosen, args.store, check_reports_dir(folder), args.device,
                             force=args.force, **execution):  # fmt: skip
            print(line)
        return 0
    if args.command == "grid":
        with warnings.catch_warnings(record=True) as notes:
            warnings.simplefilter("always")
            specs = grid(args.preset, args.generators, args.objectives, args.seeds, args.device)
        for note in notes:
            print(f"note: {note.message}", file=sys.stderr)
        store = ResultsStore(args.store)
        reports = check_reports_dir(args.reports or folder)  # before training, not after
        counts = run_grid(specs, store, force=args.force, **execution)
        print(
            f"trained {counts['trained']}, cached {counts['cached']}, failed {counts['failed']}"
            + (
                f"; {counts['retried']} of these had failed before and were retried"
                if counts["retried"]
                else ""
            )
        )
        if counts.get("postponed"):
            print(f"{counts['postponed']} runs did not fit in the time budget: run the same command again")
        if counts["stale"]:
            print(
                f"{counts['stale']} cached runs were computed by other code: --stale recompute retrains them"
            )
        write_reports(store, reports)
        return 0
    (spec,) = grid(args.preset, [args.generator], [args.objective], [args.seed], args.device)
    store = ResultsStore(args.store)
    run_grid([spec], store, force=args.force, **execution)
    key = run_id(spec.config())
    scores = tidy_scores(store)
    runs = store.runs().set_index("run_id")
    if key not in runs.index:
        print("not run: it does not fit in the time budget (or was stopped at its end); run it again")
        return 1
    if runs.loc[key, "status"] == "failed":
        print(f"failed: {runs.loc[key, 'reason']}")
        return 1
    mine = scores[
        (scores["objective"] == args.objective)
        & (scores["generator"] == args.generator)
        & (scores["seed"] == args.seed)
    ]
    _print_run_scores(mine)
    return 0


def _print_run_scores(mine: pd.DataFrame) -> None:
    """Final scores first (probes by task, PID atoms with their interval), then the checkpoint scores by
    epoch, under separate headings."""
    final, checkpoints = mine[mine["epoch"].isna()], mine[mine["epoch"].notna()]
    probes = final[~final["probe"].isin(PID_PROBES)]
    print("== final scores: probes on the joint representation ==")
    table = probes.pivot_table(index=["probe", "task"], columns="metric", values="value")
    print(table.to_string(float_format=lambda v: f"{v:.3f}"))
    for probe, title in PID_PROBES.items():
        pid = final[final["probe"] == probe]
        loss = pid[pid["metric"] == "discretization_loss_bits"]["value"]
        pid = pid[pid["metric"] != "discretization_loss_bits"]
        if pid.empty:
            continue
        parts = pid["metric"].str.rsplit("_", n=1, expand=True)
        atoms = pid.assign(atom=parts[0], kind=parts[1]).pivot_table(
            index="atom", columns="kind", values="value"
        )
        print(f"\n== final scores: {title} (bits), task {pid['task'].iloc[0]} ==")
        print(atoms.reindex(index=list(ATOMS)).to_string(float_format=lambda v: f"{v:.3f}"))
        if len(loss):
            print(f"discretisation loss (bits, widens each interval): {loss.iloc[0]:.3f}")
    if checkpoints.empty:
        return
    shown = checkpoints[
        ((checkpoints["probe"] == "linear") & (checkpoints["metric"] == "balanced_accuracy"))
        | ((checkpoints["probe"] == "pid") & checkpoints["metric"].str.endswith("_corrected"))
    ]
    columns = shown["task"].where(shown["probe"] != "pid", shown["metric"].str.removesuffix("_corrected"))
    by_epoch = shown.assign(column=columns).pivot_table(
        index="epoch", columns=["probe", "column"], values="value"
    )
    by_epoch.index = by_epoch.index.astype(int)
    print("\n== checkpoint scores by epoch: linear-probe balanced accuracy, PID bits (corrected) ==")
    print(by_epoch.to_string(float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    sys.exit(main())
