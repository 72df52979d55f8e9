"""Trifeature ceilings on a CPU: is a `long` preset score limited by the 32 px images, or by the method?

For each Trifeature task the paper reads (shape: `redundancy` of `trifeature`; texture of image 1:
`unique1` of `trifeature`; the biased pairing's `synergy` of `trifeature_biased`), the `long` preset's fused
network (the 32-channel CNN, its fusion transformer) is trained *on that label* with cross-entropy
(`supervised`), at 32 and at 64 px, on 10,000 unbiased training pairs (the synergy label is constant on
biased pre-training pairs), 10 epochs at batch 64 (1,560 steps) with the `long` preset's optimiser; then
its representation is scored like every grid run: the linear probe on 2,000 / 2,000 unseen-combination
pairs. That balanced accuracy is what this encoder can make linearly readable of the task at that image
size. `ceilings_markdown` sets it beside each objective's final score in `reports/long/`: a score far
below the 32 px ceiling is not limited by the image size.

`interactions ceilings` computes the cases (cached in `reports/long/ceilings.json` under the fingerprint of
the code they ran, `source_fingerprint`) and writes `reports/long/ceilings.md`.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import pandas as pd

from estimators.probes import LinearProbe
from estimators.threads import one_thread
from generators import generator_preset
from interactions.executor import Executor, SerialExecutor, WorkerLost
from interactions.extract import extract
from interactions.fingerprint import source_fingerprint
from interactions.models import ModelConfig
from interactions.objectives import build_objective
from interactions.presets import preset
from interactions.report import atomic_write
from interactions.train import TrainConfig, train

# (generator preset, task, what the paper calls it)
TASKS = (
    ("trifeature", "redundancy", "R (shape)"),
    ("trifeature", "unique1", "U1 (texture of image 1)"),
    ("trifeature_biased", "synergy", "S (biased pairing)"),
)
IMAGE_SIZES = (32, 64)


@dataclass(frozen=True)
class CeilingCase:
    generator: str
    task: str
    image_size: int
    seed: int = 0
    n_train: int = 10_000
    epochs: int = 10


def ceiling_cases(seed: int = 0) -> list[CeilingCase]:
    return [CeilingCase(g, t, size, seed) for size in IMAGE_SIZES for g, t, _ in TASKS]


def ceiling_case(case: CeilingCase) -> dict:
    """Train the `long` preset's fused network on the case's label, then probe its representation."""
    scale = preset("long").images
    generator = generator_preset(case.generator).build(case.image_size)
    train_pairs = generator.sample(case.n_train, seed=case.seed, split="train")
    probe_train = generator.sample(scale.n_probe_train, seed=case.seed + 1, split="train")
    probe_test = generator.sample(scale.n_probe_test, seed=case.seed, split="test")
    model = ModelConfig(**{**generator_preset(case.generator).model, **dict(scale.image_model)})
    dims = [tuple(x.shape[1:]) for x in train_pairs.modalities]
    n_classes = generator.truth(case.task).n_classes
    started = time.perf_counter()
    with one_thread():
        objective = build_objective(
            "supervised", dims, model, seed=case.seed, task=case.task, n_classes=n_classes
        )
        config = TrainConfig(
            epochs=case.epochs, batch_size=scale.batch_size, lr=scale.lr, weight_decay=scale.weight_decay,
            seed=case.seed, device="cpu",
        )  # fmt: skip
        history = train(objective, train_pairs, config).history
        z_train, z_test = extract(objective, probe_train)[0], extract(objective, probe_test)[0]
        probe = LinearProbe(seed=case.seed).fit(z_train, probe_train.labels[case.task])
        score = probe.score(z_test, probe_test.labels[case.task])
    return {
        **asdict(case),
        "balanced_accuracy": score.balanced_accuracy,
        "usable_bits": score.usable_bits,
        "chance": score.chance,
        "train_accuracy_last_epoch": history[-1]["accuracy"],
        "seconds": time.perf_counter() - started,
    }


# The modules of this project `ceiling_case` runs (what it imports, with what those import).
_CASE_MODULES = (
    "estimators.probes", "estimators.threads", "generators", "interactions.extract", "interactions.models",
    "interactions.objectives", "interactions.presets", "interactions.train",
)  # fmt: skip


def ceilings_fingerprint() -> str:
    """The code a case's row depends on: `CeilingCase`, `ceiling_case` and the modules it runs; not the
    report code beside them, so that redrawing the report never recomputes a case."""
    source = inspect.getsource(CeilingCase) + inspect.getsource(ceiling_case)
    return hashlib.sha256(source_fingerprint(_CASE_MODULES).encode() + source.encode()).hexdigest()[:16]


def _case_key(row: dict) -> tuple:
    """What identifies a case, in a cached row or in `asdict(case)`."""
    return tuple(row[f.name] for f in fields(CeilingCase))


def run_ceilings(cases: Sequence[CeilingCase], cache: Path, executor: Executor | None = None) -> pd.DataFrame:
    """Rows of every case: read from `cache` where this code computed them, else computed and cached."""
    code = ceilings_fingerprint()
    stored = json.loads(cache.read_text()) if cache.exists() else {}
    rows = stored.get("rows", []) if stored.get("code") == code else []
    done = {_case_key(r) for r in rows}
    missing = [c for c in cases if _case_key(asdict(c)) not in done]
    for index, row in (executor or SerialExecutor()).map_unordered(ceiling_case, missing):
        if isinstance(row, WorkerLost):
            raise RuntimeError(f"ceiling case {missing[index]} failed: {row.reason}")
        rows.append(row)
        payload = json.dumps({"code": code, "rows": rows}, indent=1)
        atomic_write(cache, lambda p, text=payload: p.write_text(text))
    wanted = {_case_key(asdict(c)) for c in cases}
    return pd.DataFrame([r for r in rows if _case_key(r) in wanted])


def long_scores(store: Path) -> pd.DataFrame:
    """Final linear-probe balanced accuracy per objective and task in a `long` store (the Trifeature runs)."""
    from interactions.store import ResultsStore

    scores = ResultsStore(store).scores()
    final = scores[
        scores["epoch"].isna() & (scores["probe"] == "linear") & (scores["metric"] == "balanced_accuracy")
    ]
    wanted = [(g, t) for g, t, _ in TASKS]
    final = final[[(g, t) in wanted for g, t in zip(final["generator"], final["task"], strict=True)]]
    return final.groupby(["objective", "generator", "task"], as_index=False)["value"].mean()


def ceilings_markdown(ceilings: pd.DataFrame, objectives: pd.DataFrame) -> str:
    """The ceilings at each image size beside each objective's `long` score, and what they say."""
    lines = [
        "# Trifeature ceilings: the image size or the method?",
        "",
        "Balanced accuracy (%) of the linear probe on 2,000 unseen-combination test pairs. *Ceiling*: the "
        "`long` preset's fused network (32-channel CNN) trained on that label directly (`supervised`, 10,000 "
        "unbiased pairs, 10 epochs at batch 64), at 32 and 64 px; the objectives: the final scores of "
        "`reports/long/` (32 px, 15,600 self-supervised steps, seed 0). Regenerate: `interactions ceilings`. "
        f"Code fingerprint `{ceilings_fingerprint()}`.",
        "",
    ]
    arms = sorted(objectives["objective"].unique()) if len(objectives) else []
    sizes = sorted(ceilings["image_size"].unique())
    lines += [
        "| task | chance | " + " | ".join(f"ceiling {s} px" for s in sizes) + " | "
        + " | ".join(arms) + " |",
        "|---" * (2 + len(sizes) + len(arms)) + "|",
    ]  # fmt: skip
    verdicts = []
    for generator, task, name in TASKS:
        mine = ceilings[(ceilings["generator"] == generator) & (ceilings["task"] == task)]
        if mine.empty:
            continue
        at = {int(r.image_size): 100 * r.balanced_accuracy for r in mine.itertuples()}
        got = objectives[(objectives["generator"] == generator) & (objectives["task"] == task)]
        scored = {r.objective: 100 * r.value for r in got.itertuples()}
        cells = [f"{at[s]:.1f}" if s in at else "–" for s in sizes] + [
            f"{scored[a]:.1f}" if a in scored else "–" for a in arms
        ]
        lines.append(f"| {name} | {100 * mine['chance'].iloc[0]:.0f} | " + " | ".join(cells) + " |")
        if task != "redundancy" and 32 in at:
            verdicts += ["", _verdict(name, at, scored)]
    lines += [*verdicts, ""]
    return "\n".join(lines)


