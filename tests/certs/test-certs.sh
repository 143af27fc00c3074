#!/bin/sh
# TAP tests of certs/shoji-certs: make, re-run, rotation, import and show
# in a temporary directory, checked with the openssl command line, and a
# real TLS handshake (openssl s_server / s_client on 127.0.0.1) verifying
# the server certificate against the CA by host name and by IP address.
# SHOJI_CERTS may name the script to test (an installed copy).

# shellcheck disable=SC2016 # sh -c scripts take their arguments as $1...
set -u

if [ -n "${SHOJI_CERTS:-}" ]; then
	script=$SHOJI_CERTS
elif [ -n "${srcdir:-}" ] && [ -f "$srcdir/../certs/shoji-certs" ]; then
	script=$srcdir/../certs/shoji-certs
else
	script=$(dirname "$0")/../../certs/shoji-certs
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/test-certs.XXXXXX") || {
	echo "Bail out! cannot make a temporary directory"
	exit 1
}
server_pid=

cleanup() {
	if [ -n "$server_pid" ]; then
		kill "$server_pid" 2>/dev/null
		wait "$server_pid" 2>/dev/null
	fi
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ ! -f "$script" ]; then
	echo "Bail out! cannot find shoji-certs (tried $script)"
	exit 1
fi
if ! command -v openssl >/dev/null 2>&1; then
	echo "1..0 # SKIP openssl not installed"
	exit 0
fi

n=0

pass() {
	n=$((n + 1))
	echo "ok $n - $1"
}

fail() {
	n=$((n + 1))
	echo "not ok $n - $1"
	if [ -s "$T/out" ]; then
		sed 's/^/# /' "$T/out" | tail -n 20
	fi
}

skip() {
	n=$((n + 1))
	echo "ok $n - $1 # SKIP $2"
}

# check DESCRIPTION COMMAND...: ok if COMMAND succeeds; its output is kept
# in $T/out and shown on failure.
check() {
	check_desc=$1
	shift
	if "$@" >"$T/out" 2>&1; then
		pass "$check_desc"
	else
		fail "$check_desc"
	fi
}

# check_fails DESCRIPTION PATTERN COMMAND...: ok if COMMAND fails and says
# something matching PATTERN (a grep -E expression).
check_fails() {
	cf_desc=$1
	cf_pattern=$2
	shift 2
	if "$@" >"$T/out" 2>&1; then
		fail "$cf_desc (it succeeded)"
	elif grep -q -i -E "$cf_pattern" "$T/out"; then
		pass "$cf_desc"
	else
		fail "$cf_desc (no message matching '$cf_pattern')"
	fi
}

certs() {
	sh "$script" "$@"
}

mode_of() {
	stat -c %a "$1"
}

modes_ok() { # modes_ok DIR
	[ "$(mode_of "$1")" = 755 ] &&
		[ "$(mode_of "$1/ca.key")" = 600 ] &&
		[ "$(mode_of "$1/server.key")" = 600 ] &&
		[ "$(mode_of "$1/ca.crt")" = 644 ] &&
		[ "$(mode_of "$1/server.crt")" = 644 ] &&
		[ "$(mode_of "$1/server-chain.crt")" = 644 ]
}

all_files() { # all_files DIR
	for f in ca.key ca.crt server.key server.crt server-chain.crt; do
		[ -f "$1/$f" ] || {
			echo "missing $1/$f"
			return 1
		}
	done
}

text_has() { # text_has CERT STRING...: every STRING in `openssl x509 -text`
	th_text=$(openssl x509 -in "$1" -noout -text) || return 1
	shift
	for th_want in "$@"; do
		case $th_text in
		*"$th_want"*) ;;
		*)
			echo "no '$th_want' in the certificate"
			return 1
			;;
		esac
	done
}

