"""A real one-node SLURM on localhost for the tests: munged, slurmctld and slurmd, no accounting.

Everything lives in one folder (config, munge key and socket, state, logs) and every daemon
runs in the foreground as a child of the test, in its own process group, so stopping the
cluster stops exactly what it started, by PID. Client commands (sbatch, squeue) find this
cluster through SLURM_CONF in `env`.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")
NODE = "csftnode"
PARTITION = "debug"


def available() -> bool:
    """Whether Debian's slurm-wlm and munge are installed (`.ci/run` installs them)."""
    return all(shutil.which(name, path="/usr/sbin:/usr/bin") for name in (*DAEMONS, "mungekey"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _memory_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024 - 1024  # leave 1 GiB to the system
    raise RuntimeError("no MemTotal in /proc/meminfo")


class SlurmCluster:
    """`with SlurmCluster(folder) as cluster:` starts it; leaving the block stops it."""

    def __init__(self, root: Path):
        self.root = Path(root).resolve()
        self.conf = self.root / "slurm.conf"
        self.processes: dict[str, subprocess.Popen] = {}
        shims = self.root / "bin"
        self.env = {
            **{k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"},
            "SLURM_CONF": str(self.conf),
            "PATH": f"{shims}{os.pathsep}{os.environ.get('PATH', '')}",
        }

    def _write_srun_shim(self) -> None:
        """srun that finds this cluster from inside a job.

        The jobstep plugin strips every SLURM_* variable but the job's identity before its
        inner `srun`, SLURM_CONF included; a real cluster's srun then reads
        /etc/slurm/slurm.conf, this one would find nothing. The shim (first on PATH, which
        sbatch --export=ALL hands to the job) restores SLURM_CONF and runs the real srun.
        """
        shim = self.root / "bin" / "srun"
        shim.parent.mkdir(parents=True, exist_ok=True)
        srun = shutil.which("srun", path="/usr/bin:/usr/local/bin")
        shim.write_text(f'#!/bin/sh\nSLURM_CONF="{self.conf}" exec {srun} "$@"\n')
        shim.chmod(0o755)

    def _write_config(self) -> None:
        for folder in ("state", "spool"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        root, cpus = self.root, os.cpu_count() or 1
        node = (
            f"NodeName={NODE} NodeAddr=127.0.0.1 NodeHostname={socket.gethostname()} "
            f"CPUs={cpus} RealMemory={_memory_mb()} State=UNKNOWN"
        )
        self.conf.write_text(
            f"""ClusterName=csfttest
SlurmctldHost=localhost(127.0.0.1)
SlurmUser={os.environ.get("USER", "root") if os.getuid() else "root"}
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={root}/munge.socket
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
MinJobAge=600
{node}
PartitionName={PARTITION} Nodes={NODE} Default=YES MaxTime=INFINITE State=UP
"""
        )

    def _start(self, name: str, command: list[str]) -> None:
        log = open(self.root / f"{name}.out", "wb")  # noqa: SIM115 (closed with the process)
        self.processes[name] = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
        )
        log.close()

    def _wait_until_idle(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    output = (self.root / f"{name}.out").read_text(errors="replace")
                    raise RuntimeError(f"{name} exited with {process.returncode}:\n{output}")
            state = subprocess.run(
                ["sinfo", "-h", "-N", "-o", "%T"], env=self.env, capture_output=True, text=True
            ).stdout.strip()
            if state == "idle":
                return
            time.sleep(0.5)
        raise TimeoutError(f"the SLURM node did not come up in {timeout} s (state {state!r})")

    def start(self) -> SlurmCluster:
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o700)  # munged refuses keys in folders others can write to
        self._write_config()
        self._write_srun_shim()
        key = self.root / "munge.key"
        subprocess.run(["mungekey", "--create", f"--keyfile={key}"], check=True)
        root = self.root
        self._start(
            "munged",
            [
                "munged",
                "--foreground",
                "--force",  # root, and a socket outside /run/munge
                f"--socket={root}/munge.socket",
                f"--key-file={key}",
                f"--pid-file={root}/munged.pid",
                f"--log-file={root}/munged.log",
                f"--seed-file={root}/munged.seed",
            ],
        )
        deadline = time.monotonic() + 20
        while not (root / "munge.socket").exists():
            if time.monotonic() > deadline or self.processes["munged"].poll() is not None:
                raise RuntimeError((root / "munged.out").read_text(errors="replace"))
            time.sleep(0.1)
        self._start("slurmctld", ["slurmctld", "-D", "-f", str(self.conf)])
        self._start("slurmd", ["slurmd", "-D", "-N", NODE, "-f", str(self.conf)])
        self._wait_until_idle()
        return self

    def stop(self) -> None:
        """Cancel what is left in the queue, then stop each daemon's process group by PID."""
        if self.processes.get("slurmctld") and self.processes["slurmctld"].poll() is None:
            subprocess.run(["scancel", "--full", "--user", str(os.getuid())], env=self.env)
            deadline = time.monotonic() + 30
            while self.queue() and time.monotonic() < deadline:
                time.sleep(0.5)
        for name in reversed(DAEMONS):
            process = self.processes.get(name)
            if process is None or process.poll() is not None:
                continue
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def queue(self) -> list[str]:
        """Job ids still pending or running."""
        listed = subprocess.run(
            ["squeue", "-h", "-o", "%i"], env=self.env, capture_output=True, text=True
        )
        return listed.stdout.split()

    def running(self) -> list[str]:
        """Daemons of this cluster still alive (for the no-leftovers check)."""
        return [name for name, p in self.processes.items() if p.poll() is None]

    def __enter__(self) -> SlurmCluster:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()
