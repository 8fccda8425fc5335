"""Batch repair: many config files, on local processes or a Dask cluster, resumable and never destructive.

Every input file maps to the same relative path under the output folder. Each result is written
atomically (a temporary file, then a rename), so a killed batch leaves whole files or none; a
manifest in the output folder (``.convsolve-batch.jsonl``, one line per finished file) records the
input's and the result's content hashes, so a rerun skips files whose output is current and
finishes the rest. Inputs are only ever read. A file that cannot be read or parsed is reported as
``error`` and the batch goes on.

Example:
    >>> jobs = plan_jobs(["configs/seed"], "/tmp/repaired")          # doctest: +SKIP
    >>> summary = run_batch(jobs, workers=2)                          # doctest: +SKIP
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from .. import __version__
from ..errors import ConvsolveError, MissingExtraError, SolverTimeout, UsageError
from ..sizesets import parse_input
from .repair import RepairOptions

__all__ = ["Job", "BatchSummary", "MANIFEST", "collect_inputs", "plan_jobs", "repair_file", "run_batch"]

MANIFEST = ".convsolve-batch.jsonl"
SUFFIXES = (".yaml", ".yml", ".json")
STATUSES = ("valid", "repaired", "unrepairable", "timeout", "error", "skipped")
"""What a file's record says, in the order the summary lists them."""


@dataclass(frozen=True)
class Job:
    """One file to repair: where it is, where its result goes, and how to repair it."""

    source: str
    output: str
    options: RepairOptions
    input_text: str | None = None
    overwrite: bool = False
    """Replace an existing output that no earlier batch wrote."""
    timeout: float | None = None
    """Seconds one file may take; past it the file is reported as ``timeout`` and the batch goes on."""

    def fingerprint(self, content: bytes) -> str:
        """A hash of the input's content and everything that decides its result."""
        settings = json.dumps([sorted(self.options.allow), sorted(self.options.freeze), sorted(self.options.weights.items()),
                               sorted((k, list(v)) for k, v in self.options.candidates.items()), self.input_text, __version__])
        return hashlib.sha256(content + b"\0" + settings.encode()).hexdigest()


@dataclass
class BatchSummary:
    """Counts per status, the records of failures, and the time taken."""

    counts: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    problems: list[dict[str, Any]] = field(default_factory=list)

    def add(self, record: dict[str, Any]) -> None:
        self.counts[record["status"]] += 1
        if record["status"] in ("error", "unrepairable", "timeout"):
            self.problems.append(record)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def __str__(self) -> str:
        parts = ", ".join(f"{self.counts[s]} {s}" for s in STATUSES if self.counts[s])
        rate = self.total / self.seconds if self.seconds else 0.0
        return f"{self.total} files in {self.seconds:.1f} s ({rate:.0f}/s): {parts or 'nothing to do'}"


def collect_inputs(patterns: Sequence[str]) -> list[tuple[Path, Path]]:
    """Config files named by folders (searched recursively) and globs (``**`` allowed), with the root each was found under.

    Raises UsageError when a pattern matches nothing.
    """
    found: dict[Path, Path] = {}
    for pattern in patterns:
        path = Path(pattern)
        if path.is_dir():
            matches = sorted(p for p in path.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file() and not p.name.startswith("."))
            root = path
        else:
            matches = sorted(Path(p) for p in glob.glob(pattern, recursive=True) if Path(p).is_file())
            root = Path(_static_prefix(pattern))
        if not matches:
            raise UsageError(f"{pattern!r} matches no config file (.yaml, .yml or .json)", field="inputs")
        for match in matches:
            found.setdefault(match, root if match.is_relative_to(root) else match.parent)
    return sorted(found.items())


def _static_prefix(pattern: str) -> str:
    """The folder part of a glob before its first wildcard."""
    parts = []
    for part in Path(pattern).parts:
        if any(c in part for c in "*?["):
            break
        parts.append(part)
    prefix = Path(*parts) if parts else Path(".")
    return str(prefix if prefix.is_dir() else prefix.parent)


def plan_jobs(
    patterns: Sequence[str], output_dir: str | Path, options: RepairOptions | None = None,
    input_text: str | None = None, overwrite: bool = False, timeout: float | None = None,
) -> list[Job]:
    """One job per input file; refuses an output folder that would put a result on an input."""
    output_dir = Path(output_dir)
    options = options or RepairOptions()
    jobs = []
    for source, root in collect_inputs(patterns):
        target = output_dir / source.relative_to(root)
        if target.resolve() == source.resolve():
            raise UsageError(f"the output folder {output_dir} would overwrite the input {source}; choose another folder", field="-o")
        jobs.append(Job(str(source), str(target), options, input_text, overwrite, timeout))
    return jobs


def read_manifest(output_dir: str | Path) -> dict[str, dict[str, Any]]:
    """The latest record per output file from earlier runs (a torn last line is ignored)."""
    path = Path(output_dir) / MANIFEST
    records: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return records
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and "output" in record:
            records[record["output"]] = record
    return records


def _current(job: Job, earlier: dict[str, Any] | None) -> bool:
    """Is the result of an earlier run still current (same input and settings, output untouched)?"""
    if earlier is None:
        return False
    try:
        content = Path(job.source).read_bytes()
    except OSError:
        return False
    if earlier.get("fingerprint") != job.fingerprint(content):
        return False
    if earlier.get("status") not in ("valid", "repaired"):
        return earlier.get("status") == "unrepairable"  # errors and timeouts are tried again
    return _sha256(job.output) == earlier.get("output_sha256")


