"""Provenance records: what made each output, and an audit that checks a result's whole chain.

Every ``lcsbench`` subcommand writes, next to each output ``X``, a record ``X.prov.json``: the
sha256 of the output and of every input, the command line, the slice of the workflow config the
command depends on (and its hash), seeds, lcsbench version and git commit (+ dirty flag),
package versions, device, host, SLURM job id, start/end time and peak memory.

:func:`audit` starts from outputs, recomputes their hashes and follows the inputs' records back
to the raw data (files without a record outside the work folder and results/), reporting every
missing record, hash mismatch and record made under a different config than the current one.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import resource
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from lcsbench import __version__
from lcsbench.errors import InputError
from lcsbench.io import save_json

SUFFIX = ".prov.json"
PACKAGES = ["torch", "monai", "antspyx", "nibabel", "deepbet", "snakemake", "numpy", "nilearn", "pandas"]
ENV_CONFIG = "LCSBENCH_CONFIG_FILE"  # a JSON file of the workflow config, exported by rules/common.smk

#: The config keys each subcommand depends on ("{scale}" is the configured scale).
CONFIG_KEYS: dict[str, list[str]] = {
    "phantom-template": ["phantom"],
    "phantom-subject": ["seed", "phantom"],
    "phantom-manifest": ["dataset"],
    "validate-dataset": ["dataset", "splits"],
    "publish": ["dataset"],
    "preprocess": ["preprocess"],
    "weak-labels": ["seed", "weak_labels"],
    "qc": ["qc"],
    "intersubject-dice": ["qc"],
    "splits": ["seed", "splits"],
    "grid": ["scale", "scales.{scale}.grid_factor"],
    "train": ["seed", "classes", "scale", "scales.{scale}"],
    "predict": ["classes", "scale", "scales.{scale}.label_batch"],
    "evaluate": ["classes", "evaluate"],
    "summary": [],
    "summarize": [],
    "collect-benchmarks": [],
    "bench": ["scale", "scales", "bench"],
}


def command_config_keys(command: str) -> list[str]:
    """The config keys of a generic subcommand or of a paper's (its ``cli.CONFIG_KEYS``)."""
    if command in CONFIG_KEYS:
        return CONFIG_KEYS[command]
    import importlib

    from lcsbench.papers import PAPERS

    for paper in PAPERS:
        keys = getattr(importlib.import_module(f"lcsbench.papers.{paper}.cli"), "CONFIG_KEYS", {})
        if command in keys:
            return keys[command]
    return []


def portable(path: str | Path) -> str:
    """``path`` relative to the working folder when inside it, so records survive a moved checkout."""
    p = Path(path)
    if p.is_absolute():
        try:
            return p.relative_to(Path.cwd()).as_posix()
        except ValueError:
            return str(p)
    return str(p)


def record_path(path: str | Path) -> Path:
    p = Path(path)
    return p.with_name(p.name + SUFFIX)


