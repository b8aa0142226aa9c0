"""A throw-away one-node SLURM cluster with accounting for tests: munged, mariadbd, slurmdbd, slurmctld and slurmd.

Everything is private to one instance: its own munge key and socket, a MariaDB data directory, free TCP ports,
state, spool and logs under one short directory in /tmp (unix sockets live there, and their paths must stay short);
the configuration files are written by tests/slurm_conf.py.
Accounting is real (slurmdbd on MariaDB, job comments stored), so `sacct` answers as on most clusters; the account
`ACCOUNT` exists and root is its user. The node has a fake GPU (gres.conf `File=/dev/null`) so a job asking
`--gpus=1` or `--gres=gpu:1` is schedulable, and `gres/gpu` is an accounted TRES (sacct's ReqTRES shows it).
Daemons run in the foreground as children of this process and are stopped by PID in `stop()`, which is safe to
call whatever state `start()` reached.

Needs root (slurmd launches the jobs) and the Debian packages slurmctld slurmd slurm-client slurmdbd munge
mariadb-server (`.ci/install_slurm.sh` installs them).
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from slurm_conf import CLUSTER, DB_PASSWORD, write_configs

ROOT = Path(__file__).resolve().parent.parent
INSTALL_SCRIPT = ROOT / ".ci" / "install_slurm.sh"
BINARIES = (
    "slurmctld",
    "slurmd",
    "sbatch",
    "srun",
    "squeue",
    "scontrol",
    "scancel",
    "sinfo",
    "sacct",
    "sacctmgr",
    "munged",
    "mungekey",
    "slurmdbd",
    "mariadbd",
    "mariadb-install-db",
    "mariadb",
)
#: every daemon the cluster starts, in start order (stopped in reverse)
DAEMONS = ("munged", "mariadbd", "slurmdbd", "slurmctld", "slurmd")
ACCOUNT = "radgen"
RECORDED = ("sacct", "squeue")  # client calls logged by a PATH shim (see calls())


class ClusterError(RuntimeError):
    pass


def which(binary: str) -> str | None:
    return shutil.which(binary) or shutil.which(binary, path="/usr/sbin:/sbin:/usr/bin")


def missing_binaries() -> list[str]:
    return [b for b in BINARIES if which(b) is None]


def ensure_installed(timeout: int = 300) -> str | None:
    """Install the packages when missing and possible. Returns None when usable, else why not (a skip reason)."""
    if os.geteuid() != 0:
        missing = missing_binaries()
        return f"needs root to run slurmd{'; missing ' + ', '.join(missing) if missing else ''}"
    if not missing_binaries():
        return None
    try:
        result = subprocess.run(
            ["timeout", "-s", "KILL", str(timeout), "bash", str(INSTALL_SCRIPT)],
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError as err:  # no bash/timeout: nothing we can do
        return f"cannot run {INSTALL_SCRIPT.name}: {err}"
    if result.returncode == 3:
        return f"slurm packages missing and cannot be installed: {result.stderr.strip()}"
    if result.returncode != 0:
        return f"installing slurm failed (rc {result.returncode}): {result.stderr.strip()[-500:]}"
    missing = missing_binaries()
    return f"still missing after install: {', '.join(missing)}" if missing else None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def machine_memory_mb() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20


class SlurmCluster:
    """One node `<hostname>` with `cpus` CPUs, `memory_mb` MB and one fake GPU, in every partition of `partitions`.

    `cpus` and `memory_mb` may exceed the machine (`SlurmdParameters=config_overrides`): the node then accepts
    the requests of a real profile; nothing enforces them (task/none, jobacct_gather/none).
    """

    def __init__(self, partitions: list[str], cpus: int | None = None, memory_mb: int | None = None):
        self.partitions = list(dict.fromkeys(partitions)) or ["debug"]
        self.node = socket.gethostname().split(".")[0]
        self.cpus = max(cpus or 1, os.cpu_count() or 1)
        self.memory_mb = max(memory_mb or 0, int(machine_memory_mb() * 0.95))
        self.dir: Path | None = None
        self.ports: dict[str, int] = {}
        self.procs: dict[str, subprocess.Popen] = {}

    # -- paths and environment -------------------------------------------------------------------------------
    @property
    def conf(self) -> Path:
        assert self.dir is not None
        return self.dir / "slurm.conf"

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """`base` (default os.environ) without inherited SLURM_* job variables, pointed at this cluster."""
        env = {
            k: v for k, v in (base if base is not None else os.environ).items() if not k.startswith("SLURM_")
        }
        env["SLURM_CONF"] = str(self.conf)
        env["PATH"] = f"{self.dir / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        return env

    def log(self, name: str, tail: int | None = 4000) -> str:
        """The end (`tail` characters; all with None) of a daemon's log: munged, slurmctld or slurmd."""
        path = self.dir / f"{name}.log" if self.dir else None
        if path is None or not path.exists():
            return f"<no {name}.log>"
        text = path.read_text(errors="replace")
        return text[-tail:] if tail else text

    def logs(self) -> str:
        return "\n".join(f"--- {name}.log ---\n{self.log(name)}" for name in DAEMONS)

    def run(self, *args: str, timeout: int = 20) -> subprocess.CompletedProcess:
        return subprocess.run(
            list(args), env=self.env(), capture_output=True, text=True, timeout=timeout, check=False
        )

    # -- life cycle ------------------------------------------------------------------------------------------
    def start(self, timeout: float = 120) -> SlurmCluster:
        self.dir = Path(tempfile.mkdtemp(prefix="slurm-", dir="/tmp"))
        self.dir.chmod(0o700)
        for sub in ("state", "spool"):
            (self.dir / sub).mkdir()
        self.ports = {name: free_port() for name in ("db", "dbd", "ctld", "slurmd")}
        self._write_config()
        self._write_srun_shim()
        deadline = time.monotonic() + timeout
        self._start_munge(deadline)
        self._start_database(deadline)
        self._start_accounting(deadline)
        self._spawn("slurmctld", [which("slurmctld"), "-D", "-i", "-f", str(self.conf)])
        self._wait(
            lambda: self.run("scontrol", "ping").stdout.count("UP") > 0, deadline, "slurmctld is not UP"
        )
        self._spawn("slurmd", [which("slurmd"), "-D", "-N", self.node, "-f", str(self.conf)])
        self._wait(self._node_ready, deadline, f"node {self.node} did not become idle")
        return self

    def _start_munge(self, deadline: float) -> None:
        key = self.dir / "munge.key"
        subprocess.run([which("mungekey"), "-c", "-k", str(key)], check=True, capture_output=True, timeout=20)
        self._spawn(
            "munged",
            [
                which("munged"),
                "-F",
                "--force",
                f"--socket={self.dir / 'munge.sock'}",
                f"--key-file={key}",
                f"--log-file={self.dir / 'munged.log'}",
                f"--pid-file={self.dir / 'munged.pid'}",
                f"--seed-file={self.dir / 'munged.seed'}",
            ],
        )
        self._wait(lambda: (self.dir / "munge.sock").exists(), deadline, "munged did not create its socket")

    def _start_database(self, deadline: float) -> None:
        """A private MariaDB (TCP on 127.0.0.1 only) with the user slurmdbd logs in as."""
        d = self.dir
        options = ["--no-defaults", f"--datadir={d / 'db'}", "--user=root", "--innodb-log-file-size=8M"]
        subprocess.run(
            [
                which("mariadb-install-db"),
                *options,
                "--skip-test-db",
                "--auth-root-authentication-method=socket",
            ],
            check=True,
            capture_output=True,
            timeout=max(10, deadline - time.monotonic()),
        )
        self._spawn(
            "mariadbd",
            [
                which("mariadbd"),
                *options,
                f"--socket={d / 'mysql.sock'}",
                f"--port={self.ports['db']}",
                "--bind-address=127.0.0.1",
                "--skip-name-resolve",
                f"--pid-file={d / 'mariadbd.pid'}",
                f"--log-error={d / 'mariadbd.log'}",
            ],
        )
        sql = "".join(
            f"CREATE USER 'slurm'@'{host}' IDENTIFIED BY '{DB_PASSWORD}'; "
            f"GRANT ALL ON slurm_acct_db.* TO 'slurm'@'{host}'; "
            for host in ("127.0.0.1", "localhost")
        )
        client = [which("mariadb"), "--no-defaults", f"--socket={d / 'mysql.sock'}", "-u", "root"]
        self._wait(
            lambda: self.run(*client, "-e", "SELECT 1").returncode == 0, deadline, "mariadbd is not up"
        )
        created = self.run(*client, "-e", sql)
        if created.returncode != 0:
            raise ClusterError(f"cannot create the slurm database user: {created.stderr}")

    def _start_accounting(self, deadline: float) -> None:
        """slurmdbd on the database, then this cluster, the account `ACCOUNT` and root as its user."""
        self._spawn("slurmdbd", [which("slurmdbd"), "-D"])  # reads slurmdbd.conf beside $SLURM_CONF
        self._wait(
            lambda: self.run("sacctmgr", "--noheader", "list", "cluster").returncode == 0,
            deadline,
            "slurmdbd does not answer",
        )
        for command in (
            ["add", "cluster", CLUSTER],
            ["add", "account", ACCOUNT, f"Cluster={CLUSTER}", "Description=test", "Organization=test"],
            ["add", "user", "root", f"Account={ACCOUNT}", f"Cluster={CLUSTER}"],
        ):
            done = self.run("sacctmgr", "--immediate", *command)
            if done.returncode != 0:
                raise ClusterError(f"sacctmgr {' '.join(command)}: {done.stderr}\n{self.logs()}")

    def stop(self) -> None:
        """Cancel every job, stop the daemons by PID, kill any job step left behind, remove the directory."""
        if self.dir is None:
            return
        if self.procs.get("slurmctld") and self.procs["slurmctld"].poll() is None:
            try:
                jobs = self.job_ids(active_only=True)
                if jobs:
                    self.run("scancel", "--quiet", "--full", *jobs, timeout=10)
                deadline = time.monotonic() + 15
                while self.job_ids(active_only=True) and time.monotonic() < deadline:
                    time.sleep(0.5)
            except (subprocess.TimeoutExpired, OSError):
                pass
        for name in reversed(DAEMONS):
            proc = self.procs.pop(name, None)
            if proc is None:
                continue
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)
        kill_processes_using(self.dir)
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None

    def __enter__(self) -> SlurmCluster:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- queries ---------------------------------------------------------------------------------------------
    def accounting(self) -> list[dict[str, str]]:
        """Every job slurmdbd recorded (`sacct -X`): JobID, JobName, State, Partition, Account, ReqTRES, Comment."""
        fields = ("JobID", "JobName", "State", "Partition", "Account", "ReqTRES", "ExitCode", "Comment")
        out = self.run(
            "sacct", "-X", "--allusers", "--parsable2", "--noheader", f"--clusters={CLUSTER}",
            "--starttime=now-1day", f"--format={','.join(fields)}", timeout=20,
        ).stdout  # fmt: skip
        return [dict(zip(fields, line.split("|"), strict=False)) for line in out.splitlines() if line.strip()]

    def job_ids(self, active_only: bool = False) -> list[str]:
        args = ["squeue", "--noheader", "--format=%i"] + ([] if active_only else ["--states=all"])
        return self.run(*args, timeout=10).stdout.split()

    # -- internals -------------------------------------------------------------------------------------------
    def _spawn(self, name: str, argv: list[str]) -> None:
        out = open(self.dir / f"{name}.out", "wb")  # the child keeps its own copy
        try:
            self.procs[name] = subprocess.Popen(
                argv,
                env=self.env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        finally:
            out.close()

    def _wait(self, ready, deadline: float, message: str) -> None:
        while time.monotonic() < deadline:
            dead = [name for name, proc in self.procs.items() if proc.poll() is not None]
            if dead:
                raise ClusterError(f"{', '.join(dead)} exited early\n{self._outputs()}\n{self.logs()}")
            try:
                if ready():
                    return
            except (subprocess.TimeoutExpired, OSError):
                pass
            time.sleep(0.3)
        raise ClusterError(f"{message}\n{self._outputs()}\n{self.logs()}")

    def _outputs(self) -> str:
        parts = []
        for name in self.procs:
            path = self.dir / f"{name}.out"
            if path.exists() and path.stat().st_size:
                parts.append(f"--- {name} stdout/stderr ---\n{path.read_text(errors='replace')[-2000:]}")
        return "\n".join(parts)

    def _node_ready(self) -> bool:
        state = self.run("sinfo", "--noheader", "--Node", "--format=%T", "--nodes", self.node).stdout.split()
        if any(s.startswith(("inval", "drain")) for s in state):
            reason = self.run("sinfo", "--noheader", "--Node", "--format=%T %E", "--nodes", self.node).stdout
            raise ClusterError(f"node {self.node} is {reason.strip()}\n{self.logs()}")
        return bool(state) and all(s == "idle" for s in state)

    def _write_srun_shim(self) -> None:
        """`srun` on PATH that restores SLURM_CONF, then runs the real one.

        Inside an allocation the slurm-jobstep executor plugin (0.6.1) starts `srun` with every SLURM_* variable
        removed, SLURM_CONF included, so `srun` looks for /etc/slurm/slurm.conf (or DNS SRV records) and fails.
        A real cluster has its configuration there; this private one must not touch /etc, hence the shim.
        """
        shim = self.dir / "bin" / "srun"
        shim.parent.mkdir()
        shim.write_text(f'#!/bin/sh\nexport SLURM_CONF="{self.conf}"\nexec "{which("srun")}" "$@"\n')
        shim.chmod(0o755)
        for binary in RECORDED:  # pass-through shims that log every call: which status command ran
            shim = self.dir / "bin" / binary
            log = self.dir / f"{binary}.calls"
            shim.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nexec "{which(binary)}" "$@"\n')
            shim.chmod(0o755)

    def calls(self, binary: str) -> list[str]:
        """Argument lines of every call of `binary` (one of `RECORDED`) through this cluster's PATH."""
        log = self.dir / f"{binary}.calls" if self.dir else None
        return log.read_text().splitlines() if log and log.exists() else []

    def _write_config(self) -> None:
        write_configs(self.dir, self.node, self.partitions, self.cpus, self.memory_mb, self.ports)


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL it when the test process dies, even by SIGKILL (Linux prctl)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def kill_processes_using(directory: Path) -> list[int]:
    """SIGKILL every process (but this one) whose cwd or an open file lies under `directory`: left-over job steps."""
    directory = directory.resolve()
    killed = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            links = [entry / "cwd", *(entry / "fd").iterdir()]
            targets = {os.readlink(link) for link in links}
        except OSError:
            continue
        if any(t == str(directory) or t.startswith(f"{directory}/") for t in targets):
            try:
                os.kill(int(entry.name), signal.SIGKILL)
                killed.append(int(entry.name))
            except OSError:
                pass
    return killed


def running_daemons() -> dict[int, str]:
    """PID -> name of every process on this machine named like one of `DAEMONS` (`pgrep -x`)."""
    found: dict[int, str] = {}
    for name in DAEMONS:
        out = subprocess.run(["pgrep", "-x", name], capture_output=True, text=True, check=False).stdout
        found.update({int(pid): name for pid in out.split()})
    return found
