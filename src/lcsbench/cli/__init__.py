"""``lcsbench`` command line: one subcommand per pipeline step (each Snakemake rule calls one).

Each subcommand parses its arguments and calls one function of its stage; the subcommands live
in :mod:`~lcsbench.cli.data`, :mod:`~lcsbench.cli.segment`, :mod:`~lcsbench.cli.tools` and each
paper's ``cli`` module (:mod:`lcsbench.papers`).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from lcsbench import __version__
from lcsbench.cli.common import AuditFailed
from lcsbench.errors import InputError


def build_parser() -> argparse.ArgumentParser:
    from lcsbench.cli import data, segment, tools
    from lcsbench.papers import PAPERS

    p = argparse.ArgumentParser(prog="lcsbench", description=__doc__)
    p.add_argument("--version", action="version", version=f"lcsbench {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    for module in (data, segment, tools):
        module.register(sub)
    for paper in PAPERS:
        importlib.import_module(f"lcsbench.papers.{paper}.cli").register(sub)
    return p


_NOT_PATHS = {"func", "command", "checkpoint", "output_args", "record", "root"}  # root: only names jobs


def _job(args: argparse.Namespace, argv: list[str]):
    """The provenance job of a subcommand: path arguments that exist are inputs, --out* are outputs."""
    from lcsbench import provenance

    outputs, inputs, seeds = [], [], {}
    out_names = set(getattr(args, "output_args", []))
    for name, value in vars(args).items():
        if name in _NOT_PATHS:
            continue
        if "seed" in name and value is not None:
            seeds[name] = value
        values = value if isinstance(value, list) else [value]
        values = [v for v in values if isinstance(v, str)]
        if name.startswith("out") or name in out_names:
            outputs += values
            continue
        for v in values:
            try:
                if len(v) < 4096 and Path(v).exists():
                    inputs.append(v)
            except OSError:
                pass
    return provenance.start_job(args.command, argv, inputs, outputs, seeds)


def main(argv: list[str] | None = None) -> int:
    from lcsbench import provenance

    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    try:
        job = _job(args, argv) if getattr(args, "record", True) else None
        args.func(args)
        if job is not None:
            job.write_records()
    except InputError as exc:
        print(f"lcsbench {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except AuditFailed as exc:
        print(f"lcsbench audit: {exc}", file=sys.stderr)
        return 1
    finally:
        provenance.end_job()
    return 0


if __name__ == "__main__":
    sys.exit(main())
