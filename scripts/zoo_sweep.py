"""The reach of the PyTorch importer: timm and torchvision models through convsolve and through PyTorch's own forward.

For every model: convsolve imports it (``from_torch(model, input=range(lo, hi + 1))``, square sizes)
and states its valid sizes; the oracle runs the model's forward on ``meta`` tensors at every size
(shapes only, fast), then a real CPU forward (eval mode, ``torch.no_grad()``, batch 1) at EVERY size
where convsolve and the meta forward disagree, at every size the meta device cannot run, and at the
boundaries of the valid set (where validity changes, its smallest and largest size). Verdicts:

    exact      convsolve's valid sizes are exactly those where PyTorch runs
    refused    convsolve declined the model (the detail is the first line of its reason)
    MISMATCH   the sizes differ (the detail lists them, and PyTorch's error at the first one)
    ERROR      convsolve raised something other than a ConvsolveError (a bug)
    unbuilt    the constructor failed offline (not counted)
    timeout    the model took longer than --timeout (not counted); the detail names the stage

timm models are built with ``pretrained=False`` and, where the constructor accepts it,
``dynamic_img_size=True`` (the ``dyn`` column); nothing is downloaded (HF_HUB_OFFLINE=1). The family is
timm's module name (torchvision's builder module); the kind (CNN or transformer/hybrid) is read from the
family by :data:`TRANSFORMER_FAMILIES`. Each model runs in its own subprocess (1 or 2 at a time), so a
hung or crashing model costs only its own row.

Usage:
    python scripts/zoo_sweep.py                                 # one timm model per family, one torchvision model per family
    python scripts/zoo_sweep.py --families 25 --csv zoo.csv --markdown zoo.md
    python scripts/zoo_sweep.py --models timm:resnet50,torchvision.models:vgg11 --hi 128
    python scripts/zoo_sweep.py --all --sources timm --timeout 300
"""

from __future__ import annotations

import argparse
import copy
import csv
import io
import json
import os
import random
import re
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

TRANSFORMER_FAMILIES = frozenset({
    # timm modules whose models attend (or mix tokens by MLP / recurrence) somewhere: transformers and hybrids
    "beit", "byoanet", "cait", "coat", "convit", "crossvit", "csatv2", "davit", "deepseek_vit", "deit", "edgenext",
    "efficientformer", "efficientformer_v2", "efficientvim", "efficientvit_mit", "efficientvit_msra", "eva", "fastvit",
    "focalnet", "gcvit", "gemma4_vit", "hiera", "hieradet_sam2", "iformer", "levit", "lowformer", "maxxvit", "metaformer",
    "mlp_mixer", "mobilenetv5", "mobilevit", "mvitv2", "naflexvit", "nest", "nextvit", "pit", "pvt_v2", "qwen3_vit",
    "sequencer", "shvit", "swiftformer", "swin_transformer", "swin_transformer_v2", "swin_transformer_v2_cr", "tiny_vit",
    "tnt", "twins", "visformer", "vision_transformer", "vision_transformer_hybrid", "vision_transformer_relpos",
    "vision_transformer_sam", "vitamin", "volo", "xcit",
    # torchvision builder modules
    "maxvit",
})
"""Families counted as transformer/hybrid in the summary; every other family is a CNN."""

SMALL_NAME_TOKENS = ("atto", "femto", "pico", "nano", "zepto", "xxs", "tiny", "xs", "mini", "small", "_s", "b0", "18", "_t")
"""One model per family: the first name holding the earliest of these tokens (small models sweep fastest)."""

CPU_BUDGET_SHARE = 0.8
"""CPU confirmations stop (with a note) once this share of the model's --timeout is spent."""