def repair_file(job: Job) -> dict[str, Any]:
    """Repair one file and write its result atomically; the record for the report. Never raises for bad input.

    An existing output is replaced only when ``job.overwrite`` or when it already holds exactly the
    result (a run killed after writing it but before recording it).
    """
    from ..io.config import edited_text, read_config, write_text
    from ..network import Network
    from .repair import repair

    started = time.perf_counter()
    record: dict[str, Any] = {"file": job.source, "output": job.output}
    try:
        content = Path(job.source).read_bytes()
        record["fingerprint"] = job.fingerprint(content)
        data = read_config(job.source)
        ranges, tied = None, True
        if job.input_text is not None:
            ranges, tied = parse_input(job.input_text, Network.from_config(data, source=job.source).ndim)
        result = repair(data, source=job.source, options=job.options, input_ranges=ranges, tied=tied,
                        on_step=None if job.timeout is None else _deadline(job.timeout))
        record.update({k: v for k, v in result.to_dict().items() if k in ("status", "cost", "shift", "changes", "conflict", "reason")})
        if result.status in ("valid", "repaired"):
            text = edited_text(job.source, result.edits, data) if result.status == "repaired" else content.decode("utf-8")
            output = Path(job.output)
            output.parent.mkdir(parents=True, exist_ok=True)
            if job.overwrite or not output.exists() or output.read_text(encoding="utf-8") != text:
                write_text(text, output, overwrite=job.overwrite)
            record["output_sha256"] = hashlib.sha256(text.encode("utf-8")).hexdigest()
    except SolverTimeout:
        record.update(status="timeout", message=f"{job.source}: not solved within {job.timeout:g} s; rerun it alone with a longer --timeout")
    except ConvsolveError as exc:
        record.update(status="error", message=str(exc))
    except (OSError, UnicodeDecodeError) as exc:
        record.update(status="error", message=f"{job.source}: {exc}")
    record["seconds"] = round(time.perf_counter() - started, 4)
    return record


def run_batch(
    jobs: Sequence[Job], output_dir: str | Path, *, workers: int = 2, scheduler: str | None = None,
    on_record: Callable[[dict[str, Any]], None] | None = None,
) -> BatchSummary:
    """Run every job whose output is not current, on ``workers`` local processes or the Dask ``scheduler``.

    Each finished record is appended to the manifest (one ``write`` of one line, so concurrent
    batches never interleave within a line) and passed to ``on_record``.
    """
    output_dir = Path(output_dir)
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the output folder {output_dir}: {exc.strerror or exc}", field="-o") from None
    if not os.access(output_dir, os.W_OK):
        raise UsageError(f"the output folder {output_dir} is not writable", field="-o")
    started = time.perf_counter()
    for leftover in output_dir.rglob(".*.tmp"):  # a killed run's unfinished writes (see write_text); never results
        leftover.unlink(missing_ok=True)
    summary = BatchSummary()
    earlier = read_manifest(output_dir)
    todo = []
    for job in jobs:
        before = earlier.get(job.output)
        if _current(job, before):
            record = {**before, "status": "skipped", "was": before.get("status")}  # type: ignore[dict-item]
            summary.add(record)
            if on_record is not None:
                on_record(record)
        else:
            ours = before is not None and _sha256(job.output) == before.get("output_sha256")
            todo.append(replace(job, overwrite=True) if ours else job)
    manifest = os.open(output_dir / MANIFEST, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        for record in _results(todo, workers, scheduler):
            os.write(manifest, (json.dumps(record) + "\n").encode())
            summary.add(record)
            if on_record is not None:
                on_record(record)
    finally:
        os.close(manifest)
    summary.seconds = time.perf_counter() - started
    return summary


def _results(jobs: Sequence[Job], workers: int, scheduler: str | None) -> Iterator[dict[str, Any]]:
    if not jobs:
        return
    if scheduler is not None:
        yield from _dask_results(jobs, scheduler)
    elif workers <= 1:
        yield from map(repair_file, jobs)
    else:
        chunk = max(1, min(64, len(jobs) // (workers * 8)))
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(_repair_chunk, jobs[i : i + chunk]) for i in range(0, len(jobs), chunk)]
            for future in as_completed(futures):
                yield from future.result()


def _repair_chunk(jobs: Iterable[Job]) -> list[dict[str, Any]]:
    return [repair_file(job) for job in jobs]


def _deadline(seconds: float) -> Callable[[int, int], None]:
    end = time.monotonic() + seconds

    def on_step(done: int, total: int) -> None:
        if time.monotonic() > end:
            raise SolverTimeout(seconds)

    return on_step


def _sha256(path: str) -> str | None:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def _dask_results(jobs: Sequence[Job], scheduler: str) -> Iterator[dict[str, Any]]:
    """Run the jobs on a Dask distributed cluster (the workers must see the same files)."""
    try:
        from dask.distributed import Client, as_completed as dask_completed
    except ImportError:
        raise MissingExtraError("dask[distributed]", "dask") from None
    try:
        client = Client(scheduler, timeout=10)
    except (OSError, TimeoutError) as exc:
        raise UsageError(f"cannot reach the Dask scheduler at {scheduler}: {exc}", field="--scheduler") from None
    try:
        chunk = max(1, min(64, len(jobs) // 64))
        futures = client.map(_repair_chunk, [jobs[i : i + chunk] for i in range(0, len(jobs), chunk)], pure=False)
        for future in dask_completed(futures):
            yield from future.result()
    finally:
        client.close()