def _file_sha(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _stamp(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


def recorded_sha(path: Path) -> str:
    """sha256 of a file, reused from its provenance record while size and mtime still match.

    A job's inputs are mostly earlier jobs' outputs, whose records hold their hash and stamp; this
    spares rereading them in every job. ``lcsbench audit`` never reuses: it rereads every file.
    """
    rec = record_path(path)
    if rec.is_file():
        try:
            r = json.loads(rec.read_text())
            if r.get("stamp") == _stamp(path) and isinstance(r.get("sha256"), str):
                return r["sha256"]
        except (OSError, ValueError):
            pass
    return _file_sha(path)


def content_files(folder: Path) -> list[Path]:
    """Files of a folder that count as its content (no records, no hidden temporaries)."""
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not p.name.endswith(SUFFIX) and not any(part.startswith(".") for part in p.parts)
    )


def sha256(path: str | Path, file_sha=None) -> str:
    """sha256 of a file; of a folder, the sha256 of its files' relative paths and hashes.

    ``file_sha`` hashes one file (the audit passes its memo, so no file is read twice).
    """
    p, file_sha = Path(path), file_sha or _file_sha
    if p.is_dir():
        h = hashlib.sha256()
        for f in content_files(p):
            h.update(f"{f.relative_to(p).as_posix()}\0{file_sha(f)}\n".encode())
        return "dir:" + h.hexdigest()
    return file_sha(p)


def extra_config_keys(argv: list[str]) -> list[str]:
    """Config keys a job names beyond its subcommand's (``--config-key K``, e.g. the ablation it runs)."""
    return [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "--config-key"]


def config_slice(config: dict | None, command: str, extra: list[str] = ()) -> dict | None:
    """The values of the config keys ``command`` (and ``extra``) depends on (None without a config)."""
    if config is None:
        return None
    out = {}
    for key in [*command_config_keys(command), *extra]:
        value = config
        for part in key.format(scale=config.get("scale", "")).split("."):
            value = value.get(part) if isinstance(value, dict) else None
        out[key.format(scale=config.get("scale", ""))] = value
    return out


def config_hash(sliced: dict | None) -> str | None:
    if sliced is None:
        return None
    return hashlib.sha256(json.dumps(sliced, sort_keys=True, default=str).encode()).hexdigest()


def _git() -> dict:
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return {"commit": None, "dirty": None}
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True)
        code = ["src", "rules", "Snakefile", "schemas", "envs", "config.yaml", "pyproject.toml"]
        status = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", *code], capture_output=True, text=True
        )
    except OSError:
        return {"commit": None, "dirty": None}
    return {"commit": commit.stdout.strip() or None, "dirty": bool(status.stdout.strip())}


def _versions() -> dict:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def device() -> str:
    """GPU name and CUDA version when torch sees a GPU, else the CPU model."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)} (CUDA {torch.version.cuda})"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def workflow_config() -> dict | None:
    """The config of the Snakemake run this job belongs to (None outside one)."""
    path = os.environ.get(ENV_CONFIG)
    if not path:
        return None
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"workflow config {path} ({ENV_CONFIG}) is unreadable ({exc}); rerun snakemake") from exc


@dataclass
class Job:
    """One subcommand run: its inputs are hashed when it starts, its outputs' records written at the end."""

    command: str
    argv: list[str]
    inputs: list[str]
    outputs: list[str]
    seeds: dict
    started: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    input_hashes: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.input_hashes = {portable(p): sha256(p, recorded_sha) for p in self.inputs}

    def add_input(self, path: str | Path) -> None:
        """An input the command found itself (e.g. a template shipped by a package)."""
        self.input_hashes[portable(path)] = sha256(path, recorded_sha)

    def write_records(self) -> None:
        config = workflow_config()
        sliced = config_slice(config, self.command, extra_config_keys(self.argv))
        peak = max(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        )
        common = {
            "command": f"lcsbench {self.command}",
            "argv": self.argv,
            "inputs": self.input_hashes,
            "config": {"keys": sliced, "sha256": config_hash(sliced)},
            "seeds": self.seeds,
            "code": {"lcsbench": __version__, **_git()},
            "packages": _versions(),
            "device": device(),
            "hostname": socket.gethostname(),
            "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
            "started": self.started,
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "peak_rss_mb": round(peak / 1024, 1),
        }
        for out in self.outputs:
            if not Path(out).exists():
                continue
            out_path = Path(out)
            stamp = _stamp(out_path) if out_path.is_file() else None
            save_json({"output": portable(out), "sha256": sha256(out), "stamp": stamp, **common}, record_path(out))


_CURRENT: Job | None = None


def start_job(command: str, argv: list[str], inputs: list[str], outputs: list[str], seeds: dict) -> Job:
    global _CURRENT
    _CURRENT = Job(command, argv, inputs, outputs, seeds)
    return _CURRENT


def end_job() -> None:
    global _CURRENT
    _CURRENT = None


def note_input(path: str | Path) -> None:
    """Record ``path`` as an input of the running subcommand (no-op outside one)."""
    if _CURRENT is not None:
        _CURRENT.add_input(path)


# ---------------------------------------------------------------------------------------------
# Audit
# ---------------------------------------------------------------------------------------------


@dataclass
class Problem:
    path: str
    what: str
    chain: list[str]

    def __str__(self) -> str:
        via = " <- ".join(self.chain)
        return f"{self.path}: {self.what}" + (f"\n    chain: {via}" if len(self.chain) > 1 else "")