sans_have() { # sans_have CERT ENTRY...: each ENTRY one of the SAN entries
	sh_sans=$(openssl x509 -in "$1" -noout -ext subjectAltName | sed -n '2,$p' |
		tr -d ' ' | tr ',' '\n') || return 1
	shift
	for sh_want in "$@"; do
		printf '%s\n' "$sh_sans" | grep -q -x -F "$sh_want" || {
			echo "no SAN entry '$sh_want' in: $sh_sans"
			return 1
		}
	done
}

same_files() { # same_files DIR1 DIR2
	for f in ca.key ca.crt server.key server.crt server-chain.crt; do
		cmp "$1/$f" "$2/$f" || return 1
	done
}

pubkeys_match() { # pubkeys_match KEY CERT
	[ "$(openssl pkey -in "$1" -pubout)" = "$(openssl x509 -in "$2" -noout -pubkey)" ]
}

verify_ok() { # verify_ok DIR [openssl verify options]
	vo_dir=$1
	shift
	openssl verify -CAfile "$vo_dir/ca.crt" "$@" "$vo_dir/server.crt"
}

chain_is_server_then_ca() {
	cat "$1/server.crt" "$1/ca.crt" | cmp - "$1/server-chain.crt"
}

valid_for_days() { # valid_for_days CERT MIN MAX: expires after MIN, before MAX days
	openssl x509 -in "$1" -noout -checkend $(($2 * 86400)) &&
		! openssl x509 -in "$1" -noout -checkend $(($3 * 86400))
}

