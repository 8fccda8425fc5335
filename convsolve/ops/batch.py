"""Batch repair: many config files, on local processes or a Dask cluster, resumable and never destructive.

Every input file maps to the same relative path under the output folder; two inputs with the same
relative path (``a/arch.yaml`` and ``b/arch.yaml`` given as ``a b``) are refused before anything is
written. Each result is written atomically (a temporary file, then a rename), so a killed batch
leaves whole files or none; a
manifest in the output folder (``.convsolve-batch.jsonl``, one line per finished file) records the
input's and the result's content hashes, so a rerun skips files whose output is current and
finishes the rest. Inputs are only ever read. A file that cannot be read or parsed is reported as
``error`` and the batch goes on.

The output folder is not trusted: below it no symlink is followed (every folder is opened one name
at a time with ``O_NOFOLLOW``, relative to its parent's descriptor), a result replaces only a
regular file (never a device, FIFO, socket, folder or symlink, with or without ``--force``), the
batch's own files (lock, manifest, the record of temporary files) are opened the same way and must
be regular files with one name, and the clean-up of a killed run removes only the temporary files
that run recorded creating (:data:`TEMPORARIES`), never a file that merely looks like one.

One batch at a time writes to an output folder: it holds an advisory lock (``.convsolve-batch.lock``,
``flock``) and a second batch on the same folder is refused, naming the process that holds it. An
output folder inside a folder the inputs are searched in is refused (a rerun would read the results
as inputs). A full or read-only output disk stops the batch with one clear error: the files
finished are whole and recorded, nothing partial is left, and a rerun finishes the rest.

Example:
    >>> jobs = plan_jobs(["configs/seed"], "/tmp/repaired")          # doctest: +SKIP
    >>> summary = run_batch(jobs, workers=2)                          # doctest: +SKIP
"""

from __future__ import annotations

import errno
import glob
import hashlib
import json
import os
import secrets
import stat
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import closing, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePath
from typing import Any

from .. import __version__
from ..errors import ConvsolveError, MissingExtraError, OutputError, SolverTimeout, UsageError
from ..sizesets import parse_input
from ..solve.engine import fewer_collections
from .repair import RepairOptions

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; one batch per output folder is then up to the user
    fcntl = None  # type: ignore[assignment]

__all__ = ["Job", "BatchSummary", "MANIFEST", "collect_inputs", "plan_jobs", "repair_file", "run_batch"]

MANIFEST = ".convsolve-batch.jsonl"
LOCK = ".convsolve-batch.lock"
"""Held (``flock``) by the batch writing to the folder; it holds that process's id."""
TEMPORARIES = ".convsolve-batch.temporaries"
"""One JSON line per temporary file a batch created (folder, name, device and inode), so that the next
batch removes exactly those a killed run left, and nothing else."""
DISK_FULL = ("ENOSPC", "EDQUOT", "EROFS")
"""Write failures that every later file would hit too: the batch stops at the first."""
MAX_TEMPORARIES_BYTES = 64 * 2**20
"""The most of :data:`TEMPORARIES` read back (a run records about 150 bytes per file)."""
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
    folder: str | None = None
    """The output folder (default: the output's own folder): below it no symlink is followed."""
    max_bytes: int | None = None
    """The largest input read, in bytes (default :data:`~convsolve.io.config.MAX_CONFIG_BYTES`)."""

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
    input_text: str | None = None, overwrite: bool = False, timeout: float | None = None, max_bytes: int | None = None,
) -> list[Job]:
    """One job per input file.

    Raises UsageError when a result would land on an input, when two inputs would land on the same
    result (the same path relative to the folders they were found under), or when the output folder
    lies inside a folder the inputs are searched in (a folder, or the fixed part of a glob): a rerun
    would read the results as inputs. An output folder that merely contains the inputs is fine.
    """
    output_dir = Path(output_dir)
    options = options or RepairOptions()
    found = collect_inputs(patterns)
    sources = {source.resolve() for source, _ in found}
    jobs = []
    claimed: dict[str, Path] = {}
    for source, root in found:
        target = output_dir / source.relative_to(root)
        if target.resolve() in sources:
            raise UsageError(f"the output folder {output_dir} would overwrite the input {source}; choose another folder", field="-o")
        first = claimed.setdefault(os.path.normcase(os.path.normpath(target)), source)
        if first != source:
            raise UsageError(f"the inputs {first} and {source} would both be written to {target} (the same path under the folders "
                             "they were found in), so one result would be lost; repair them in separate batches with different "
                             "-o folders, or give their common parent folder so that each keeps its own path; nothing was written",
                             field="inputs")
        jobs.append(Job(str(source), str(target), options, input_text, overwrite, timeout, str(output_dir), max_bytes))
    for pattern in patterns:
        wildcard = any(c in pattern for c in "*?[")
        searched = Path(pattern) if Path(pattern).is_dir() else Path(_static_prefix(pattern)) if wildcard else None
        if searched is not None and output_dir.resolve().is_relative_to(searched.resolve()):
            raise UsageError(f"the output folder {output_dir} is inside {searched}, where the inputs {pattern!r} are searched for, "
                             "so a rerun would read the results as inputs; choose an output folder outside it", field="-o")
    return jobs