class Auditor:
    """Walks records from outputs back to raw inputs (memoised: each file is checked once)."""

    def __init__(
        self,
        config: dict | None,
        tracked: list[Path],
        leaves: list[Path] = (),
        shipped: Path | None = None,
        work: Path | None = None,
    ):
        self.config, self.tracked = config, [t.resolve() for t in tracked]
        self.leaves = [t.resolve() for t in leaves]
        self.shipped = shipped.resolve() if shipped is not None else None
        self.work = work.resolve() if work is not None else None
        self.problems: list[Problem] = []
        self.absent: set[str] = set()  # inputs of a folder this checkout does not have
        self.checked: dict[str, str] = {}
        self.records = 0

    def _hash(self, path: str | Path) -> str | None:
        key = str(path)
        if key not in self.checked:
            p = Path(path)
            if not p.exists():
                self.checked[key] = None
            else:  # a folder combines its files' memoised hashes
                self.checked[key] = sha256(p, self._hash) if p.is_dir() else _file_sha(p)
        return self.checked[key]

    def _is_tracked(self, path: str) -> bool:
        """Inside the work folder or results/ (so it needs a record), and not a known leaf."""
        p = Path(path).resolve()
        if any(p == t or t in p.parents for t in self.leaves):
            return False
        return any(p == t or t in p.parents for t in self.tracked)

    def _may_be_absent(self, path: str) -> bool:
        """A missing file whose whole folder this checkout lacks: the work folder of a fresh clone
        (not shipped), or raw data / an installed package elsewhere. A file missing from a folder
        that is present (or from the shipped results/) is a problem."""
        if self.shipped is None:
            return False
        p = Path(path).resolve()
        if p == self.shipped or self.shipped in p.parents:
            return False
        if self.work is not None and self.work in p.parents:
            return not self.work.exists()
        return not p.parent.exists()

    def visit(self, path: str, chain: list[str], seen: set[str]) -> None:
        if path in seen:
            return
        seen.add(path)
        chain = [*chain, path]
        if not Path(path).exists() and self._may_be_absent(path):
            self.absent.add(path)  # its own chain cannot be followed in this checkout
            return
        rec_file = record_path(path)
        if not rec_file.is_file():
            if Path(path).is_dir():  # a folder of outputs (e.g. preprocessed subjects): its files' records
                for f in content_files(Path(path)):
                    self.visit(str(f), chain, seen)
            elif self._is_tracked(path):
                self.problems.append(Problem(path, "no provenance record", chain))
            return  # a raw input outside the work folder and results/: its hash was checked by its user
        self.records += 1
        rec = json.loads(rec_file.read_text())
        if self._hash(path) != rec["sha256"]:
            self.problems.append(Problem(path, f"content changed since `{rec['command']}` wrote it", chain))
        want = config_hash(config_slice(self.config, rec["command"].split()[-1], extra_config_keys(rec["argv"])))
        if rec["config"]["sha256"] is None:
            self.problems.append(Problem(path, "its record names no workflow config (made outside Snakemake)", chain))
        elif self.config is not None and want != rec["config"]["sha256"]:
            self.problems.append(
                Problem(path, f"made with a different config ({json.dumps(rec['config']['keys'])[:200]})", chain)
            )
        for inp, h in rec["inputs"].items():
            now = self._hash(inp)
            if now is None and self._may_be_absent(inp):
                pass  # reported as absent by visit()
            elif now is None:
                self.problems.append(Problem(inp, f"input of {path} is missing", [*chain, inp]))
            elif now != h:
                self.problems.append(Problem(inp, f"input of {path} changed after it was used", [*chain, inp]))
            self.visit(inp, chain, seen)