@dataclass
class Row:
    """One model's line of the table."""

    model: str
    """The reference convsolve takes: ``timm:NAME(dynamic_img_size=True)``, ``torchvision.models:NAME``."""
    family: str
    kind: str
    verdict: str = ""
    detail: str = ""
    valid: str = ""
    """convsolve's valid-size statement; empty when it refused."""
    convsolve_s: float | None = None
    oracle_s: float | None = None
    dyn: str = ""
    """``yes``/``no``: whether the timm constructor took ``dynamic_img_size=True``; empty for torchvision."""
    cpu_checks: int = 0


@dataclass(frozen=True)
class Candidate:
    """A model to sweep: its source (``timm`` or ``torchvision``), name and family."""

    source: str
    name: str
    family: str

    @property
    def kind(self) -> str:
        return "transformer/hybrid" if self.family in TRANSFORMER_FAMILIES else "CNN"

    @property
    def reference(self) -> str:
        """The plain reference convsolve takes for it (:func:`build` may add ``dynamic_img_size=True``)."""
        return f"torchvision.models:{self.name}" if self.source == "torchvision" else f"timm:{self.name}"


# --- choosing models ---------------------------------------------------------------------------------


def timm_candidates() -> list[Candidate]:
    import timm

    return [Candidate("timm", name, module) for module in timm.list_modules() for name in timm.list_models(module=module)]


def torchvision_candidates() -> list[Candidate]:
    import torchvision.models

    models = torchvision.models
    return [Candidate("torchvision", name, models.get_model_builder(name).__module__.rsplit(".", 1)[-1])
            for name in models.list_models(module=models)]


def one_per_family(candidates: Iterable[Candidate]) -> list[Candidate]:
    """The smallest-sounding model of each family (see :data:`SMALL_NAME_TOKENS`); ``test_*`` models only if nothing else."""
    families: dict[str, list[Candidate]] = {}
    for candidate in candidates:
        families.setdefault(candidate.family, []).append(candidate)

    def rank(candidate: Candidate) -> tuple[int, int, int, str]:
        synthetic = int(candidate.name.startswith("test_"))
        token = next((i for i, t in enumerate(SMALL_NAME_TOKENS) if t in candidate.name), len(SMALL_NAME_TOKENS))
        return synthetic, token, len(candidate.name), candidate.name

    return [min(members, key=rank) for _, members in sorted(families.items())]


def choose(sources: Sequence[str], models: str | None, families: int | None, every: bool, seed: int) -> list[Candidate]:
    """The models to sweep: a --models list, every model (--all), or one per family (a --families sample of them)."""
    pool = {"timm": timm_candidates, "torchvision": torchvision_candidates}
    if models:
        known = {f"{c.source}:{c.name}": c for source in ("timm", "torchvision") for c in pool[source]()}
        chosen = []
        for item in models.split(","):
            source, _, name = item.strip().rpartition(":")
            source = "torchvision" if source.startswith("torchvision") else source or "timm"
            chosen.append(known.get(f"{source}:{name}", Candidate(source, name, "?")))
        return chosen
    chosen = []
    for source in sources:
        candidates = pool[source]()
        picked = candidates if every else one_per_family(candidates)
        if families is not None and not every and families < len(picked):
            picked = sorted(random.Random(seed).sample(picked, families), key=lambda c: c.family)
        chosen.extend(picked)
    return chosen


# --- one model ---------------------------------------------------------------------------------------


def build(candidate: Candidate) -> tuple[Any, str, str]:
    """The model in eval mode, the reference that builds it, and whether it took ``dynamic_img_size=True``."""
    from convsolve.io.references import load_callable

    if candidate.source == "torchvision":
        return load_callable(candidate.reference)[0].eval(), candidate.reference, ""
    try:
        reference = f"{candidate.reference}(dynamic_img_size=True)"
        return load_callable(reference)[0].eval(), reference, "yes"
    except Exception:  # noqa: BLE001 - a constructor without the option fails in its own way; build it plainly
        return load_callable(candidate.reference)[0].eval(), candidate.reference, "no"


