#!/bin/sh
# Builds, once, the Debian root that the systemd integration tests boot with systemd-nspawn.
# Usage: scripts/systemd-test-root.sh [ROOT]   (default /var/cache/pier-test/bookworm)
#
# The root lives outside the repository and is reused by every later run; tests copy it per
# host. A lock file makes concurrent callers wait for one build instead of racing, and the
# root is built beside its final place and renamed in, so a half-built root is never used.
# The stamp file holds the package list: changing the list below rebuilds the root.
set -eu

ROOT=${1:-/var/cache/pier-test/bookworm}
MIRROR=${PIER_DEBIAN_MIRROR:-http://deb.debian.org/debian}
PACKAGES=systemd-sysv,dbus,openssh-server,iproute2,curl,nginx,ca-certificates,sudo
STAMP="$ROOT/.pier-test-root"

mkdir -p "$(dirname "$ROOT")"
exec 9>"$ROOT.lock"
flock 9

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$PACKAGES" ]; then
  exit 0
fi

BUILD="$ROOT.build.$$"
trap 'rm -rf "$BUILD"' EXIT
echo "building the systemd test root in $ROOT (debootstrap bookworm: $PACKAGES)" >&2
debootstrap --variant=minbase --include="$PACKAGES" bookworm "$BUILD" "$MIRROR" >"$BUILD.log" 2>&1 || {
  tail -n 30 "$BUILD.log" >&2
  rm -f "$BUILD.log"
  exit 1
}
rm -f "$BUILD.log"

# Nothing the tests do not start should run: nginx and ssh are enabled by their packages.
chroot "$BUILD" systemctl disable nginx.service ssh.service >/dev/null 2>&1 || true
# The tests address each host statically on their own bridge (10-* beats the built-in DHCP file).
chroot "$BUILD" systemctl enable systemd-networkd.service >/dev/null 2>&1
# Faster boots and no waiting for a network that is configured statically.
chroot "$BUILD" systemctl mask systemd-networkd-wait-online.service apt-daily.timer \
  apt-daily-upgrade.timer man-db.timer e2scrub_all.timer fstrim.timer >/dev/null 2>&1 || true
chroot "$BUILD" apt-get clean
printf '%s' "$PACKAGES" >"$BUILD/.pier-test-root"

rm -rf "$ROOT"
mv "$BUILD" "$ROOT"
trap - EXIT
echo "systemd test root ready: $ROOT" >&2
