"""The configuration files of the test cluster (tests/slurm_cluster.py): slurm.conf, gres.conf, slurmdbd.conf.

One node `node` in every partition of `partitions` (the first is the default), with `cpus`, `memory_mb` and one fake
GPU; accounting through slurmdbd on MariaDB, with `gres/gpu` an accounted TRES (sacct's ReqTRES shows GPU requests)
and job comments stored (the SLURM plugin names each job's rule there). Every path lies under the cluster directory
`d`; `ports` holds the free TCP ports of the database (`db`), slurmdbd (`dbd`), slurmctld (`ctld`) and slurmd.
"""

from __future__ import annotations

from pathlib import Path

CLUSTER = "radgentest"
DB_PASSWORD = "radgen-test-only"  # a database reachable from 127.0.0.1 only, deleted with the cluster


def write_configs(
    d: Path, node: str, partitions: list[str], cpus: int, memory_mb: int, ports: dict[str, int]
) -> Path:
    """Write the three files into `d`; returns the slurm.conf path (SLURM_CONF: slurmdbd.conf is read beside it).

    AccountingStoragePass is, with slurmdbd, the munge socket clients authenticate through (not a password).
    """
    partition_lines = "\n".join(
        f"PartitionName={name} Nodes={node} Default={'YES' if i == 0 else 'NO'} MaxTime=INFINITE State=UP"
        for i, name in enumerate(partitions)
    )
    (d / "slurm.conf").write_text(
        f"""\
ClusterName={CLUSTER}
MailProg=/bin/true
SlurmctldHost={node}(127.0.0.1)
SlurmctldPort={ports["ctld"]}
SlurmdPort={ports["slurmd"]}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={d / "munge.sock"}
StateSaveLocation={d / "state"}
SlurmdSpoolDir={d / "spool"}
SlurmctldPidFile={d / "slurmctld.pid"}
SlurmdPidFile={d / "slurmd.pid"}
SlurmctldLogFile={d / "slurmctld.log"}
SlurmdLogFile={d / "slurmd.log"}
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=500
SlurmdParameters=config_overrides
GresTypes=gpu
MpiDefault=none
SwitchType=switch/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort={ports["dbd"]}
AccountingStoragePass={d / "munge.sock"}
AccountingStorageTRES=gres/gpu
AccountingStorageEnforce=associations
AccountingStoreFlags=job_comment
JobCompType=jobcomp/none
SchedulerType=sched/backfill
ReturnToService=2
MinJobAge=600
KillWait=5
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=60
NodeName={node} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb} Gres=gpu:1 State=UNKNOWN
{partition_lines}
"""
    )
    (d / "gres.conf").write_text(f"AutoDetect=off\nNodeName={node} Name=gpu File=/dev/null\n")
    dbd = d / "slurmdbd.conf"
    dbd.write_text(
        f"""\
AuthType=auth/munge
AuthInfo=socket={d / "munge.sock"}
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort={ports["dbd"]}
SlurmUser=root
LogFile={d / "slurmdbd.log"}
PidFile={d / "slurmdbd.pid"}
DebugLevel=info
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort={ports["db"]}
StorageUser=slurm
StoragePass={DB_PASSWORD}
StorageLoc=slurm_acct_db
"""
    )
    dbd.chmod(0o600)  # slurmdbd refuses a configuration others can read
    return d / "slurm.conf"