def convsolve_valid_sizes(model: Any, sizes: range) -> tuple[set[int], str, int]:
    """convsolve's valid square sizes among ``sizes``, its statement of them, and the input channels it found."""
    import convsolve

    network = convsolve.from_torch(model, input=sizes)
    valid = network.valid_sizes()
    return set(valid.sets[0].values), str(valid), network.input.channels


def forward_runs(torch: Any, model: Any, n: int, channels: int, device: str) -> tuple[bool | None, str]:
    """Whether the forward runs at n x n (None: the meta device cannot tell), and the error's first line."""
    x = torch.zeros(1, channels, n, n, device=device) if device == "meta" else torch.randn(1, channels, n, n)
    try:
        with torch.no_grad():
            output = model(x)
    except Exception as exc:  # noqa: BLE001 - any failure of the model's forward is the answer being measured
        text = str(exc).strip().splitlines()
        line = f"{type(exc).__name__}: {text[0] if text else ''}"[:160]
        unknown = device == "meta" and (isinstance(exc, NotImplementedError) or "meta" in str(exc).lower())
        return (None if unknown else False), line
    empty = any(t.numel() == 0 for t in _tensors(torch, output))
    return (False, "an output has a size of 0") if empty else (True, "")


def _tensors(torch: Any, value: Any) -> list[Any]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return [t for item in value for t in _tensors(torch, item)]
    return []


def boundaries(valid: set[int], sizes: range) -> set[int]:
    """Where validity changes inside ``sizes`` (both sides), and the smallest and largest valid size."""
    changes = [n for n in sizes[1:] if (n in valid) != (n - 1 in valid)]
    return {m for n in changes for m in (n - 1, n)} | ({min(valid), max(valid)} if valid else set())


def sweep_model(candidate: Candidate, sizes: range, timeout: float, stage: Callable[[str], None] = lambda _: None) -> Row:
    """The table row of one model: convsolve's answer against PyTorch's forward over ``sizes``."""
    import torch

    from convsolve.errors import ConvsolveError

    start = time.perf_counter()
    row = Row(candidate.reference, candidate.family, candidate.kind)
    stage("building")
    try:
        model, row.model, row.dyn = build(candidate)
    except Exception as exc:  # noqa: BLE001 - an unbuildable model is a row, not the end of the sweep
        row.verdict, row.detail = "unbuilt", _first_line(exc)
        return row
    stage("convsolve")
    clock = time.perf_counter()
    try:
        claimed, row.valid, channels = convsolve_valid_sizes(model, sizes)
    except ConvsolveError as exc:
        row.verdict, row.detail, row.convsolve_s = "refused", first_sentence(str(exc)), time.perf_counter() - clock
        return row
    except Exception as exc:  # noqa: BLE001 - a convsolve bug: recorded, and the sweep goes on
        row.verdict, row.detail, row.convsolve_s = "ERROR", _first_line(exc), time.perf_counter() - clock
        return row
    row.convsolve_s = time.perf_counter() - clock

    stage("meta forward")
    clock = time.perf_counter()
    meta_model = copy.deepcopy(model).to("meta")
    meta = {n: forward_runs(torch, meta_model, n, channels, "meta") for n in sizes}
    del meta_model
    runs = {n: ok for n, (ok, _) in meta.items()}
    errors = {n: line for n, (ok, line) in meta.items() if not ok}
    meta_valid = {n for n, ok in runs.items() if ok}
    unknown = {n for n, ok in runs.items() if ok is None}
    first = sorted(unknown | (claimed ^ meta_valid))
    rest = sorted((boundaries(meta_valid, sizes) | boundaries(claimed, sizes)) - set(first))
    stage("cpu forward")
    deadline, skipped = start + CPU_BUDGET_SHARE * timeout, []
    for n in first + rest:
        if time.perf_counter() > deadline:
            skipped.append(n)
            continue
        runs[n], errors[n] = forward_runs(torch, model, n, channels, "cpu")
        row.cpu_checks += 1
    row.oracle_s = time.perf_counter() - clock

    oracle = {n for n, ok in runs.items() if ok}
    undecided = {n for n, ok in runs.items() if ok is None}
    only_convsolve, only_torch = sorted(claimed - oracle - undecided), sorted(oracle - claimed)
    notes = []
    if only_convsolve or only_torch:
        row.verdict = "MISMATCH"
        if only_convsolve:
            at = only_convsolve[0]
            notes.append(f"convsolve says valid, PyTorch fails at {compress(only_convsolve)} (at {at}: {errors.get(at, '?')})")
        if only_torch:
            notes.append(f"convsolve says invalid, PyTorch runs at {compress(only_torch)}")
    else:
        row.verdict = "exact"
    unconfirmed = [n for n in skipped if n in set(first)]
    if undecided:
        notes.append(f"undecided (meta cannot run, CPU skipped): {compress(sorted(undecided))}")
    if skipped:
        notes.append(f"CPU forward skipped at {compress(sorted(skipped))} (time budget)"
                     + (f", {len(unconfirmed)} of them disagreements judged by meta alone" if unconfirmed else ""))
    row.detail = "; ".join(notes)
    return row


