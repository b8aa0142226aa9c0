#!/usr/bin/env bash
# Install the Debian packages of a one-node SLURM cluster with accounting (used by tests/test_slurm_profile.py):
# slurmctld, slurmd, the client tools (sbatch, sacct, sacctmgr), munge, slurmdbd and a MariaDB server for it.
# Exit 0: installed (or already there). Exit 3: cannot install here (not root, or no apt-get). Else: apt failed.
# Daemons are not started (policy-rc.d forbids it during the install): the test starts its own, with a temporary
# configuration and data directory, and stops them at the end.
set -uo pipefail

PACKAGES=(slurmctld slurmd slurm-client slurmdbd munge mariadb-server)
BINARIES=(slurmctld slurmd slurmdbd sbatch squeue sacct sacctmgr scontrol munged mungekey mariadbd mariadb-install-db)

have_all() {
    for binary in "${BINARIES[@]}"; do
        command -v "$binary" >/dev/null 2>&1 || [ -x "/usr/sbin/$binary" ] || [ -x "/usr/bin/$binary" ] || return 1
    done
}

if have_all; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "cannot install ${PACKAGES[*]}: needs root and apt-get" >&2
    exit 3
fi

export DEBIAN_FRONTEND=noninteractive
# Keep the packages' own services (munge, slurm*, mariadb) from starting: the test runs private instances.
POLICY=/usr/sbin/policy-rc.d
if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$POLICY" && chmod 755 "$POLICY"
    trap 'rm -f "$POLICY"' EXIT
fi
install() {
    apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/tmp/install_slurm.log 2>&1
}
# The package lists may be missing or stale on a fresh machine: update once and retry.
if ! install; then
    apt-get update -qq >>/tmp/install_slurm.log 2>&1 || true
    if ! install; then
        tail -20 /tmp/install_slurm.log >&2
        exit 1
    fi
fi
have_all || { echo "packages installed but binaries missing" >&2; exit 1; }