# show_fingerprint_matches DIR FILE: `show` prints the SHA256 fingerprint
# line of DIR/FILE exactly as openssl computes it.
show_fingerprint_matches() {
	sfm_want=$(openssl x509 -in "$1/$2" -noout -fingerprint -sha256) || return 1
	sfm_want=${sfm_want#*=}
	certs -d "$1" show >"$T/show" 2>&1 || return 1
	cat "$T/show"
	grep -q -x -F "SHA256 Fingerprint=$sfm_want" "$T/show" || return 1
	sfm_plain=$(printf '%s' "$sfm_want" | tr -d : | tr 'A-F' 'a-f')
	grep -q -F "$sfm_plain" "$T/show"
}

D=$T/tls

# ------------------------------------------------------------------ make

check "-h prints usage" sh -c 'sh "$1" -h | grep -q "shoji-certs .*make"' sh "$script"
check "make with -n and -a succeeds" certs -d "$D" -n test.example.jp -a 192.0.2.10 make
check "make creates ca.key, ca.crt, server.key, server.crt, server-chain.crt" all_files "$D"
check "keys are 0600, certificates 0644, the directory 0755" modes_ok "$D"
check "server.crt verifies against ca.crt" verify_ok "$D"
check "server.crt verifies for the sslserver purpose" verify_ok "$D" -purpose sslserver
check "server-chain.crt is server.crt then ca.crt" chain_is_server_then_ca "$D"
check "server.key belongs to server.crt" pubkeys_match "$D/server.key" "$D/server.crt"
check "ca.key belongs to ca.crt" pubkeys_match "$D/ca.key" "$D/ca.crt"
check "CA: RSA 3072, critical CA:TRUE, keyCertSign and cRLSign" \
	text_has "$D/ca.crt" "Public-Key: (3072 bit)" "Basic Constraints: critical" \
	"CA:TRUE" "Certificate Sign, CRL Sign"
check "server: RSA 3072, CA:FALSE, digitalSignature and keyEncipherment" \
	text_has "$D/server.crt" "Public-Key: (3072 bit)" "CA:FALSE" \
	"Digital Signature, Key Encipherment"
check "server: extended key usage serverAuth" \
	text_has "$D/server.crt" "TLS Web Server Authentication"
check "SANs hold localhost, 127.0.0.1, ::1 and the host name" \
	sans_have "$D/server.crt" DNS:localhost "IPAddress:127.0.0.1" \
	"IPAddress:0:0:0:0:0:0:0:1" "DNS:$(hostname | tr ABCDEFGHIJKLMNOPQRSTUVWXYZ abcdefghijklmnopqrstuvwxyz)"
check "SANs hold -n test.example.jp and -a 192.0.2.10" \
	sans_have "$D/server.crt" DNS:test.example.jp "IPAddress:192.0.2.10"
check "verifies for host name test.example.jp" verify_ok "$D" -verify_hostname test.example.jp
check "verifies for address 192.0.2.10" verify_ok "$D" -verify_ip 192.0.2.10
check "verifies for address ::1" verify_ok "$D" -verify_ip ::1
check_fails "does not verify for another host name" "mismatch|error" \
	verify_ok "$D" -verify_hostname wrong.example.org
check_fails "does not verify for another address" "mismatch|error" \
	verify_ok "$D" -verify_ip 192.0.2.99
check "server certificate lasts 825 days" valid_for_days "$D/server.crt" 824 826
check "CA lasts ten years" valid_for_days "$D/ca.crt" 3650 3654

# --------------------------------------------------------- re-run, rotate

cp -p -r "$D" "$T/before"
check "a second make succeeds" certs -d "$D" make
if grep -q -i "nothing changed" "$T/out"; then
	pass "a second make says nothing changed"
else
	fail "a second make says nothing changed"
fi
check "a second make leaves every file byte-identical" same_files "$T/before" "$D"
check "a second make leaves the modes alone" modes_ok "$D"

check "--force-server succeeds" certs -d "$D" --force-server -n test.example.jp make
if cmp -s "$T/before/server.crt" "$D/server.crt"; then
	fail "--force-server changes server.crt"
else
	pass "--force-server changes server.crt"
fi
if cmp -s "$T/before/server.key" "$D/server.key"; then
	fail "--force-server makes a new server key"
else
	pass "--force-server makes a new server key"
fi
check "--force-server keeps ca.crt and ca.key" \
	sh -c 'cmp "$1/ca.crt" "$2/ca.crt" && cmp "$1/ca.key" "$2/ca.key"' sh "$T/before" "$D"
check "the re-issued server.crt verifies against the same ca.crt" \
	verify_ok "$D" -verify_hostname test.example.jp
check "the re-issued certificate keeps the modes" modes_ok "$D"
check "the re-issued server-chain.crt is server.crt then ca.crt" chain_is_server_then_ca "$D"
check "--days 30 sets the validity" certs -d "$D" --force-server --days 30 make
check "the certificate lasts 30 days" valid_for_days "$D/server.crt" 29 31

rm "$D/server.crt"
cp -p "$D/server.key" "$T/kept.key"
check "make without server.crt re-issues it" certs -d "$D" -n test.example.jp make
check "... with the CA and server key that were there" \
	sh -c 'cmp "$1/ca.crt" "$2/ca.crt" && cmp "$3" "$2/server.key" &&
		openssl verify -CAfile "$2/ca.crt" "$2/server.crt"' sh "$T/before" "$D" "$T/kept.key"

# ---------------------------------------------------------- bad arguments

check_fails "-a with a host name is refused" "not an IP address" \
	certs -d "$T/bad" -a host.example make
check_fails "-a with a malformed address is refused" "not an IPv4 or IPv6" \
	certs -d "$T/bad" -a 192.0.2.300 make
check_fails "-n with a malformed name is refused" "not a DNS name" \
	certs -d "$T/bad" -n 'bad name!' make
check_fails "--days 0 is refused" "days" certs -d "$T/bad" --days 0 make
check_fails "an unknown command is refused" "unknown command" certs -d "$T/bad" frobnicate
if [ -e "$T/bad" ]; then
	fail "refused arguments create nothing"
else
	pass "refused arguments create nothing"
fi
check_fails "ca.crt without ca.key is refused" "ca.key" \
	sh -c 'mkdir "$1" && cp "$2/ca.crt" "$1/" && sh "$3" -d "$1" make' sh "$T/half" "$D" "$script"

# ----------------------------------------------------------------- import

cat >"$T/self.cnf" <<EOF
[req]
distinguished_name = dn
prompt = no
[dn]
CN = imported.example.jp
[ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:imported.example.jp
EOF
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/self.key" -out "$T/self.crt" \
	-config "$T/self.cnf" -extensions ext -days 90 >/dev/null 2>&1
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/other.key" -out "$T/other.crt" \
	-config "$T/self.cnf" -extensions ext -days 90 >/dev/null 2>&1

I=$T/imported
check "import of a self-made certificate and key succeeds" \
	certs -d "$I" import "$T/self.crt" "$T/self.key"
check "import installs the certificate as server.crt" \
	sh -c '[ "$(openssl x509 -in "$1" -noout -fingerprint -sha256)" = \
		"$(openssl x509 -in "$2" -noout -fingerprint -sha256)" ]' sh "$T/self.crt" "$I/server.crt"
check "import installs the key as server.key" pubkeys_match "$I/server.key" "$T/self.crt"
check "imported key is 0600, certificates 0644" \
	sh -c '[ "$(stat -c %a "$1/server.key")" = 600 ] &&
		[ "$(stat -c %a "$1/server.crt")" = 644 ] &&
		[ "$(stat -c %a "$1/server-chain.crt")" = 644 ]' sh "$I"
check "without a chain, server-chain.crt is server.crt" cmp "$I/server.crt" "$I/server-chain.crt"

cp "$I/server.crt" "$T/imported.crt"
check_fails "import with a key of another certificate fails" "does not belong" \
	certs -d "$I" import "$T/self.crt" "$T/other.key"
check "a failed import leaves server.crt alone" cmp "$T/imported.crt" "$I/server.crt"
check "a failed import leaves server.key alone" pubkeys_match "$I/server.key" "$T/self.crt"
check_fails "import of a key as the certificate fails" "not a certificate" \
	certs -d "$I" import "$T/self.key" "$T/self.key"
check_fails "import of a missing file fails" "does not exist" \
	certs -d "$I" import "$T/nothing.crt" "$T/self.key"

check "import with a chain succeeds" certs -d "$I" import "$T/self.crt" "$T/self.key" "$T/other.crt"
if grep -q -i "chain given does not verify" "$T/out"; then
	pass "import warns about a chain that does not issue the certificate"
else
	fail "import warns about a chain that does not issue the certificate"
fi
check "server-chain.crt is the certificate then the chain" \
	sh -c 'cat "$1" "$2" | cmp - "$3"' sh "$I/server.crt" "$T/other.crt" "$I/server-chain.crt"

# An expired certificate: openssl ca takes explicit past dates.
mkdir "$T/old" "$T/old/new"
: >"$T/old/index.txt"
cat >"$T/old/ca.cnf" <<EOF
[ca]
default_ca = old
[old]
database = $T/old/index.txt
new_certs_dir = $T/old/new
rand_serial = yes
default_md = sha256
policy = any
[any]
commonName = supplied
EOF
openssl req -new -newkey rsa:2048 -nodes -keyout "$T/old/old.key" -subj /CN=old.example \
	-out "$T/old/old.csr" >/dev/null 2>&1
openssl ca -batch -config "$T/old/ca.cnf" -selfsign -keyfile "$T/old/old.key" \
	-in "$T/old/old.csr" -startdate 20200101000000Z -enddate 20200201000000Z -notext \
	-out "$T/old/old.crt" >/dev/null 2>&1
check_fails "import of an expired certificate fails" "expired" \
	certs -d "$T/expired" import "$T/old/old.crt" "$T/old/old.key"
if [ -e "$T/expired" ]; then
	fail "a refused import creates nothing"
else
	pass "a refused import creates nothing"
fi

# ------------------------------------------------------------------- show

check "show prints the SHA256 fingerprint of server.crt as openssl does" \
	show_fingerprint_matches "$D" server.crt
check "show prints the SHA256 fingerprint of ca.crt as openssl does" \
	show_fingerprint_matches "$D" ca.crt
check "show works on an imported certificate" show_fingerprint_matches "$I" server.crt
check_fails "show without server.crt fails" "does not exist" certs -d "$T/empty" show

# ------------------------------------------------------- TLS handshakes

# start_server DIR: openssl s_server with DIR's certificate on a free
# port of 127.0.0.1; sets server_pid and port.
start_server() {
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		port=$(($(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 30000 + 20000))
		openssl s_server -cert "$1/server.crt" -key "$1/server.key" \
			-accept "127.0.0.1:$port" -www >"$T/server.log" 2>&1 &
		server_pid=$!
		for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
			if grep -q ACCEPT "$T/server.log"; then
				return 0
			fi
			kill -0 "$server_pid" 2>/dev/null || break
			sleep 0.25
		done
		kill "$server_pid" 2>/dev/null
		wait "$server_pid" 2>/dev/null
		server_pid=
	done
	return 1
}

stop_server() {
	if [ -n "$server_pid" ]; then
		kill "$server_pid" 2>/dev/null
		wait "$server_pid" 2>/dev/null
		server_pid=
	fi
}

# handshake CAFILE VERIFY_OPTION VALUE: ok if the chain and name verify.
handshake() {
	timeout 20 openssl s_client -connect "127.0.0.1:$port" -CAfile "$1" \
		-verify_return_error "$2" "$3" </dev/null >"$T/client.log" 2>&1
	hs_rc=$?
	cat "$T/client.log"
	[ "$hs_rc" -eq 0 ] && grep -q "Verify return code: 0 (ok)" "$T/client.log"
}

if start_server "$D"; then
	pass "openssl s_server starts with server.crt and server.key"
	check "TLS handshake verifies the chain and host name localhost" \
		handshake "$D/ca.crt" -verify_hostname localhost
	check "TLS handshake verifies the chain and address 127.0.0.1" \
		handshake "$D/ca.crt" -verify_ip 127.0.0.1
	check "TLS handshake verifies the chain and host name test.example.jp" \
		handshake "$D/ca.crt" -verify_hostname test.example.jp
	check_fails "TLS handshake fails for a host name not in the certificate" \
		"mismatch|verify error" handshake "$D/ca.crt" -verify_hostname wrong.example.org
	check_fails "TLS handshake fails against another CA" "verify error|unable to get" \
		handshake "$T/other.crt" -verify_hostname localhost
	stop_server
else
	fail "openssl s_server starts with server.crt and server.key"
fi

# ----------------------------------------------------------------- non-root

if [ "$(id -u)" -ne 0 ]; then
	check "make works for a directory the user owns" certs -d "$T/user/tls" make
	check "... with the same modes" modes_ok "$T/user/tls"
elif command -v runuser >/dev/null 2>&1 && id nobody >/dev/null 2>&1; then
	mkdir "$T/user"
	chown nobody "$T/user"
	chmod 755 "$T"
	cp "$script" "$T/shoji-certs"
	chmod 755 "$T/shoji-certs"
	check "make works as an unprivileged user in a directory it owns" \
		runuser -u nobody -- env TMPDIR=/tmp sh "$T/shoji-certs" -d "$T/user/tls" make
	check "... with the same modes" modes_ok "$T/user/tls"
	check "... and verifies" verify_ok "$T/user/tls" -verify_hostname localhost
	check_fails "an unprivileged user cannot write elsewhere" "cannot (create|write)" \
		runuser -u nobody -- env TMPDIR=/tmp sh "$T/shoji-certs" -d "$T/root-only/tls" make
else
	skip "make works as an unprivileged user" "no runuser or no user nobody"
fi

echo "1..$n"