def first_sentence(message: str) -> str:
    """The first sentence of a message's first line: where and why, without the how-to-fix that follows."""
    return re.split(r"(?<=[\w)\]'])\. ", message.strip().splitlines()[0], maxsplit=1)[0]


def refusal_reason(detail: str) -> str:
    """A refusal grouped by its kind: the sentence without its location and with bracketed specifics as ``(...)``."""
    reason = detail.rsplit("': ", 1)[-1] if detail.startswith(("layer ", "module ")) else detail
    return re.sub(r"\([^()]*(\([^()]*\))*[^()]*\)", "(...)", reason).split(": ")[0]


def compress(values: Sequence[int], limit: int = 12) -> str:
    """``1..7, 9, 12..15``: sorted sizes as runs, the first ``limit`` runs shown."""
    runs: list[list[int]] = []
    for n in values:
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    shown = [f"{a}..{b}" if b > a else str(a) for a, b in runs[:limit]]
    return ", ".join(shown) + (f", ... ({len(values)} sizes)" if len(runs) > limit else "")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:200]


# --- the pool and the table --------------------------------------------------------------------------


def run_in_subprocess(candidate: Candidate, lo: int, hi: int, timeout: float) -> Row:
    """:func:`sweep_model` in a fresh Python (one torch thread, offline), killed after ``timeout`` (+ 30 s to start)."""
    command = [sys.executable, str(Path(__file__).resolve()), "--one", json.dumps(asdict(candidate)),
               "--lo", str(lo), "--hi", str(hi), "--timeout", str(timeout)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    row = Row(candidate.reference, candidate.family, candidate.kind)
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout + 30, env=env)
    except subprocess.TimeoutExpired as exc:
        stages = [line for line in _text(exc.stderr).splitlines() if line.startswith("stage: ")]
        row.verdict, row.detail = "timeout", f"over {timeout:g} s, in {stages[-1][7:] if stages else 'start-up'}"
        return row
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = [line for line in done.stderr.strip().splitlines() if not line.startswith("stage: ")][-1:]
        row.verdict, row.detail = "ERROR", f"the worker exited with {done.returncode}: {tail[0][:160] if tail else 'no output'}"
        return row
    return Row(**json.loads(lines[-1]))


def _text(value: str | bytes | None) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value or ""


def table_rows(rows: Sequence[Row]) -> list[list[str]]:
    """The table's cells, with a header row."""
    header = ["model", "family", "kind", "verdict", "detail", "valid sizes (convsolve)", "convsolve s", "oracle s", "dyn", "cpu checks"]

    def seconds(value: float | None) -> str:
        return "" if value is None else f"{value:.2f}"

    return [header] + [[r.model, r.family, r.kind, r.verdict, r.detail, r.valid, seconds(r.convsolve_s), seconds(r.oracle_s), r.dyn,
                        str(r.cpu_checks)] for r in rows]


