# Shared by the TAP tests written in sh (tests/systemd/*.sh): a temporary
# directory $T removed on exit, and check, which runs one command as one
# numbered test and shows its output as TAP comments when it fails.
# Source it, then call tap_tmpdir NAME before the first check; end the
# script with [ "$fails" -eq 0 ] so a failure also fails the exit status.

n=0
fails=0

tap_tmpdir() { # name for the directory
	T=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX") || {
		echo "Bail out! cannot make a temporary directory"
		exit 1
	}
	trap 'rm -rf "$T"' EXIT
}

check() { # description, then the command
	n=$((n + 1))
	desc=$1
	shift
	if "$@" >"$T/out" 2>&1; then
		echo "ok $n - $desc"
	else
		echo "not ok $n - $desc"
		sed 's/^/# /' "$T/out"
		fails=$((fails + 1))
	fi
}