def audit(
    paths: list[str | Path],
    config: dict | None,
    tracked: list[Path],
    leaves: list[Path] = (),
    shipped: Path | None = None,
    work: Path | None = None,
) -> Auditor:
    """Audit every output under ``paths`` (files, or folders walked recursively).

    Files without a record inside ``tracked`` folders are problems, unless inside ``leaves``.
    With ``shipped`` (the committed results/), an input whose folder this checkout lacks (the
    ``work`` folder of a fresh clone, raw data elsewhere) is *absent*, not a problem; every file
    that exists is checked.
    """
    a = Auditor(config, tracked, leaves, shipped, work)
    seen: set[str] = set()
    for root in paths:
        root = Path(root)
        if record_path(root).is_file() or root.is_file():
            a.visit(str(root), [], seen)
            continue
        if not root.exists():
            a.problems.append(Problem(str(root), "does not exist", [str(root)]))
            continue
        for f in _outputs_under(root):
            a.visit(str(f), [], seen)
        for rec in sorted(root.rglob(f"*{SUFFIX}")):  # an output deleted while its record stayed
            out = rec.with_name(rec.name[: -len(SUFFIX)])
            if not out.exists():
                a.problems.append(Problem(str(out), "is missing (its provenance record remains)", [str(out)]))
    return a


#: Files under results/ that are not made by a subcommand: Snakemake's report, the audit table.
NOT_AUDITED = {"report.html", "provenance.csv"}


def _outputs_under(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    return [f for f in content_files(root) if f.name not in NOT_AUDITED]


def summary_rows(paths: list[str | Path], result: Auditor) -> list[dict]:
    """One row per audited output under ``paths``: who made it, where, with what, and its status."""
    bad: dict[str, list[str]] = {}
    for p in result.problems:
        bad.setdefault(p.chain[0], []).append(f"{p.path}: {p.what}")
    rows = []
    for root in paths:
        for f in _outputs_under(Path(root)):
            rec_file = record_path(f)
            rec = json.loads(rec_file.read_text()) if rec_file.is_file() else {}
            rows.append(
                {
                    "output": str(f),
                    "command": rec.get("command"),
                    "finished": rec.get("finished"),
                    "commit": (rec.get("code") or {}).get("commit"),
                    "dirty": (rec.get("code") or {}).get("dirty"),
                    "config_sha256": ((rec.get("config") or {}).get("sha256") or "")[:16] or None,
                    "seeds": json.dumps(rec.get("seeds")) if rec.get("seeds") else None,
                    "host": rec.get("hostname"),
                    "device": rec.get("device"),
                    "slurm_job_id": rec.get("slurm_job_id"),
                    "status": "; ".join(bad.get(str(f), [])) or "ok",
                }
            )
    return rows


def audit_config(configfiles: list[str] | None, schema: str) -> dict:
    """The config to audit against: the running workflow's, or ``configfiles`` merged as Snakemake does."""
    import yaml
    from snakemake.utils import update_config, validate

    if configfiles is None and (running := workflow_config()) is not None:
        return running  # run as a Snakemake rule: the run's own config
    config: dict = {}
    for f in configfiles or ["config.yaml"]:
        if not Path(f).is_file():
            raise InputError(f"config file {f} does not exist; pass the config the run used with --configfile")
        update_config(config, yaml.safe_load(Path(f).read_text()) or {})  # deep merge, as Snakemake
    validate(config, schema, set_default=True)
    return config


def audit_run(
    paths: list[str],
    configfiles: list[str] | None,
    schema: str,
    check_config: bool = True,
    strict: bool = False,
    out_table: str | None = None,
) -> int:
    """The audit command: print every problem (and the absent inputs), write the table; the problem count."""
    import pandas as pd

    from lcsbench.io import atomic_path

    config = audit_config(configfiles, schema) if check_config else None
    work = Path((config or {}).get("work_dir", "work"))
    # Snakemake writes the benchmark files itself: measurements, the leaves of the timing tables
    result = audit(
        paths,
        config,
        tracked=[Path("results"), work],
        leaves=[work / "benchmarks"],
        shipped=None if strict else Path("results"),
        work=work,
    )
    for problem in result.problems:
        print(f"FAIL {problem}")
    print(
        f"audited {result.records} records, {len(result.checked)} files hashed: {len(result.problems)} problem(s)",
        flush=True,
    )
    if result.absent:
        print(
            f"{len(result.absent)} input(s) absent: this checkout lacks their folder (the work folder and raw "
            "data are not shipped), so their own chains were not followed; --strict fails on them",
            flush=True,
        )
    if out_table:
        with atomic_path(out_table) as tmp:
            pd.DataFrame(summary_rows(paths, result)).to_csv(tmp, index=False)
    return len(result.problems)