def markdown(rows: Sequence[Row]) -> str:
    cells = table_rows(rows)
    lines = ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in cells]
    lines.insert(1, "|" + "---|" * len(cells[0]))
    return "\n".join(lines)


def csv_text(rows: Sequence[Row]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(table_rows(rows))
    return out.getvalue()


def summary(rows: Sequence[Row]) -> str:
    """Counts of each verdict, and the share exact among the models judged, for CNN and transformer/hybrid families."""
    counts = {v: sum(r.verdict == v for r in rows) for v in ("exact", "refused", "MISMATCH", "ERROR", "timeout", "unbuilt")}
    parts = [f"{len(rows)} models: " + ", ".join(f"{count} {verdict}" for verdict, count in counts.items())]
    for kind in ("CNN", "transformer/hybrid"):
        judged = [r for r in rows if r.kind == kind and r.verdict in ("exact", "refused", "MISMATCH", "ERROR")]
        exact = sum(r.verdict == "exact" for r in judged)
        share = f"{100 * exact / len(judged):.0f}%" if judged else "-"
        parts.append(f"{kind} families: {exact}/{len(judged)} exact ({share})")
    reasons: dict[str, int] = {}
    for row in rows:
        if row.verdict == "refused":
            reasons[refusal_reason(row.detail)] = reasons.get(refusal_reason(row.detail), 0) + 1
    ranked = sorted(reasons.items(), key=lambda item: (-item[1], item[0]))
    lines = ["summary: " + "; ".join(parts)]
    if ranked:
        lines.append("refused because: " + "; ".join(f"{count} x {reason}" for reason, count in ranked))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", help="comma-separated timm:NAME / torchvision.models:NAME (a bare NAME is timm)")
    parser.add_argument("--families", type=int, help="sample this many families per source (seeded), one model each")
    parser.add_argument("--all", action="store_true", help="every model of each source, not one per family")
    parser.add_argument("--sources", default="timm,torchvision", help="timm, torchvision or both (default)")
    parser.add_argument("--lo", type=int, default=1)
    parser.add_argument("--hi", type=int, default=256)
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per model (default 120)")
    parser.add_argument("--workers", type=int, default=1, choices=(1, 2), help="models swept at once (default 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--csv", type=Path, help="write the table here as CSV")
    parser.add_argument("--markdown", type=Path, help="write the table and summary here as Markdown")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # a worker: sweep this candidate, print its row as JSON
    args = parser.parse_args(argv)
    if args.one:
        return _worker(Candidate(**json.loads(args.one)), range(args.lo, args.hi + 1), args.timeout)

    candidates = choose([s.strip() for s in args.sources.split(",")], args.models, args.families, args.all, args.seed)
    print(f"sweeping {len(candidates)} models over {args.lo}..{args.hi} with {args.workers} worker(s), {args.timeout:g} s each",
          file=sys.stderr)
    rows: list[Row] = []
    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        for row in pool.map(lambda c: run_in_subprocess(c, args.lo, args.hi, args.timeout), candidates):
            rows.append(row)
            print(f"  {row.model}: {row.verdict} {row.detail[:100]}", file=sys.stderr, flush=True)
    text = markdown(rows)
    print(text)
    print()
    print(summary(rows))
    if args.csv:
        args.csv.write_text(csv_text(rows))
    if args.markdown:
        args.markdown.write_text(f"{text}\n\n{summary(rows)}\n")
    return 0


def _worker(candidate: Candidate, sizes: range, timeout: float) -> int:
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    warnings.filterwarnings("ignore")

    def stage(name: str) -> None:
        print(f"stage: {name}", file=sys.stderr, flush=True)

    row = sweep_model(candidate, sizes, timeout, stage)
    print(json.dumps(asdict(row)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
