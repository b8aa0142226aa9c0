#!/usr/bin/env bash
# Install the Debian packages of a one-node SLURM cluster (used by tests/test_slurm_profile.py).
# Exit 0: installed (or already there). Exit 3: cannot install here (not root, or no apt-get). Else: apt failed.
# Daemons are not started: the test starts its own with a temporary configuration.
set -uo pipefail

PACKAGES=(slurmctld slurmd slurm-client munge)

have_all() {
    for binary in slurmctld slurmd sbatch squeue scontrol munged mungekey; do
        command -v "$binary" >/dev/null 2>&1 || [ -x "/usr/sbin/$binary" ] || return 1
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
