#!/bin/sh
# TAP tests of proxy/shojid.service.in: the unit systemd would load, with
# ExecStart pointed at this build's shojid (systemd-analyze verify needs it
# to exist), passes `systemd-analyze verify`; it delegates the cgroup and
# keeps systemd's sandboxing that would break sessions off; the generated
# unit names the configured sbindir. Skipped without systemd-analyze.
set -u

src=${srcdir:-$(dirname "$0")/..}/../proxy/shojid.service.in
built=../proxy/shojid.service
shojid=$(cd ../proxy 2>/dev/null && pwd)/shojid

if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "1..0 # SKIP systemd-analyze is not installed"
	exit 0
fi
. "${srcdir:-$(dirname "$0")/..}/tap.sh"
tap_tmpdir test-unit

echo "1..6"
sed "s|@sbindir@|$(dirname "$shojid")|g" "$src" >"$T/shojid.service"
# A warning (an unknown key, a bad value) fails too, not only an error.
check "the unit verifies, without a warning" sh -c "systemd-analyze verify '$T/shojid.service' \
	>'$T/verify' 2>&1; rc=\$?; cat '$T/verify'; [ \$rc -eq 0 ] && [ ! -s '$T/verify' ]"
check "Delegate=yes" grep -qx 'Delegate=yes' "$src"
for key in MemoryDenyWriteExecute SystemCallFilter RestrictNamespaces; do
	check "no $key" sh -c "! grep -q '^$key' '$src'"
done
check "make fills in sbindir" sh -c "grep -q '^ExecStart=/.*/shojid -c ' '$built' && \
	! grep -q '@sbindir@' '$built'"
[ "$fails" -eq 0 ]
