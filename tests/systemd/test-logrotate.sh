#!/bin/sh
# TAP tests of proxy/shojid.logrotate: logrotate reads it without an error;
# a forced rotation of a stand-in audit log renames it, makes a new empty
# one of mode 0640 and runs postrotate once; postrotate signals only the
# main process of shojid.service with USR1 (what shojid reopens the log on;
# the connection workers must not get it). The reopen itself is tested end
# to end in tests/e2e/test_pool.c. Skipped without logrotate.
set -u

src=${srcdir:-$(dirname "$0")/..}/../proxy/shojid.logrotate

if ! command -v logrotate >/dev/null 2>&1 && [ ! -x /usr/sbin/logrotate ]; then
	echo "1..0 # SKIP logrotate is not installed"
	exit 0
fi
PATH=$PATH:/usr/sbin
. "${srcdir:-$(dirname "$0")/..}/tap.sh"
tap_tmpdir test-logrotate

echo "1..5"
# The snippet with the log under $T, root:root turned into whoever runs
# this, and postrotate recording that it ran instead of calling systemctl.
user=$(id -un)
group=$(id -gn)
sed -e "s|/var/log/shoji/audit.log|$T/audit.log|" -e "s|root root|$user $group|" \
	-e "s|systemctl kill .*|echo ran >>'$T/postrotate'|" "$src" >"$T/conf"
printf '{"event":"daemon_start"}\n' >"$T/audit.log"
check "logrotate reads it without an error" sh -c "logrotate -d -s '$T/state' '$T/conf' \
	>'$T/debug' 2>&1; rc=\$?; cat '$T/debug'; [ \$rc -eq 0 ] && ! grep -qi 'error' '$T/debug'"
check "a forced rotation renames the log" sh -c "logrotate -f -s '$T/state' '$T/conf' && \
	grep -q daemon_start '$T/audit.log.1'"
check "and makes a new empty one, mode 0640" sh -c "[ -f '$T/audit.log' ] && \
	[ ! -s '$T/audit.log' ] && [ \"\$(stat -c %a '$T/audit.log')\" = 640 ]"
check "postrotate ran once" sh -c "[ \"\$(cat '$T/postrotate')\" = ran ]"
check "postrotate sends USR1 to shojid's main process only" \
	grep -q 'systemctl kill --signal=USR1 --kill-who=main shojid.service' "$src"
[ "$fails" -eq 0 ]