def _verdict(name: str, ceiling: dict[int, float], scored: dict[str, float]) -> str:
    """Whether CoMM's and Cross+Self's scores of a task are limited by the 32 px images: not when the
    encoder, trained on the task itself, makes it readable at 32 px far beyond them (> 10 points)."""
    parts = []
    for arm in (a for a in ("comm", "cross_self") if a in scored):
        gap = ceiling[32] - scored[arm]
        limited = "not limited by the image size" if gap > 10 else "near the ceiling: the size may limit it"
        parts.append(f"{arm} reaches {scored[arm]:.1f}%, {gap:.1f} points below it ({limited})")
    if not parts:
        return ""
    text = f"**{name}:** the 32 px ceiling is {ceiling[32]:.1f}%"
    if 64 in ceiling:
        text += f"; at 64 px it is {ceiling[64]:.1f}% ({ceiling[64] - ceiling[32]:+.1f} points)"
    return f"{text}. " + "; ".join(parts) + "."


def write_ceilings(ceilings: pd.DataFrame, long_store: Path, out: Path) -> Path:
    objectives = long_scores(long_store) if long_store.exists() else pd.DataFrame(columns=["objective"])
    text = ceilings_markdown(ceilings, objectives)
    atomic_write(out, lambda p: Path(p).write_text(text))
    return out
