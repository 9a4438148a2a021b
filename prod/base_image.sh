#!/bin/sh
# A stand-in for the Containerfile's base image (python:3.11-slim-bookworm) built from Debian's
# own packages, for a machine that reaches Debian's mirror and PyPI but no container registry
# (this one): Debian 12 with its Python 3.11 and pip, imported into podman as one layer.
#
#   sudo prod/base_image.sh [TAG]        # default localhost/debian-python:3.11
#   make prod-smoke-image PYTHON_IMAGE=localhost/debian-python:3.11
#
# Needs debootstrap and podman (Debian packages) and root (debootstrap, chroot). The host's own
# certificate authorities (/usr/local/share/ca-certificates: a proxy that inspects TLS) are
# trusted inside too, so that pip in the build reaches PyPI as the host does. What differs from
# the official image: Debian's Python 3.11 (3.11.2) in /usr/bin, not python.org's in /usr/local.
set -eu
TAG=${1:-localhost/debian-python:3.11}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
ROOTFS=$(mktemp -d)
trap 'rm -rf "$ROOTFS"' EXIT

debootstrap --variant=minbase bookworm "$ROOTFS" "$MIRROR"
cp /etc/resolv.conf "$ROOTFS/etc/resolv.conf"
mkdir -p "$ROOTFS/usr/local/share/ca-certificates"
for ca in /usr/local/share/ca-certificates/*.crt; do
    [ -f "$ca" ] && cp "$ca" "$ROOTFS/usr/local/share/ca-certificates/"
done
chroot "$ROOTFS" sh -eu -c '
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        python3.11 python3-pip python-is-python3 ca-certificates
    update-ca-certificates
    # The image installs its packages with pip, as the official image lets it.
    rm -f /usr/lib/python3.11/EXTERNALLY-MANAGED
    apt-get clean
    rm -rf /var/lib/apt/lists/*
'
: > "$ROOTFS/etc/resolv.conf"
tar -C "$ROOTFS" -c . | podman import --change 'CMD ["python"]' - "$TAG"
echo "built $TAG"
