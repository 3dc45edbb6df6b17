"""A real single-node SLURM cluster for the tests (slurmctld + slurmd + munge on this machine).

Needs root and Debian's packages (``slurmctld slurmd slurm-client munge``, installed with apt when
missing). Four fake GPUs (``/dev/fakegpu0-3``) are advertised as GRES so GPU rules schedule.
There is no slurmdbd, so ``sacct`` does not work: Snakemake must poll with ``squeue``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

PACKAGES = ["slurmctld", "slurmd", "slurm-client", "munge"]


class Unavailable(RuntimeError):
    """This machine cannot run a SLURM cluster (the reason is the message)."""


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def install() -> None:
    if all(shutil.which(b) for b in ("slurmctld", "slurmd", "sbatch", "munged")):
        return
    if os.geteuid() != 0:
        raise Unavailable("SLURM is not installed and installing it needs root")
    if not shutil.which("apt-get"):
        raise Unavailable("SLURM is not installed and there is no apt-get to install it")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    r = _run(["apt-get", "install", "-y", "--no-install-recommends", *PACKAGES], env=env)
    if r.returncode != 0:
        r = _run(["apt-get", "update"], env=env)
        r = _run(["apt-get", "install", "-y", "--no-install-recommends", *PACKAGES], env=env)
    if r.returncode != 0:
        raise Unavailable(f"apt-get install {' '.join(PACKAGES)} failed: {r.stderr.strip()[-300:]}")


MARK = "# lcsbench test cluster (tests/slurm_cluster.py); removed when the tests stop\n"
ETC = Path("/etc/slurm")
SLURM_CONF = (
    MARK
    + """\
ClusterName=lcsbench
SlurmctldHost={host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MinJobAge=86400
SlurmdParameters=config_overrides
ReturnToService=2
MpiDefault=none
GresTypes=gpu
NodeName={host} NodeAddr=127.0.0.1 CPUs=8 RealMemory=16000 Gres=gpu:4 State=UNKNOWN
PartitionName=main Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""
)

GRES_CONF = (
    MARK
    + """\
AutoDetect=off
NodeName={host} Name=gpu File=/dev/fakegpu[0-3]
"""
)


class Cluster:
    """Start with :meth:`start`, stop with :meth:`stop`; ``env`` points clients at its slurm.conf."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.host = socket.gethostname().split(".")[0]
        self.procs: list[subprocess.Popen] = []
        self.munged_pid: int | None = None
        # Snakemake's job step drops SLURM_CONF before `srun`, so the config must sit where every
        # SLURM command looks by default; a real cluster's config there is never overwritten.
        self.conf = ETC / "slurm.conf"
        self.env = {**os.environ, "SLURM_CONF": str(self.conf)}

    def _start_munge(self) -> None:
        if _run(["munge", "-n"]).returncode == 0:
            return  # a munged is already running
        if not Path("/etc/munge/munge.key").is_file():
            r = _run(["mungekey", "--create"]) if shutil.which("mungekey") else _run(["create-munge-key"])
            if r.returncode != 0:
                raise Unavailable(f"cannot create the munge key: {r.stderr.strip()}")
            shutil.chown("/etc/munge/munge.key", "munge", "munge")
        Path("/run/munge").mkdir(parents=True, exist_ok=True)
        shutil.chown("/run/munge", "munge", "munge")
        r = _run(["runuser", "-u", "munge", "--", "/usr/sbin/munged"])
        if r.returncode != 0:
            raise Unavailable(f"munged did not start: {r.stderr.strip()}")
        pid = Path("/run/munge/munged.pid")
        self.munged_pid = int(pid.read_text()) if pid.is_file() else None

    def start(self, timeout: float = 60) -> None:
        if os.geteuid() != 0:
            raise Unavailable("starting slurmctld/slurmd needs root")
        install()
        for d in ("state", "spool"):
            (self.root / d).mkdir(parents=True, exist_ok=True)
        for name in ("slurm.conf", "gres.conf"):
            f = ETC / name
            if f.exists() and not f.read_text().startswith(MARK):
                raise Unavailable(f"{f} belongs to a real SLURM installation; not overwriting it")
        ETC.mkdir(parents=True, exist_ok=True)
        (ETC / "slurm.conf").write_text(SLURM_CONF.format(host=self.host, root=self.root))
        (ETC / "gres.conf").write_text(GRES_CONF.format(host=self.host))
        for i in range(4):
            dev = Path(f"/dev/fakegpu{i}")
            if not dev.exists():
                r = _run(["mknod", str(dev), "c", "1", "3"])
                if r.returncode != 0:
                    raise Unavailable(f"cannot create {dev} (fake GPU device): {r.stderr.strip()}")
        self._start_munge()
        conf = str(self.conf)
        for daemon in ("slurmctld", "slurmd"):
            log = open(self.root / f"{daemon}.out", "w")
            self.procs.append(
                subprocess.Popen([daemon, "-D", "-f", conf], stdout=log, stderr=subprocess.STDOUT, env=self.env)
            )
            time.sleep(1)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if any(p.poll() is not None for p in self.procs):
                self.stop()
                raise Unavailable(f"a SLURM daemon exited; see {self.root}/*.out and *.log")
            r = _run(["sinfo", "-h", "-o", "%T"], env=self.env)
            if r.returncode == 0 and r.stdout.strip() in ("idle", "mixed", "allocated"):
                return
            time.sleep(1)
        self.stop()
        raise Unavailable(f"the SLURM node did not become idle in {timeout} s; see {self.root}/slurmctld.log")

    def stop(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
        self.procs.clear()
        if self.munged_pid:
            try:
                os.kill(self.munged_pid, 15)
            except ProcessLookupError:
                pass
            self.munged_pid = None
        for name in ("slurm.conf", "gres.conf"):
            f = ETC / name
            if f.is_file() and f.read_text().startswith(MARK):
                f.unlink()
