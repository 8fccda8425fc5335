"""Record what convsolve answers, to compare two versions of the code: ``record_outputs.py OUT_DIR``.

A refactoring must not change behaviour. This runs the command line on every shipped config and
space (check, sizes, shapes, export, repair, count, enumerate, sample, prune, suggest, batch-repair)
and the Python API on random residual search spaces (count, the first enumerated assignments, seeded
samples, prune), and writes each answer to its own file under ``OUT_DIR``. Record before a change,
record after, then ``diff -r BEFORE AFTER``: any line that differs is a changed behaviour.

Example:
    python scripts/record_outputs.py /tmp/before     # on the old commit
    python scripts/record_outputs.py /tmp/after      # on the new one
    diff -r /tmp/before /tmp/after && echo identical
"""

from __future__ import annotations

import json
import re
import random
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"
NETWORKS = sorted(CONFIGS.glob("*.yaml")) + sorted((CONFIGS / "seed").glob("*.yaml")) + sorted((CONFIGS / "broken").glob("*.yaml"))
SPACES = sorted((CONFIGS / "spaces").glob("*.yaml")) + [CONFIGS / "bench" / f"{name}.yaml" for name in ("chain-6", "chain-12", "res-6", "res-12")]
RANDOM_SPACES = 60


def commands() -> list[tuple[str, list[str]]]:
    """(answer file name, convsolve arguments) for every CLI answer recorded."""
    out: list[tuple[str, list[str]]] = []
    for path in NETWORKS:
        name, rel = path.stem, str(path.relative_to(ROOT))
        out += [
            (f"{name}.check", ["check", rel]),
            (f"{name}.check.json", ["check", rel, "--json"]),
            (f"{name}.sizes", ["sizes", rel, "--input", "1:300", "--json"]),
            (f"{name}.shapes", ["shapes", rel, "--input", "224", "--json"]),
            (f"{name}.export", ["export", rel]),
            (f"{name}.repair", ["repair", rel, "--json"]),
            (f"{name}.repair-64", ["repair", rel, "--input", "61:67", "--json"]),
        ]
    for path in SPACES:
        name, rel = path.stem, str(path.relative_to(ROOT))
        out += [
            (f"{name}.count", ["count", rel, "--json"]),
            (f"{name}.enumerate", ["enumerate", rel, "-n", "300", "--jsonl"]),
            (f"{name}.sample", ["sample", rel, "-n", "40", "--seed", "3", "--jsonl"]),
            (f"{name}.sample-distinct", ["sample", rel, "-n", "20", "--seed", "5", "--distinct", "--jsonl"]),
            (f"{name}.prune", ["prune", rel, "--json"]),
            (f"{name}.suggest", ["suggest", rel, "--json"]),
        ]
    return out


def run_cli(arguments: list[str], cwd: Path) -> str:
    done = subprocess.run([sys.executable, "-m", "convsolve", *arguments], cwd=cwd, capture_output=True, text=True, timeout=600)
    return f"exit {done.returncode}\n--- stdout\n{done.stdout}--- stderr\n{done.stderr}"


def batch_answer() -> str:
    with tempfile.TemporaryDirectory() as folder:
        inputs = Path(folder) / "in"
        shutil.copytree(CONFIGS / "broken", inputs / "broken")
        shutil.copytree(CONFIGS / "seed", inputs / "seed")
        text = run_cli(["batch-repair", "in", "-o", "out", "--workers", "1", "--jsonl"], Path(folder))
        for result in sorted((Path(folder) / "out").rglob("*.yaml")):
            text += f"--- {result.relative_to(folder)}\n{result.read_text()}"
    text = re.sub(r'"seconds": [0-9.e-]+', '"seconds": T', text.replace(folder, "TMP"))
    return re.sub(r"in [0-9.]+ s \([0-9]+/s\)", "in T s", text)


def api_answers() -> str:
    """count, enumerate, sample and prune of random residual spaces through the Python API."""
    sys.path.insert(0, str(ROOT / "tests"))
    from test_intervals import random_network

    from convsolve import ops

    lines = []
    for seed in range(RANDOM_SPACES):
        rng = random.Random(seed)
        space = random_network(rng, transposed=seed % 3 == 0)
        lines.append(f"# space {seed}: count {ops.count(space).valid}")
        lines += [json.dumps(a, sort_keys=True) for a in ops.enumerate_assignments(space, limit=25)]
        lines += [json.dumps(a, sort_keys=True) for a in ops.sample(space, 10, seed=seed)]
        lines.append(str(ops.prune(space).to_dict()))
    return "\n".join(lines) + "\n"


def main() -> int:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    jobs = commands()
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda job: run_cli(job[1], ROOT), jobs))
        batch = pool.submit(batch_answer)
        api = api_answers()
    for (name, _), text in zip(jobs, answers):
        (out / name).write_text(text)
    (out / "batch-repair").write_text(batch.result())
    (out / "api-random-spaces").write_text(api)
    print(f"{len(jobs) + 2} answers written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