def read_manifest(output_dir: str | Path) -> dict[str, dict[str, Any]]:
    """The latest record per output file from earlier runs (a torn last line is ignored)."""
    records: dict[str, dict[str, Any]] = {}
    try:
        folder = os.open(output_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:
        return records
    try:
        handle = _open_own_file(folder, MANIFEST, os.O_RDONLY, Path(output_dir))
    except FileNotFoundError:
        return records
    finally:
        os.close(folder)
    with os.fdopen(handle, "rb") as manifest:
        text = manifest.read().decode("utf-8", errors="replace")
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and "output" in record:
            records[record["output"]] = record
    return records


def _current(job: Job, earlier: dict[str, Any]) -> bool:
    """Is the result of an earlier run still current (same input and settings, output untouched)?"""
    from ..io.config import read_input

    try:
        content = read_input(job.source, max_bytes=job.max_bytes)
    except ConvsolveError:
        return False
    if earlier.get("fingerprint") != job.fingerprint(content):
        return False
    if earlier.get("status") not in ("valid", "repaired"):
        return earlier.get("status") == "unrepairable"  # errors and timeouts are tried again
    return _sha256(_result_content(job)) == earlier.get("output_sha256")


def repair_file(job: Job) -> dict[str, Any]:
    """Repair one file and write its result atomically; the record for the report. Never raises for bad input.

    An existing output is replaced only when ``job.overwrite`` or when it already holds exactly the
    result (a run killed after writing it but before recording it).
    """
    from ..io.config import edited_text, read_config, read_input
    from ..network import Network
    from .repair import repair

    started = time.perf_counter()
    record: dict[str, Any] = {"file": job.source, "output": job.output}
    try:
        content = read_input(job.source, max_bytes=job.max_bytes)
        record["fingerprint"] = job.fingerprint(content)
        data = read_config(job.source, round_trip=False, max_bytes=job.max_bytes)
        ranges, tied = None, True
        if job.input_text is not None:
            ranges, tied = parse_input(job.input_text, Network.from_config(data, source=job.source).ndim)
        result = repair(data, source=job.source, options=job.options, input_ranges=ranges, tied=tied,
                        on_step=None if job.timeout is None else _deadline(job.timeout))
        record.update({k: v for k, v in result.to_dict().items() if k in ("status", "cost", "shift", "changes", "conflict", "reason")})
        if result.status in ("valid", "repaired"):
            text = edited_text(job.source, result.edits, data, max_bytes=job.max_bytes) if result.status == "repaired" else content.decode("utf-8")
            _write_result(job, text.encode("utf-8"))
            record["output_sha256"] = hashlib.sha256(text.encode("utf-8")).hexdigest()
    except SolverTimeout:
        record.update(status="timeout", message=f"{job.source}: not solved within {job.timeout:g} s; rerun it alone with a longer --timeout")
    except ConvsolveError as exc:
        exc.facts.setdefault("file", job.source)  # a solver limit names its layer only
        record.update(status="error", message=str(exc))
        if isinstance(exc, OutputError) and exc.facts.get("reason") in DISK_FULL:
            record["errno"] = exc.facts["reason"]
    except (OSError, UnicodeDecodeError) as exc:
        record.update(status="error", message=f"{job.source}: {exc}")
        if isinstance(exc, OSError) and errno.errorcode.get(exc.errno or 0) in DISK_FULL:  # creating the output's folder
            record["errno"] = errno.errorcode[exc.errno or 0]
    record["seconds"] = round(time.perf_counter() - started, 4)
    return record


def run_batch(
    jobs: Sequence[Job], output_dir: str | Path, *, workers: int = 2, scheduler: str | None = None,
    on_record: Callable[[dict[str, Any]], None] | None = None,
) -> BatchSummary:
    """Run every job whose output is not current, on ``workers`` local processes or the Dask ``scheduler``.

    Each finished record is passed to ``on_record`` and appended to the manifest (one ``write`` of
    one line). The batch holds the output folder's lock throughout.

    Raises:
        OutputError: the output folder cannot be written (before any work), another batch holds its
            lock, or the disk fills up or turns read-only during the run (the batch stops there).
    """
    output_dir = Path(output_dir)
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the output folder {output_dir}: {exc.strerror or exc}", field="-o") from None
    _check_writable(output_dir)
    with _locked(output_dir):
        return _run_locked(jobs, output_dir, workers, scheduler, on_record)


def _run_locked(
    jobs: Sequence[Job], output_dir: Path, workers: int, scheduler: str | None, on_record: Callable[[dict[str, Any]], None] | None,
) -> BatchSummary:
    started = time.perf_counter()
    try:
        _remove_temporaries(output_dir)  # a killed run's unfinished writes, as it recorded them
    except OSError as exc:
        raise OutputError(f"cannot clean up {output_dir / TEMPORARIES}: {exc.strerror or exc}; make {output_dir} writable or "
                          "choose another folder with -o; nothing was written", path=str(output_dir),
                          reason=errno.errorcode.get(exc.errno or 0)) from None
    summary = BatchSummary()
    earlier = read_manifest(output_dir)
    todo = []
    for job in jobs:
        before = earlier.get(job.output)
        if before is not None and _current(job, before):
            record = {**before, "status": "skipped", "was": before.get("status")}
            summary.add(record)
            if on_record is not None:
                on_record(record)
        else:
            ours = before is not None and _sha256(_result_content(job)) == before.get("output_sha256")
            todo.append(replace(job, overwrite=True) if ours else job)
    recorded = summary.total
    manifest_path = output_dir / MANIFEST
    folder = os.open(output_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        manifest = _open_own_file(folder, MANIFEST, os.O_RDWR | os.O_APPEND | os.O_CREAT, output_dir)
    except OSError as exc:
        raise _stopped(output_dir, f"the manifest {manifest_path}", exc, recorded, len(jobs)) from None
    finally:
        os.close(folder)

    def append(line: bytes) -> None:
        try:
            _append(manifest, line)
        except OSError as exc:
            raise _stopped(output_dir, f"the manifest {manifest_path}", exc, recorded, len(jobs)) from None

    try:
        size = os.fstat(manifest).st_size
        if size and os.pread(manifest, 1, size - 1) != b"\n":  # a torn last line (a full disk): end it first
            append(b"\n")
        with closing(_results(todo, workers, scheduler)) as results:  # closing cancels the jobs not started
            for record in results:
                summary.add(record)
                if on_record is not None:
                    on_record(record)
                if record.get("errno") in DISK_FULL:
                    raise _stopped(output_dir, record["output"], OSError(getattr(errno, record["errno"]), ""), recorded, len(jobs))
                append((json.dumps(record) + "\n").encode())
                recorded += 1
    finally:
        os.close(manifest)
    try:
        _remove_temporaries(output_dir)  # all renamed or removed by now: start the next run's record empty
    except OSError:
        pass  # the next run cleans up
    summary.seconds = time.perf_counter() - started
    return summary


def _append(manifest: int, line: bytes) -> None:
    """Append one whole line to the manifest in one ``write`` (an ``O_APPEND`` write lands whole, after the rest)."""
    if os.write(manifest, line) != len(line):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _check_writable(output_dir: Path) -> None:
    """Refuse, before any work, an output folder that cannot take a new file (read-only, or its disk full)."""
    try:
        with tempfile.TemporaryFile(dir=output_dir):
            pass
        full = os.statvfs(output_dir).f_bavail == 0
    except OSError as exc:
        raise OutputError(f"the output folder {output_dir} is not writable ({exc.strerror or exc}); make it writable or choose "
                          "another folder with -o; nothing was read or written", path=str(output_dir),
                          reason=errno.errorcode.get(exc.errno or 0)) from None
    if full:
        raise OutputError(f"the disk holding the output folder {output_dir} is full; free some space or choose another folder "
                          "with -o; nothing was read or written", path=str(output_dir), reason="ENOSPC")


@contextmanager
def _locked(output_dir: Path) -> Iterator[None]:
    """Hold the folder's :data:`LOCK` (an advisory ``flock``, released when the process ends, however it ends)."""
    path = output_dir / LOCK
    try:
        folder = os.open(output_dir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            handle = _open_own_file(folder, LOCK, os.O_RDWR | os.O_CREAT, output_dir)
        finally:
            os.close(folder)
    except OSError as exc:
        raise OutputError(f"cannot create the lock {path}: {exc.strerror or exc}; make {output_dir} writable or choose "
                          "another folder with -o", path=str(path), reason=errno.errorcode.get(exc.errno or 0)) from None
    try:
        if fcntl is not None:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(handle, 32, 0).decode("ascii", "replace").strip()
                who = f"process {holder}" if holder.isdigit() else "another process"
                raise OutputError(f"another batch repair ({who}) is writing to {output_dir}: it holds the lock {path}; wait "
                                  "for it to finish or choose another output folder with -o; nothing was written",
                                  path=str(path), pid=holder or None) from None
        os.ftruncate(handle, 0)
        os.pwrite(handle, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(handle)


def _stopped(output_dir: Path, unwritten: str, exc: OSError, recorded: int, total: int) -> OutputError:
    """The error that stops a batch whose output folder takes no more: what was done, and how to finish."""
    return OutputError(
        f"stopped: {unwritten} could not be written ({exc.strerror or os.strerror(exc.errno or 0)}), so the output folder "
        f"{output_dir} is full or read-only. {recorded} of {total} files are done and recorded, every result written is whole, "
        "nothing partial was left and no input was touched; free some space (or choose another folder with -o) and rerun "
        "to finish the rest", path=str(output_dir), reason=errno.errorcode.get(exc.errno or 0))


def _results(jobs: Sequence[Job], workers: int, scheduler: str | None) -> Generator[dict[str, Any], None, None]:
    if not jobs:
        return
    if scheduler is not None:
        yield from _dask_results(jobs, scheduler)
    elif workers <= 1:
        yield from map(repair_file, jobs)
    else:
        chunk = max(1, min(16, len(jobs) // (workers * 8)))
        pool = ProcessPoolExecutor(max_workers=workers)
        try:
            futures = [pool.submit(_repair_chunk, jobs[i : i + chunk]) for i in range(0, len(jobs), chunk)]
            for future in as_completed(futures):
                yield from future.result()
        finally:  # stopped early (Ctrl-C, a full disk): the chunks running finish, the rest never start
            pool.shutdown(wait=True, cancel_futures=True)


@fewer_collections()
def _repair_chunk(jobs: Iterable[Job]) -> list[dict[str, Any]]:
    """Repair a chunk of files on a local or a Dask worker."""
    return [repair_file(job) for job in jobs]


def _deadline(seconds: float) -> Callable[[int, int], None]:
    end = time.monotonic() + seconds

    def on_step(done: int, total: int) -> None:
        if time.monotonic() > end:
            raise SolverTimeout(seconds)

    return on_step


def _sha256(content: bytes | None) -> str | None:
    return None if content is None else hashlib.sha256(content).hexdigest()


# --- the output folder, not trusted ---------------------------------------------------------------


def _open_own_file(folder: int, name: str, flags: int, shown: Path) -> int:
    """Open one of the batch's own files, ``name`` in the folder descriptor ``folder``, without following a symlink.

    It must be a regular file with no other name (a hard link to a file elsewhere would be truncated
    or appended to). Checked before opening (a device is never opened) and again after.

    Raises:
        FileNotFoundError: it does not exist and ``flags`` has no ``O_CREAT``.
        OutputError: it is a symlink, a device, FIFO, socket or folder, or has other names.
    """
    try:
        _check_own_file(os.stat(name, dir_fd=folder, follow_symlinks=False), shown / name)
    except FileNotFoundError:
        if not flags & os.O_CREAT:
            raise
    handle = os.open(name, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o644, dir_fd=folder)
    try:
        _check_own_file(os.fstat(handle), shown / name)
    except BaseException:
        os.close(handle)
        raise
    return handle


def _check_own_file(info: os.stat_result, path: Path) -> None:
    from ..io.config import file_kind

    kind = file_kind(info.st_mode)
    if kind != "regular file":
        raise OutputError(f"{path} is a {kind}, not the regular file this batch keeps there; remove it (a batch never follows "
                          "or writes into anything else) or choose another output folder with -o; nothing was written",
                          path=str(path), field="-o")
    if info.st_nlink > 1:
        raise OutputError(f"{path} has {info.st_nlink} names (hard links), so writing it would change another file; remove it "
                          "or choose another output folder with -o; nothing was written", path=str(path), field="-o")


def _open_folder(root: Path, relative: PurePath, *, create: bool) -> int:
    """A descriptor of the folder ``relative`` below ``root``, opened one name at a time without following a symlink.

    Raises:
        FileNotFoundError: a folder is missing and not ``create``.
        UsageError: a name on the way is a symlink or not a folder.
    """
    handle = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for depth, part in enumerate(relative.parts):
            if create:
                try:
                    os.mkdir(part, 0o777, dir_fd=handle)
                except FileExistsError:
                    pass
            try:
                inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=handle)
            except OSError as exc:
                if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise
                from ..io.config import file_kind

                shown = root.joinpath(*relative.parts[: depth + 1])
                kind = file_kind(os.stat(part, dir_fd=handle, follow_symlinks=False).st_mode)
                raise UsageError(f"{shown} is a {kind}, not a folder: results are written only inside the output folder "
                                 f"{root}, and no symlink below it is followed; remove it or choose another output folder",
                                 field="-o") from None
            os.close(handle)
            handle = inner
    except BaseException:
        os.close(handle)
        raise
    return handle


def _output_place(job: Job) -> tuple[Path, PurePath, str]:
    """The output folder of ``job``, the result's folder relative to it, and the result's file name."""
    root = Path(job.folder) if job.folder is not None else Path(job.output).parent
    relative = Path(job.output).relative_to(root)
    return root, relative.parent, relative.name


def _result_content(job: Job) -> bytes | None:
    """What ``job``'s result file holds now; None when it is missing, not a regular file (no symlink is followed,
    no device opened), or larger than any result of an input of at most ``job.max_bytes``."""
    from ..io.config import MAX_CONFIG_BYTES

    root, relative, name = _output_place(job)
    try:
        folder = _open_folder(root, relative, create=False)
    except (OSError, ConvsolveError):
        return None
    try:
        if not stat.S_ISREG(os.stat(name, dir_fd=folder, follow_symlinks=False).st_mode):
            return None
        handle = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=folder)
    except OSError:
        return None
    finally:
        os.close(folder)
    with os.fdopen(handle, "rb") as result:
        info = os.fstat(handle)
        if not stat.S_ISREG(info.st_mode) or info.st_size > 2 * (job.max_bytes or MAX_CONFIG_BYTES):
            return None
        return result.read()


def _write_result(job: Job, content: bytes) -> None:
    """Write ``job``'s result atomically inside its output folder, never through a symlink and never over a non-regular file.

    An existing result is replaced only when ``job.overwrite``, and left alone when it already holds
    ``content`` (a run killed after writing it but before recording it). The temporary file is
    recorded in :data:`TEMPORARIES` as soon as it exists, so a killed run's is removed by the next.

    Raises:
        UsageError: the result's name is taken by something that is not a regular file, or by a
            file (without ``job.overwrite``); a folder on the way is a symlink.
        OutputError: the file cannot be written (``reason`` is the errno name, e.g. ``ENOSPC``).
    """
    from ..io.config import file_kind

    root, relative, name = _output_place(job)
    shown = Path(job.output)
    try:
        folder = _open_folder(root, relative, create=True)
    except OSError as exc:
        raise OutputError(f"cannot write {shown}: {exc.strerror or exc}", field="-o", path=str(shown),
                          reason=errno.errorcode.get(exc.errno or 0)) from None
    temporary = None
    try:
        try:
            existing = os.stat(name, dir_fd=folder, follow_symlinks=False)
        except FileNotFoundError:
            existing = None
        if existing is not None:
            kind = file_kind(existing.st_mode)
            if kind != "regular file":
                raise UsageError(f"{shown} is a {kind}, not a regular file; a batch replaces regular files only, with or without "
                                 "--force; remove it or choose another output folder", field="-o")
            if existing.st_size == len(content) and _result_content(job) == content:
                return
            if not job.overwrite:
                raise UsageError(f"{shown} exists and no earlier batch wrote it; pass --force to replace it, or choose another "
                                 "output folder", field="-o")
        temporary = f".{name}.{secrets.token_hex(4)}.tmp"
        handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=folder)
        try:
            _record_temporary(root, relative, temporary, os.fstat(handle))
            view = memoryview(content)
            while view:
                view = view[os.write(handle, view):]
            os.fsync(handle)
            os.fchmod(handle, existing.st_mode & 0o777 if existing is not None else _new_file_mode())
        finally:
            os.close(handle)
        os.replace(temporary, name, src_dir_fd=folder, dst_dir_fd=folder)  # a rename replaces a name, never follows it
        temporary = None
    except OSError as exc:
        raise OutputError(f"cannot write {shown}: {exc.strerror or exc}", field="-o", path=str(shown),
                          reason=errno.errorcode.get(exc.errno or 0)) from None
    finally:
        if temporary is not None:  # not renamed (a failed write, a timeout): leave nothing behind
            try:
                os.unlink(temporary, dir_fd=folder)
            except OSError:
                pass
        os.close(folder)


def _new_file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _record_temporary(root: Path, relative: PurePath, name: str, info: os.stat_result) -> None:
    """Append one line naming a temporary file just created to the folder's :data:`TEMPORARIES` (one whole ``write``)."""
    folder = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        record = _open_own_file(folder, TEMPORARIES, os.O_WRONLY | os.O_APPEND | os.O_CREAT, root)
    finally:
        os.close(folder)
    try:
        line = json.dumps({"folder": relative.as_posix(), "name": name, "device": info.st_dev, "inode": info.st_ino}) + "\n"
        _append(record, line.encode())
    finally:
        os.close(record)


def _remove_temporaries(output_dir: Path) -> None:
    """Remove the temporary files recorded in :data:`TEMPORARIES` that are still there, the same files
    (device and inode), then empty the record. Nothing else is removed, whatever its name."""
    folder = os.open(output_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        record = _open_own_file(folder, TEMPORARIES, os.O_RDWR | os.O_CREAT, output_dir)
    finally:
        os.close(folder)
    try:
        lines = os.pread(record, MAX_TEMPORARIES_BYTES, 0).decode("utf-8", errors="replace").splitlines()
        for line in lines:
            try:
                entry = json.loads(line)
                relative, name, device, inode = PurePath(entry["folder"]), entry["name"], entry["device"], entry["inode"]
            except (ValueError, KeyError, TypeError):
                continue  # a torn line
            if not isinstance(name, str) or "/" in name or not name.endswith(".tmp") or relative.is_absolute() or ".." in relative.parts:
                continue
            try:
                inner = _open_folder(output_dir, relative, create=False)
            except (OSError, ConvsolveError):
                continue
            try:
                info = os.stat(name, dir_fd=inner, follow_symlinks=False)
                if stat.S_ISREG(info.st_mode) and (info.st_dev, info.st_ino) == (device, inode):
                    os.unlink(name, dir_fd=inner)
            except OSError:
                pass
            finally:
                os.close(inner)
        os.ftruncate(record, 0)
    finally:
        os.close(record)


def _dask_results(jobs: Sequence[Job], scheduler: str) -> Iterator[dict[str, Any]]:
    """Run the jobs on a Dask distributed cluster (the workers must see the same files)."""
    try:
        from dask.distributed import Client, as_completed as dask_completed
    except ImportError:
        raise MissingExtraError("dask[distributed]", "dask") from None
    try:
        client = Client(scheduler, timeout=10)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError) as exc:
        raise UsageError(f"cannot reach the Dask scheduler at {scheduler}: {exc}", field="--scheduler") from None
    try:
        chunk = max(1, min(64, len(jobs) // 64))
        futures = client.map(_repair_chunk, [jobs[i : i + chunk] for i in range(0, len(jobs), chunk)], pure=False)
        for future in dask_completed(futures):  # type: ignore[no-untyped-call]
            yield from future.result()
    finally:
        client.close()  # type: ignore[no-untyped-call]
