/*
 * The RDP front-end (FreeRDP 2's server library) for one connection: peeks
 * at the client's X.224 Connection Request before FreeRDP sees the socket
 * (audited; a client without TLS, or without NLA when [rdp] nla is on, is
 * refused here with a Negotiation Failure), runs RDP over TLS (and NLA
 * when on: NTLM checked with the one NT hash the control process hands
 * over, then the delegated password checked like any other) with the
 * certificate read as root by prepare(), checks the credentials the
 * client sent (xfreerdp /u /p, mstsc with saved credentials) through the
 * control process in PostConnect, or, when the client sent no password (mstsc without NLA),
 * shows logon_screen.c's logon screen over the same connection until a
 * login succeeds (at most LOGON_MAX_FAILURES tries within
 * LOGON_TIMEOUT_MS); then serves the session: rdp_session.c owns the
 * pixel link, rdp_output.c sends pixels (the logon screen's too), and the
 * input callbacks here turn RDP input into pixel-link input.
 *
 * Handles untrusted input: everything the client sends. The X.224 request
 * is parsed by x224.c; the rest by FreeRDP, whose callbacks here check
 * state and ranges again. No channel is opened but the graphics pipeline,
 * Display Control (a resize follows it within [display] limits) and,
 * when [policy] lets text cross and a session is attached, the clipboard
 * (rdp_clip.c; its PDUs' headers checked by cliprdr_filter.c first); data
 * on any other channel is dropped and audited once. The security protocol
 * and the channels listed and opened are audited per connection.
 *
 * Threads: FreeRDP's peer, input and update callbacks run on this
 * worker's main thread inside peer->CheckFileDescriptor, which also runs
 * the pixel link and the frames (the NTLM hash callback too, which waits
 * for the control process); only rdp_output's rdpgfx and disp callbacks
 * run on threads of FreeRDP's own.
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

/* Before FreeRDP's headers, whose MIN and MAX give way to ours. */
#include "util.h"

#include <freerdp/channels/channels.h>
#include <freerdp/channels/wtsvc.h>
#include <freerdp/freerdp.h>
#include <freerdp/peer.h>
#include <winpr/ntlm.h>
#include <winpr/ssl.h>
#include <winpr/wlog.h>
#include <winpr/wtsapi.h>

#include "cliprdr_filter.h"
#include "dvc_filter.h"
#include "log.h"
#include "logon_screen.h"
#include "notice.h"
#include "refusal_notice.h"
#include "pixlink.h"
#include "rdp_bytes.h"
#include "rdp_clip.h"
#include "rdp_output.h"
#include "rdp_session.h"
#include "token_bucket.h"
#include "worker.h"
#include "x224.h"

#define PEEK_TIMEOUT_MS 10000
#define CONNECT_TIMEOUT_MS 60000 /* from the first byte to activation, login included */
#define AUTH_TIMEOUT_MS 30000
#define NT_HASH_TIMEOUT_MS 10000
#define LOGON_TIMEOUT_MS 120000 /* the logon screen, to a successful login */
#define NOTICE_HOLD_MS 3000     /* the end-of-session notice is shown this long */
#define LOGON_MAX_FAILURES 5    /* wrong passwords on one connection's logon screen */
#define WAIT_SLICE_MS 100
#define MAX_PEM_FILE (256 * 1024)
#define MIN_DESKTOP 200
#define WHEEL_DELTA 120 /* rotation units per notch */
#define XK_PAUSE 0xff13
#define SCANCODE_NUMLOCK 0x45

/* What prepare() read as root. */
struct rdp_keys {
	char *cert, *key;
	size_t key_len;
};

/* FreeRDP's per-peer context; rdpContext must come first. */
struct rdp_conn {
	rdpContext ctx;
	struct worker *w;
	HANDLE vcm;
	psPeerReceiveChannelData receive_channel_data; /* FreeRDP's, for drdynvc */
	psPeerSendChannelData send_channel_data;       /* FreeRDP's, counted on the way */
	struct rdp_bytes bytes;                        /* per channel, for the audit */
	struct rdp_session *session;
	struct logon_screen *logon; /* until a login from the logon screen succeeds */
	uint64_t logon_deadline;
	int logon_failures;
	bool logon_submit;     /* Enter or Sign in: check the fields in the main loop */
	uint64_t notice_until; /* the pool refused: the logon screen shows why until then */
	struct rdp_output *out;
	struct rdp_clip *clip; /* the clipboard channel, when open */
	bool clip_tried;       /* whether to open it was decided */
	size_t clip_chunks;    /* bytes of the client's current cliprdr PDU so far */
	bool clip_in_pdu;      /* its first chunk came (and passed), its last not yet */
	bool clip_skip;        /* dropping the rest of a PDU too long to take */
	bool activated;
	struct watchdog *watchdog;
	bool refused; /* PostConnect turned the login down (audited by the control process) */
	char nla_user[CTL_MAX_USER + 1]; /* NLA asked for this user's NT hash */
	char *nla_password;              /* the password CredSSP delegated; wiped after use */
	bool foreign_noted;              /* data on a channel never opened */
	bool pause_pending;              /* the E1 prefix of Pause came; swallow its 0x45 */
	char listed[CTL_MAX_TEXT / 2];   /* the static channels the client listed */
	char opened[64];                 /* the channels opened, as last audited */
	char
	    ended[CTL_MAX_TEXT + 160]; /* why the session ended under the client; "" = it did not */
	int wheel_v, wheel_h;          /* rotation not yet a whole notch */
	struct token_bucket budget;    /* [display] max_kbps over every byte sent */
};

static struct rdp_conn *conn_of(rdpContext *ctx)
{
	return (struct rdp_conn *)ctx;
}

/*
 * FreeRDP's TLS accept waits for the client without end (it polls in a
 * loop of its own inside CheckFileDescriptor), so a client that stops
 * after its ClientHello would hold this worker for ever and run()'s own
 * deadline would never be checked. This thread ends the worker when the
 * connection is not activated a little after that deadline.
 */
struct watchdog {
	struct worker *w;
	uint64_t deadline;
	atomic_bool done;
	pthread_t thread;
	bool started;
};

static void *watchdog_run(void *arg)
{
	struct watchdog *wd = arg;

	while (!atomic_load(&wd->done)) {
		if (now_ms() >= wd->deadline) {
			log_info("%s: the RDP connection stalled before activation; ending it",
			         wd->w->peer);
			worker_note(
			    wd->w, CTL_NOTE_HANDSHAKE_FAILED,
			    "the RDP connection stalled before activation (TLS or protocol)");
			_exit(1);
		}
		usleep(200000);
	}
	return NULL;
}

static void watchdog_start(struct watchdog *wd, struct worker *w, int timeout_ms)
{
	wd->w = w;
	wd->deadline = now_ms() + (uint64_t)timeout_ms;
	atomic_init(&wd->done, false);
	wd->started = pthread_create(&wd->thread, NULL, watchdog_run, wd) == 0;
	if (!wd->started)
		log_warn("%s: no handshake watchdog: %s", w->peer, strerror(errno));
}

static void watchdog_stop(struct watchdog *wd)
{
	atomic_store(&wd->done, true);
	if (wd->started)
		pthread_join(wd->thread, NULL);
	wd->started = false;
}

/* ---- prepare: the certificate and key, read while still root ---- */

static char *read_pem(const char *path, size_t *len)
{
	struct stat st;
	char *buf = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    st.st_size > MAX_PEM_FILE)
		goto out;
	buf = calloc(1, (size_t)st.st_size + 1);
	if (buf && read(fd, buf, (size_t)st.st_size) != st.st_size) {
		OPENSSL_cleanse(buf, (size_t)st.st_size);
		free(buf);
		buf = NULL;
	}
	if (buf)
		*len = (size_t)st.st_size;
out:
	if (fd >= 0)
		close(fd);
	return buf;
}

/* FreeRDP 2 reads the TLS key with PEM_read_bio_RSAPrivateKey: RSA only. */
static bool key_is_rsa(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *pkey = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	bool rsa = pkey && EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA;

	EVP_PKEY_free(pkey);
	BIO_free(bio);
	return rsa;
}

static void keys_free(struct rdp_keys *k)
{
	if (!k)
		return;
	if (k->key)
		OPENSSL_cleanse(k->key, k->key_len);
	free(k->key);
	free(k->cert);
	free(k);
}

static int rdp_prepare(struct worker *w)
{
	const struct shoji_config *cfg = w->cfg;
	struct rdp_keys *k = xcalloc(1, sizeof(*k));
	size_t cert_len;

	k->cert = read_pem(cfg->tls_cert, &cert_len);
	k->key = read_pem(cfg->tls_key, &k->key_len);
	if (!k->cert || !k->key) {
		log_error("cannot read [tls] cert %s or key %s", cfg->tls_cert, cfg->tls_key);
		goto fail;
	}
	if (!key_is_rsa(k->key)) {
		log_error("[tls] key %s is not an RSA key: RDP (FreeRDP 2) needs RSA",
		          cfg->tls_key);
		goto fail;
	}
	w->fe_data = k;
	return 0;
fail:
	keys_free(k);
	return -1;
}

/* ---- the X.224 Connection Request, before FreeRDP ---- */

/* Waits for the whole request without taking it off the socket. 0 or -1 (why says). */
static int peek_request(int fd, struct x224_cr *cr, size_t *len, const char **why)
{
	uint8_t buf[X224_MAX_CR];
	uint64_t end = now_ms() + PEEK_TIMEOUT_MS;

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int left = (int)(end > now_ms() ? end - now_ms() : 0);
		*why = "no connection request in time";
		if (left == 0 || poll(&p, 1, left) <= 0)
			return -1;
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		*why = "connection closed before its request";
		if (n <= 0)
			return -1;
		ssize_t used = x224_parse_cr(buf, (size_t)n, cr);
		*why = "malformed X.224 connection request";
		if (used < 0)
			return -1;
		if (used > 0) {
			*len = (size_t)used;
			return 0;
		}
		usleep(10000); /* part of it came; peeking does not drain, so poll would not wait */
	}
}

/* Answers a request this server will not serve with a Negotiation Failure. */
static void refuse_request(struct worker *w, const struct x224_cr *cr, size_t len, const char *why)
{
	uint8_t buf[X224_MAX_CR], out[X224_NEG_FAILURE_LEN];

	if (recv(w->client_fd, buf, len, MSG_WAITALL) == (ssize_t)len && cr->has_neg_req &&
	    x224_encode_neg_failure(out, sizeof(out), X224_SSL_REQUIRED_BY_SERVER) > 0 &&
	    write_all(w->client_fd, out, sizeof(out)) < 0)
		log_debug("%s: cannot send the negotiation failure: %s", w->peer, strerror(errno));
	log_info("%s: refused: %s", w->peer, why);
	worker_note(w, CTL_NOTE_HANDSHAKE_FAILED, "%s", why);
}

/* Reads, audits and judges the request; 0 to go on with FreeRDP, -1 when refused. */
static int check_request(struct worker *w)
{
	struct x224_cr cr;
	char text[CTL_MAX_TEXT];
	const char *why;
	size_t len;

	if (peek_request(w->client_fd, &cr, &len, &why) < 0) {
		log_info("%s: %s", w->peer, why);
		worker_note(w, CTL_NOTE_HANDSHAKE_FAILED, "%s", why);
		return -1;
	}
	x224_describe(&cr, text, sizeof(text));
	worker_note(w, CTL_NOTE_RDP_REQUEST, "%s", text);
	log_info("%s: RDP connection request: %s", w->peer, text);
	if (cr.protocols & X224_PROTOCOL_SSL)
		return 0;
	if ((cr.protocols & X224_PROTOCOL_HYBRID) && w->cfg->rdp_nla)
		return 0;
	refuse_request(w, &cr, len,
	               cr.protocols ? "the client offers neither TLS nor NLA ([rdp] nla is off)"
	                            : "the client offers only standard RDP security");
	return -1;
}

/* ---- login ---- */

/* The static channels the client listed ("rdpdr,cliprdr,drdynvc"; "none"). */
static void list_channels(struct rdp_conn *c)
{
	size_t n = 0, at = 0;
	char **names = WTSGetAcceptedChannelNames(c->ctx.peer, &n);

	snprintf(c->listed, sizeof(c->listed), "none");
	for (size_t i = 0; names && i < n && at < sizeof(c->listed) - 10; i++) {
		int len = snprintf(c->listed + at, sizeof(c->listed) - at, "%s%.8s", i ? "," : "",
		                   names[i] ? names[i] : "?");
		if (len > 0)
			at = MIN(at + (size_t)len, sizeof(c->listed) - 1);
	}
	free(names); /* the names themselves are FreeRDP's */
}

/* What the client asked for at connection time, for the audit log. */
static void note_client(struct rdp_conn *c)
{
	rdpSettings *st = c->ctx.settings;

	list_channels(c);
	worker_note(c->w, CTL_NOTE_RDP_REQUEST,
	            "client=%.32s build=%u size=%ux%u keyboard=0x%x/%u channels=%s gfx=%s",
	            st->ClientHostname ? st->ClientHostname : "", st->ClientBuild, st->DesktopWidth,
	            st->DesktopHeight, st->KeyboardLayout, st->KeyboardType, c->listed,
	            st->SupportGraphicsPipeline ? "yes" : "no");
}

/* The security protocol in force: after negotiation FreeRDP leaves only its flag set. */
static const char *security_name(const rdpSettings *st)
{
	if (st->NlaSecurity)
		return "nla";
	if (st->TlsSecurity)
		return "tls";
	return st->RdpSecurity ? "rdp" : "none";
}

/*
 * Audits the security protocol, the channels the client listed and the
 * ones this side opened, at activation and whenever the opened ones change.
 */
static void note_channels(struct rdp_conn *c)
{
	char opened[sizeof(c->opened)];
	/* FreeRDP marks drdynvc initialised even when the client never listed it. */
	bool dvc = strstr(c->listed, "drdynvc") &&
	           WTSVirtualChannelManagerGetDrdynvcState(c->vcm) != DRDYNVC_STATE_NONE;
	snprintf(opened, sizeof(opened), "%s%s%s%s", dvc ? "drdynvc" : "none",
	         rdp_output_gfx_opened(c->out) ? ",rdpgfx" : "",
	         rdp_output_disp_opened(c->out) ? ",disp" : "", c->clip ? ",cliprdr" : "");
	if (!strcmp(opened, c->opened))
		return;
	memcpy(c->opened, opened, sizeof(opened));
	worker_note(c->w, CTL_NOTE_RDP_CHANNELS, "security=%s listed=%s opened=%s",
	            security_name(c->ctx.settings), c->listed, opened);
	log_info("%s: security %s; channels listed %s, opened %s", c->w->peer,
	         security_name(c->ctx.settings), c->listed, opened);
}

static void wipe_password(rdpSettings *st)
{
	if (st->Password)
		OPENSSL_cleanse(st->Password, strlen(st->Password));
}

/* ---- NLA: NTLM checked with the NT hash the control process hands out ---- */

#define MAX_IDENTITY_UNITS 1024 /* UTF-16 units of a user name, domain or password */

/* UTF-16 (units long) as a new UTF-8 string ("" for none); NULL on error. */
static char *utf8_of(const UINT16 *text, UINT32 units)
{
	char *out = NULL;

	if (!text || units == 0)
		return strdup("");
	if (units > MAX_IDENTITY_UNITS ||
	    ConvertFromUnicode(CP_UTF8, 0, (LPCWSTR)text, (int)units, &out, 0, NULL, NULL) <= 0) {
		free(out);
		return NULL;
	}
	return out;
}

/*
 * FreeRDP's NTLM server asks for the NTLMv2 hash of the user the client
 * named: the control process hands over that user's NT hash (if one is
 * stored and [rdp] nla is on), and NTLMv2's is derived from it. Non-zero
 * lets NTLM go on to check the client's proof with it; 0 fails the logon.
 */
static SECURITY_STATUS on_ntlm_hash(void *client, const SEC_WINNT_AUTH_IDENTITY *id,
                                    const SecBuffer *proof, const BYTE *randkey, const BYTE *mic,
                                    const SecBuffer *mic_value, BYTE *ntlm_hash)
{
	freerdp_peer *peer = client;
	struct rdp_conn *c = conn_of(peer->context);
	uint8_t nt[CTL_NT_HASH_LEN];
	char *user = utf8_of(id->User, id->UserLength);
	bool ok = false;

	(void)proof, (void)randkey, (void)mic, (void)mic_value;
	if (!user || !user[0] || strlen(user) > CTL_MAX_USER || c->nla_user[0]) {
		worker_note(c->w, CTL_NOTE_HANDSHAKE_FAILED, "NLA: unusable or repeated user name");
		goto out;
	}
	snprintf(c->nla_user, sizeof(c->nla_user), "%s", user);
	if (!worker_nt_hash(c->w, user, nt, NT_HASH_TIMEOUT_MS)) {
		log_info("%s: NLA logon of %s refused: no NT hash", c->w->peer, user);
		goto out;
	}
	ok = NTOWFv2FromHashW(nt, (LPWSTR)id->User, id->UserLength * 2, (LPWSTR)id->Domain,
	                      id->DomainLength * 2, ntlm_hash);
	OPENSSL_cleanse(nt, sizeof(nt));
out:
	free(user);
	return ok ? 1 : 0;
}

/*
 * After NLA, FreeRDP passes the credentials CredSSP delegated: the
 * password is kept for PostConnect, which checks it like any other.
 */
static BOOL on_logon(freerdp_peer *peer, SEC_WINNT_AUTH_IDENTITY *id, BOOL automatic)
{
	struct rdp_conn *c = conn_of(peer->context);

	if (!automatic || !id || !id->Password || id->PasswordLength == 0)
		return TRUE;
	if (!(id->Flags & SEC_WINNT_AUTH_IDENTITY_UNICODE))
		c->nla_password = strndup((const char *)id->Password,
		                          MIN(id->PasswordLength, (UINT32)CTL_MAX_PASSWORD + 1));
	else
		c->nla_password = utf8_of(id->Password, id->PasswordLength);
	return TRUE;
}

static void wipe_nla_password(struct rdp_conn *c)
{
	if (c->nla_password)
		OPENSSL_cleanse(c->nla_password, strlen(c->nla_password));
	free(c->nla_password);
	c->nla_password = NULL;
}

/* No password came: the logon screen asks for it (a user name that came is kept). */
static BOOL start_logon(struct rdp_conn *c)
{
	rdpSettings *st = c->ctx.settings;
	bool jp = st->KeyboardType == 7 || (st->KeyboardLayout & 0xffff) == 0x0411;

	c->logon = logon_screen_create((uint16_t)st->DesktopWidth, (uint16_t)st->DesktopHeight,
	                               st->Username, jp ? LOGON_KEYBOARD_JP : LOGON_KEYBOARD_US);
	if (!c->logon)
		return FALSE;
	c->logon_deadline = now_ms() + LOGON_TIMEOUT_MS;
	log_info("%s: no password sent; showing the logon screen", c->w->peer);
	return TRUE;
}

/* The pool refused a right password: the screen says why for REFUSAL_SHOW_MS, then we close. */
static void show_notice(struct rdp_conn *c, const char *reason)
{
	logon_screen_notice(c->logon, reason);
	c->notice_until = now_ms() + REFUSAL_SHOW_MS;
}

/* Each capture render made, for the moving-area detector (see pump_frames). */
static void observe_capture(void *arg, const struct region *changes)
{
	struct rdp_conn *c = arg;

	rdp_output_observe(c->out, changes);
}

static BOOL on_post_connect(freerdp_peer *peer)
{
	struct rdp_conn *c = conn_of(peer->context);
	rdpSettings *st = peer->settings;
	char reason[CTL_MAX_TEXT + 1];

	note_client(c);
	if (st->NlaSecurity && c->nla_password) {
		/* The user NLA verified, with the password CredSSP delegated. */
		wipe_password(st);
		free(st->Username);
		free(st->Password);
		st->Username = strdup(c->nla_user);
		st->Password = c->nla_password;
		c->nla_password = NULL;
		if (!st->Username)
			return FALSE;
	}
	if (st->Username && st->Password &&
	    (strlen(st->Username) > CTL_MAX_USER || strlen(st->Password) > CTL_MAX_PASSWORD)) {
		worker_note(c->w, CTL_NOTE_HANDSHAKE_FAILED, "user name or password too long");
		wipe_password(st);
		c->refused = true;
		return FALSE;
	}
	if (!st->Password || !st->Password[0])
		return start_logon(c);
	if (!st->Username || !st->Username[0]) {
		worker_note(c->w, CTL_NOTE_HANDSHAKE_FAILED, "a password without a user name");
		wipe_password(st);
		c->refused = true;
		return FALSE;
	}
	int link = worker_authenticate(c->w, CTL_PROTO_RDP, st->Username, st->Password, reason,
	                               sizeof(reason), AUTH_TIMEOUT_MS);
	wipe_password(st);
	if (link < 0 && c->w->notice) {
		log_info("%s: login of %s refused by the pool: %s", c->w->peer, st->Username,
		         reason);
		if (!start_logon(c))
			return FALSE;
		show_notice(c, reason);
		return TRUE;
	}
	if (link < 0) {
		log_info("%s: login of %s refused: %s", c->w->peer, st->Username, reason);
		c->refused = true;
		return FALSE;
	}
	c->session =
	    rdp_session_create(c->w, link, (uint16_t)st->DesktopWidth, (uint16_t)st->DesktopHeight);
	if (!c->session)
		return FALSE;
	rdp_session_set_observer(c->session, observe_capture, c);
	set_nonblock(c->w->ctl_fd, true);
	log_info("%s: session %s attached over RDP as %s", c->w->peer, c->w->session, st->Username);
	return TRUE;
}

/* Before the Demand Active: the desktop the client gets, within [display] limits. */
static BOOL on_capabilities(freerdp_peer *peer)
{
	struct rdp_conn *c = conn_of(peer->context);
	rdpSettings *st = peer->settings;
	UINT32 w = st->DesktopWidth, h = st->DesktopHeight;

	st->DesktopWidth = MAX(MIN_DESKTOP, MIN(w, (UINT32)c->w->cfg->display_max_width));
	st->DesktopHeight = MAX(MIN_DESKTOP, MIN(h, (UINT32)c->w->cfg->display_max_height));
	if (st->DesktopWidth != w || st->DesktopHeight != h)
		log_info("%s: desktop %ux%u asked, %ux%u given", c->w->peer, w, h, st->DesktopWidth,
		         st->DesktopHeight);
	return TRUE;
}

static BOOL on_activate(freerdp_peer *peer)
{
	struct rdp_conn *c = conn_of(peer->context);

	if (!c->session && !c->logon)
		return FALSE;
	c->activated = true;
	if (c->watchdog)
		atomic_store(&c->watchdog->done, true);
	rdp_output_activate(c->out);
	return TRUE;
}

/* ---- input ---- */

static BOOL on_keyboard(rdpInput *input, UINT16 flags, UINT16 code)
{
	struct rdp_conn *c = conn_of(input->context);
	bool down = !(flags & KBD_FLAGS_RELEASE);
	uint8_t sc = (uint8_t)code;

	if (c->logon && !(flags & KBD_FLAGS_EXTENDED1)) {
		uint16_t key = (uint16_t)((flags & KBD_FLAGS_EXTENDED ? 0xe000 : 0) | sc);
		c->logon_submit |= logon_screen_key(c->logon, key, down) == LOGON_SUBMIT;
		return TRUE;
	}
	if (!c->session)
		return TRUE;
	if (flags & KBD_FLAGS_EXTENDED1) {
		/* Pause is E1 1D 45; the 45 alone would be Num Lock. */
		c->pause_pending = sc == 0x1d;
		if (c->pause_pending)
			rdp_session_keysym(c->session, XK_PAUSE, down);
		return TRUE;
	}
	if (c->pause_pending && sc == SCANCODE_NUMLOCK) {
		c->pause_pending = false;
		return TRUE;
	}
	c->pause_pending = false;
	rdp_session_key(c->session, (uint16_t)((flags & KBD_FLAGS_EXTENDED ? 0xe000 : 0) | sc),
	                down);
	if (down)
		rdp_output_input(c->out);
	return TRUE;
}

static BOOL on_pause(rdpInput *input)
{
	struct rdp_conn *c = conn_of(input->context);

	if (c->session) {
		rdp_session_keysym(c->session, XK_PAUSE, true);
		rdp_session_keysym(c->session, XK_PAUSE, false);
	}
	return TRUE;
}

static BOOL on_unicode(rdpInput *input, UINT16 flags, UINT16 code)
{
	struct rdp_conn *c = conn_of(input->context);

	if (c->logon && !(flags & KBD_FLAGS_RELEASE))
		c->logon_submit |= logon_screen_utf16(c->logon, code) == LOGON_SUBMIT;
	else if (c->session && !(flags & KBD_FLAGS_RELEASE)) {
		rdp_session_utf16(c->session, code);
		rdp_output_input(c->out);
	}
	return TRUE;
}

/* Mstsc resends the state of every key after focus returns: start clean. */
static BOOL on_synchronize(rdpInput *input, UINT32 flags)
{
	struct rdp_conn *c = conn_of(input->context);

	if (c->logon)
		logon_screen_sync(c->logon, flags & KBD_SYNC_CAPS_LOCK, flags & KBD_SYNC_NUM_LOCK);
	if (c->session)
		rdp_session_release_all(c->session);
	return TRUE;
}

static BOOL on_focus_in(rdpInput *input, UINT16 toggle_states)
{
	return on_synchronize(input, toggle_states);
}

/* Whole notches out of accumulated rotation (9-bit two's complement in the flags). */
static int notches(int *acc, UINT16 flags)
{
	int v = flags & WheelRotationMask;

	if (flags & PTR_FLAGS_WHEEL_NEGATIVE)
		v -= 0x200;
	*acc += v;
	int n = *acc / WHEEL_DELTA;
	*acc -= n * WHEEL_DELTA;
	return n;
}

static BOOL on_mouse(rdpInput *input, UINT16 flags, UINT16 x, UINT16 y)
{
	static const struct {
		UINT16 flag;
		uint32_t button;
	} buttons[] = {
	    {PTR_FLAGS_BUTTON1, PIXLINK_BUTTON_LEFT},
	    {PTR_FLAGS_BUTTON2, PIXLINK_BUTTON_RIGHT},
	    {PTR_FLAGS_BUTTON3, PIXLINK_BUTTON_MIDDLE},
	};
	struct rdp_conn *c = conn_of(input->context);

	if (c->logon && (flags & PTR_FLAGS_BUTTON1) && (flags & PTR_FLAGS_DOWN))
		c->logon_submit |= logon_screen_click(c->logon, x, y) == LOGON_SUBMIT;
	if (!c->session)
		return TRUE;
	/* A press or a wheel notch wants an answer; pointer motion alone does not. */
	if (flags & (PTR_FLAGS_WHEEL | PTR_FLAGS_HWHEEL))
		rdp_output_input(c->out);
	/* Wheel events carry no position; upward rotation is positive. */
	if (flags & PTR_FLAGS_WHEEL) {
		rdp_session_wheel(c->session, 0, -notches(&c->wheel_v, flags));
		return TRUE;
	}
	if (flags & PTR_FLAGS_HWHEEL) {
		rdp_session_wheel(c->session, notches(&c->wheel_h, flags), 0);
		return TRUE;
	}
	rdp_session_move(c->session, x, y);
	for (size_t i = 0; i < ARRAY_SIZE(buttons); i++)
		if (flags & buttons[i].flag)
			rdp_session_button(c->session, buttons[i].button, flags & PTR_FLAGS_DOWN);
	if (flags & PTR_FLAGS_DOWN)
		rdp_output_input(c->out);
	return TRUE;
}

static BOOL on_extended_mouse(rdpInput *input, UINT16 flags, UINT16 x, UINT16 y)
{
	struct rdp_conn *c = conn_of(input->context);

	if (!c->session)
		return TRUE;
	rdp_session_move(c->session, x, y);
	if (flags & PTR_XFLAGS_BUTTON1)
		rdp_session_button(c->session, PIXLINK_BUTTON_BACK, flags & PTR_XFLAGS_DOWN);
	if (flags & PTR_XFLAGS_BUTTON2)
		rdp_session_button(c->session, PIXLINK_BUTTON_FORWARD, flags & PTR_XFLAGS_DOWN);
	return TRUE;
}

static BOOL on_refresh_rect(rdpContext *ctx, BYTE count, const RECTANGLE_16 *areas)
{
	(void)count;
	(void)areas;
	rdp_output_refresh(conn_of(ctx)->out);
	return TRUE;
}

static BOOL on_suppress_output(rdpContext *ctx, BYTE allow, const RECTANGLE_16 *area)
{
	(void)area;
	rdp_output_suppress(conn_of(ctx)->out, !allow);
	return TRUE;
}

/*
 * cliprdr, once open: each PDU's header passes cliprdr_filter; a PDU too
 * long to take is dropped whole (every chunk of it); a malformed one,
 * chunks beyond what the header announced, or a chunk that starts no PDU
 * and continues none (its header never checked) end the connection.
 */
static BOOL on_clip_data(struct rdp_conn *c, freerdp_peer *peer, UINT16 id, const BYTE *data,
                         size_t size, UINT32 flags, size_t total)
{
	const char *why;
	uint16_t type;

	if (flags & CHANNEL_FLAG_FIRST) {
		c->clip_chunks = 0;
		enum cliprdr_verdict v = cliprdr_check(data, size, total, &type, &why);
		if (v == CLIPRDR_REFUSE) {
			log_warn("%s: cliprdr: %s; disconnecting", c->w->peer, why);
			worker_note(c->w, CTL_NOTE_MESSAGE_REFUSED, "cliprdr: %s", why);
			return FALSE;
		}
		c->clip_skip = v == CLIPRDR_SKIP;
		c->clip_in_pdu = true;
	} else if (!c->clip_in_pdu) {
		log_warn("%s: cliprdr: a chunk of no PDU; disconnecting", c->w->peer);
		worker_note(c->w, CTL_NOTE_MESSAGE_REFUSED, "cliprdr: a chunk of no PDU");
		return FALSE;
	}
	if (flags & CHANNEL_FLAG_LAST)
		c->clip_in_pdu = false;
	if (c->clip_skip) {
		if (flags & CHANNEL_FLAG_LAST) {
			c->clip_skip = false;
			rdp_clip_skipped(c->clip, total);
		}
		return TRUE;
	}
	c->clip_chunks += size;
	if (c->clip_chunks > CLIPRDR_MAX_PDU || c->clip_chunks > total) {
		log_warn("%s: cliprdr: more data than announced; disconnecting", c->w->peer);
		worker_note(c->w, CTL_NOTE_MESSAGE_REFUSED, "cliprdr: more data than announced");
		return FALSE;
	}
	return c->receive_channel_data(peer, id, data, size, flags, total);
}

/*
 * Only drdynvc (for the graphics pipeline) and, under the clipboard
 * policy, cliprdr are ever opened; anything else is dropped. What comes on
 * drdynvc passes dvc_filter first: a client that sends a malformed or
 * oversized message there is disconnected.
 */
static BOOL on_channel_data(freerdp_peer *peer, UINT16 id, const BYTE *data, size_t size,
                            UINT32 flags, size_t total)
{
	struct rdp_conn *c = conn_of(peer->context);
	const char *name = WTSChannelGetName(peer, id);
	const char *why;

	if (name && !strcmp(name, "drdynvc")) {
		if ((flags & CHANNEL_FLAG_FIRST) && dvc_check(data, size, total, &why) < 0) {
			log_warn("%s: drdynvc: %s; disconnecting", c->w->peer, why);
			worker_note(c->w, CTL_NOTE_MESSAGE_REFUSED, "drdynvc: %s", why);
			return FALSE;
		}
		rdp_bytes_received(&c->bytes, name, data, size, flags & CHANNEL_FLAG_FIRST);
		return c->receive_channel_data(peer, id, data, size, flags, total);
	}
	if (c->clip && name && !strcmp(name, "cliprdr")) {
		rdp_bytes_received(&c->bytes, name, data, size, flags & CHANNEL_FLAG_FIRST);
		return on_clip_data(c, peer, id, data, size, flags, total);
	}
	rdp_bytes_received(&c->bytes, "dropped", data, size, flags & CHANNEL_FLAG_FIRST);
	if (!c->foreign_noted) {
		worker_note(c->w, CTL_NOTE_MESSAGE_REFUSED,
		            "data on the %.8s channel, which is not open: dropped",
		            name ? name : "unknown");
		c->foreign_noted = true;
	}
	return TRUE;
}

/* Virtual-channel data out (FreeRDP's channel manager sends through here): counted. */
static BOOL on_send_channel_data(freerdp_peer *peer, UINT16 id, const BYTE *data, size_t size)
{
	struct rdp_conn *c = conn_of(peer->context);
	const char *name = WTSChannelGetName(peer, id);
	ULONG before = freerdp_get_transport_sent(peer->context, FALSE);

	BOOL ok = c->send_channel_data(peer, id, data, size);
	rdp_bytes_sent(&c->bytes, name ? name : "other", data, size,
	               freerdp_get_transport_sent(peer->context, FALSE) - before);
	return ok;
}

/* ---- the peer ---- */

/*
 * The H.264 bit rate: [display] video_kbps, but under a budget at most
 * three quarters of it, so that the lossless refresh of the rest of the
 * picture and the protocol still fit beside the video.
 */
static unsigned video_kbps(const struct shoji_config *cfg)
{
	unsigned kbps = (unsigned)cfg->display_video_kbps;

	if (cfg->display_max_kbps > 0)
		kbps = MIN(kbps, (unsigned)cfg->display_max_kbps / 4 * 3);
	return kbps;
}

static BOOL on_context_new(freerdp_peer *peer, rdpContext *ctx)
{
	struct rdp_conn *c = conn_of(ctx);

	c->w = peer->ContextExtra;
	c->vcm = WTSOpenServerA((LPSTR)ctx);
	if (!c->vcm || c->vcm == INVALID_HANDLE_VALUE)
		return FALSE;
	c->receive_channel_data = peer->ReceiveChannelData;
	peer->ReceiveChannelData = on_channel_data;
	c->send_channel_data = peer->SendChannelData;
	peer->SendChannelData = on_send_channel_data;
	rdp_bytes_init(&c->bytes, c->w);
	static const char *const h264[] = {
	    [SHOJI_H264_OFF] = NULL,
	    [SHOJI_H264_X264] = "x264enc",
	    [SHOJI_H264_OPENH264] = "openh264enc",
	    [SHOJI_H264_VAAPI] = "vaapih264enc",
	};
	const struct shoji_config *cfg = c->w->cfg;
	token_bucket_init(&c->budget, (unsigned)cfg->display_max_kbps, now_ms());
	c->out = rdp_output_create(peer, c->vcm, c->w->peer, h264[cfg->display_h264_encoder],
	                           video_kbps(cfg), (uint16_t)cfg->display_max_width,
	                           (uint16_t)cfg->display_max_height);
	return c->out != NULL;
}

static void on_context_free(freerdp_peer *peer, rdpContext *ctx)
{
	struct rdp_conn *c = conn_of(ctx);

	(void)peer;
	rdp_clip_destroy(c->clip);
	rdp_output_destroy(c->out);
	wipe_nla_password(c);
	logon_screen_destroy(c->logon);
	rdp_session_destroy(c->session);
	if (c->vcm && c->vcm != INVALID_HANDLE_VALUE)
		WTSCloseServer(c->vcm);
}

static bool configure(freerdp_peer *peer, const struct rdp_keys *k, const struct shoji_config *cfg)
{
	rdpSettings *st = peer->settings;

	st->CertificateContent = strdup(k->cert);
	st->PrivateKeyContent = strdup(k->key);
	if (!st->CertificateContent || !st->PrivateKeyContent)
		return false;
	st->RdpSecurity = FALSE;
	st->TlsSecurity = TRUE;
	st->NlaSecurity = cfg->rdp_nla;
	st->ExtSecurity = FALSE;
	st->UseRdpSecurityLayer = FALSE;
	st->SupportGraphicsPipeline = TRUE;
	st->GfxH264 = FALSE;
	st->RemoteFxCodec = FALSE;
	st->NSCodec = FALSE;
	st->ColorDepth = 32;
	st->UnicodeInput = TRUE;
	st->HasHorizontalWheel = TRUE;
	st->HasExtendedMouseEvent = TRUE;
	st->RefreshRect = TRUE;
	st->SuppressOutput = TRUE;

	if (cfg->rdp_nla) {
		peer->ComputeNtlmHash = on_ntlm_hash;
		peer->Logon = on_logon;
	}
	peer->Capabilities = on_capabilities;
	peer->PostConnect = on_post_connect;
	peer->Activate = on_activate;
	peer->input->KeyboardEvent = on_keyboard;
	peer->input->KeyboardPauseEvent = on_pause;
	peer->input->UnicodeKeyboardEvent = on_unicode;
	peer->input->SynchronizeEvent = on_synchronize;
	peer->input->FocusInEvent = on_focus_in;
	peer->input->MouseEvent = on_mouse;
	peer->input->ExtendedMouseEvent = on_extended_mouse;
	peer->update->RefreshRect = on_refresh_rect;
	peer->update->SuppressOutput = on_suppress_output;
	return peer->Initialize(peer);
}

/* The control process may end this connection (a takeover, a kill). */
static bool control_says_go_on(struct rdp_conn *c)
{
	struct pollfd p = {.fd = c->w->ctl_fd, .events = POLLIN};
	uint8_t buf[CTL_MAX_MSG];
	struct ctl_msg m;
	int fd = -1;

	if (poll(&p, 1, 0) <= 0)
		return true;
	ssize_t n = pixlink_recv(c->w->ctl_fd, buf, sizeof(buf), &fd);
	if (fd >= 0)
		close(fd);
	if (n < 0 && errno == EAGAIN)
		return true;
	if (n > 0 && ctl_parse(buf, (size_t)n, &m) == n && m.type == CTL_KICK) {
		log_info("connection ended by the control process: %s", m.u.kick.reason);
		snprintf(c->ended, sizeof(c->ended), "この接続は終了しました。\nDisconnected: %s",
		         m.u.kick.reason);
	} else {
		log_warn("control link closed or sent garbage; ending");
	}
	return false;
}

/*
 * Sends what the channels queued: a frame's graphics pipeline PDUs. FreeRDP
 * writes each as a TLS record of its own on a socket without Nagle, so a
 * frame of small PDUs (tiles, fills, copies) went as dozens of packets,
 * whose headers cost more than the PDUs (docs/encoding.md). Corked, they
 * leave in full segments, and uncorking sends the rest at once.
 */
static BOOL send_channels(struct rdp_conn *c)
{
	int fd = c->ctx.peer->sockfd, on = 1, off = 0;
	bool corked = setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on)) == 0;
	BOOL ok = WTSVirtualChannelManagerCheckFileDescriptor(c->vcm);

	if (corked)
		setsockopt(fd, IPPROTO_TCP, TCP_CORK, &off, sizeof(off));
	return ok;
}

/* Keeps the connection served while the notice goes out; false when it ended. */
static bool hold_notice(struct rdp_conn *c, const uint8_t *px, size_t stride, uint16_t w,
                        uint16_t h, const struct region *band)
{
	freerdp_peer *peer = c->ctx.peer;
	uint64_t end = now_ms() + NOTICE_HOLD_MS;
	bool sent = false;

	while (now_ms() < end) {
		if (!peer->CheckFileDescriptor(peer) || !send_channels(c) ||
		    rdp_output_poll(c->out, w, h) < 0)
			return false;
		if (!sent && rdp_output_can_send(c->out)) {
			if (rdp_output_send(c->out, px, stride, w, h, NULL, 0, band) < 0)
				return false;
			sent = true;
		}
		usleep(20000);
	}
	return true;
}

/*
 * The session ended under the client (shoji-render gone, or ended by
 * shojid): says why over its last picture before the connection closes.
 */
static void show_ended(struct rdp_conn *c)
{
	struct rdp_session *s = c->session;
	size_t stride, size;
	int y0, y1;

	if (!c->ended[0] || !c->activated || c->logon || !s || !rdp_session_ready(s))
		return;
	uint16_t w = rdp_session_width(s), h = rdp_session_height(s);
	const uint8_t *px = rdp_session_pixels(s, &stride);
	if (!px || !ckd_mul_size(&size, stride, h))
		return;
	uint8_t *copy = malloc(size);
	if (!copy)
		return;
	memcpy(copy, px, size);
	if (notice_draw(copy, w, h, stride, c->ended, &y0, &y1) == 0) {
		struct rect band = {0, y0, w, y1 - y0}, all = {0, 0, w, h};
		struct region reg;
		region_init(&reg);
		region_add(&reg, &band, &all, 0);
		hold_notice(c, copy, stride, w, h, &reg);
	}
	free(copy);
}

/* Sends what changed on the logon screen if the client can take it. */
static int pump_logon(struct rdp_conn *c)
{
	struct logon_screen *ls = c->logon;
	struct region changes;
	size_t stride;

	if (rdp_output_poll(c->out, logon_screen_width(ls), logon_screen_height(ls)) < 0)
		return -1;
	if (rdp_output_take_full_refresh(c->out))
		logon_screen_mark_all(ls);
	if (!rdp_output_can_send(c->out) || !logon_screen_take_changes(ls, &changes))
		return 0;
	const uint8_t *px = logon_screen_pixels(ls, &stride);
	return rdp_output_send(c->out, px, stride, logon_screen_width(ls), logon_screen_height(ls),
	                       NULL, 0, &changes);
}

/* The fields of the logon screen, to the control process: the session, or why not. */
static int logon_login(struct rdp_conn *c)
{
	rdpSettings *st = c->ctx.settings;
	char reason[CTL_MAX_TEXT + 1], user[LOGON_MAX_USER + 1], text[CTL_MAX_TEXT + 64];

	c->logon_submit = false;
	snprintf(user, sizeof(user), "%s", logon_screen_user(c->logon));
	logon_screen_message(c->logon, "確認しています… / Signing in…", false);
	if (pump_logon(c) < 0)
		return -1;
	int link = worker_authenticate(c->w, CTL_PROTO_RDP, user, logon_screen_password(c->logon),
	                               reason, sizeof(reason), AUTH_TIMEOUT_MS);
	if (link < 0) {
		log_info("%s: login of %s on the logon screen refused: %s", c->w->peer, user,
		         reason);
		if (c->w->notice) {
			show_notice(c, reason);
			return 0;
		}
		if (++c->logon_failures >= LOGON_MAX_FAILURES) {
			worker_note(c->w, CTL_NOTE_HANDSHAKE_FAILED,
			            "%d failed logins on the logon screen: disconnected",
			            c->logon_failures);
			return -1;
		}
		if (strstr(reason, "wrong user name or password"))
			snprintf(
			    text, sizeof(text), "%s",
			    "ユーザー名またはパスワードが違います / Wrong user name or password");
		else
			snprintf(text, sizeof(text), "ログインできません / %s", reason);
		logon_screen_refused(c->logon, text);
		return 0;
	}
	logon_screen_destroy(c->logon);
	c->logon = NULL;
	c->session =
	    rdp_session_create(c->w, link, (uint16_t)st->DesktopWidth, (uint16_t)st->DesktopHeight);
	if (!c->session)
		return -1;
	rdp_session_set_observer(c->session, observe_capture, c);
	set_nonblock(c->w->ctl_fd, true);
	log_info("%s: session %s attached over RDP as %s (logon screen)", c->w->peer, c->w->session,
	         user);
	return 0;
}

/*
 * Sends what changed if the client can take it and the budget allows;
 * asks render for more. While moving areas are looked for, render
 * captures at the browser's pace whatever the client's: the detector sees
 * every capture (observe_capture), and frames sent take the newest picture
 * with everything captured since the last one coalesced into it.
 */
static int pump_frames(struct rdp_conn *c)
{
	struct rdp_session *s = c->session;
	const struct rdp_cursor *cur;
	struct fbdiff_move moves[RDP_SESSION_MAX_MOVES];
	struct region changes;
	size_t stride;

	if (rdp_output_poll(c->out, rdp_session_width(s), rdp_session_height(s)) < 0)
		return -1;
	if (!rdp_session_ready(s))
		return 0;
	if (rdp_output_take_full_refresh(c->out))
		rdp_session_mark_all(s);
	if ((cur = rdp_session_take_cursor(s)) && rdp_output_cursor(c->out, cur) < 0)
		return -1;
	/*
	 * Not while a scroll waits to go out: render then coalesces the next
	 * steps of a smooth scroll into one capture, so they go as one move
	 * and not, once RDP_SESSION_MAX_MOVES are taken, as pixels.
	 */
	bool sample = rdp_output_observing(c->out) && !rdp_session_scrolling(s);
	if (!rdp_output_can_send(c->out) || !token_bucket_ready(&c->budget, now_ms())) {
		if (sample)
			rdp_session_want_frame(s);
		return 0;
	}
	/* A key was pressed or a button clicked: the video waits for the answer. */
	if (rdp_output_holds(c->out, rdp_session_changes(s), rdp_session_scrolling(s))) {
		rdp_session_want_frame(s);
		return 0;
	}
	const uint8_t *px = rdp_session_pixels(s, &stride);
	size_t nmoves = rdp_session_take_moves(s, moves, ARRAY_SIZE(moves));
	region_init(&changes);
	bool changed = rdp_session_take_changes(s, &changes);
	/* With nothing new, a moving area may have stopped: refresh it lossless. */
	if (changed || nmoves > 0 || rdp_output_busy(c->out)) {
		uint64_t t0 = now_us();
		if (rdp_output_send(c->out, px, stride, rdp_session_width(s), rdp_session_height(s),
		                    moves, nmoves, &changes) < 0)
			return -1;
		if (changed || nmoves > 0)
			worker_stats_frame(c->w, now_us() - t0);
	}
	if (sample || rdp_output_can_send(c->out))
		rdp_session_want_frame(s);
	return 0;
}

/*
 * The client asked through Display Control for another desktop size: the
 * session and the output follow, within [display] limits, the browser
 * keeps running. Waits while the logon screen is shown.
 */
static int follow_resize(struct rdp_conn *c)
{
	const struct shoji_config *cfg = c->w->cfg;
	uint16_t w, h;

	if (!c->session || !rdp_output_take_resize(c->out, &w, &h))
		return 0;
	w = (uint16_t)MAX(MIN_DESKTOP, MIN(w, cfg->display_max_width));
	h = (uint16_t)MAX(MIN_DESKTOP, MIN(h, cfg->display_max_height));
	if (w == rdp_session_width(c->session) && h == rdp_session_height(c->session))
		return 0;
	if (!rdp_output_can_resize(c->out)) {
		log_info("%s: the client asked for %ux%u but cannot change size", c->w->peer, w, h);
		return 0;
	}
	log_info("%s: display control: desktop %ux%u -> %ux%u", c->w->peer,
	         rdp_session_width(c->session), rdp_session_height(c->session), w, h);
	worker_note(c->w, CTL_NOTE_RESIZE, "%ux%u", w, h);
	if (rdp_session_resize(c->session, w, h) < 0 || rdp_output_resize(c->out, w, h) < 0)
		return -1;
	return 0;
}

static DWORD gather_handles(struct rdp_conn *c, HANDLE *h, DWORD cap, HANDLE ctl, HANDLE link)
{
	freerdp_peer *peer = c->ctx.peer;
	DWORD n = peer->GetEventHandles(peer, h, cap - 5);

	if (n == 0)
		return 0;
	h[n++] = WTSVirtualChannelManagerGetEventHandle(c->vcm);
	if (c->clip)
		h[n++] = rdp_clip_event(c->clip);
	h[n++] = rdp_output_event(c->out);
	h[n++] = ctl;
	if (link)
		h[n++] = link;
	return n;
}

/*
 * What the transport read and wrote since the last round: metrics, the
 * audit's channels and [display] max_kbps.
 */
static void count_bytes(struct rdp_conn *c)
{
	UINT64 in = 0;
	ULONG sent = freerdp_get_transport_sent(&c->ctx, TRUE);

	freerdp_get_stats(c->ctx.rdp, &in, NULL, NULL, NULL);
	worker_stats_bytes(c->w, sent);
	rdp_bytes_account(&c->bytes, c->activated, in, sent);
	token_bucket_charge(&c->budget, sent, now_ms());
}

/*
 * Opens the clipboard channel once the session is attached and the client
 * activated, when [policy] lets text cross either way and the client
 * listed cliprdr; otherwise it is never opened and nothing of the
 * clipboard is read.
 */
static void open_clipboard(struct rdp_conn *c)
{
	const struct shoji_config *cfg = c->w->cfg;

	if (c->clip_tried || !c->activated || !c->session || c->logon)
		return;
	c->clip_tried = true;
	if (cfg->policy_clipboard_to_browser != SHOJI_CLIPBOARD_TEXT &&
	    cfg->policy_clipboard_to_terminal != SHOJI_CLIPBOARD_TEXT)
		return;
	if (!WTSVirtualChannelManagerIsChannelJoined(c->vcm, "cliprdr")) {
		log_info("%s: the client has no clipboard channel", c->w->peer);
		return;
	}
	c->clip = rdp_clip_create(c->vcm, c->w, c->session);
}

/* The browser's clipboard text, if any came: to the client when [policy] allows it. */
static void browser_clipboard(struct rdp_conn *c)
{
	size_t len;
	const uint8_t *text = c->session && c->clip_tried
	                          ? rdp_session_take_clipboard(c->session, &len)
	                          : NULL; /* until then it waits in the session */

	if (!text)
		return;
	if (c->w->cfg->policy_clipboard_to_terminal != SHOJI_CLIPBOARD_TEXT) {
		log_warn("the session sent clipboard text though [policy] clipboard_to_terminal "
		         "is off; dropped");
		worker_note(c->w, CTL_NOTE_CLIPBOARD, "to_terminal %zu 0 refused", len);
	} else if (!c->clip) {
		worker_note(c->w, CTL_NOTE_CLIPBOARD, "to_terminal %zu 0 refused", len);
	} else {
		rdp_clip_browser_text(c->clip, text, len);
	}
}

/* Serves the connection; true if the client went away, false if this side ends it. */
static bool run(struct rdp_conn *c)
{
	freerdp_peer *peer = c->ctx.peer;
	uint64_t deadline = now_ms() + CONNECT_TIMEOUT_MS;
	HANDLE ctl = CreateFileDescriptorEvent(NULL, FALSE, FALSE, c->w->ctl_fd, WINPR_FD_READ);
	HANDLE link = NULL;
	HANDLE h[MAXIMUM_WAIT_OBJECTS];
	bool client_gone = false;

	while (ctl) {
		if (c->session && !link)
			link = CreateFileDescriptorEvent(NULL, FALSE, FALSE,
			                                 rdp_session_fd(c->session), WINPR_FD_READ);
		DWORD n = gather_handles(c, h, ARRAY_SIZE(h), ctl, link);
		/* A spent budget, a frame waiting for its time: wake when it may go. */
		uint64_t owed = token_bucket_wait_ms(&c->budget, now_ms());
		DWORD slice = owed ? (DWORD)MIN((uint64_t)WAIT_SLICE_MS, owed) : WAIT_SLICE_MS;
		int64_t frame = c->session ? rdp_session_frame_wait_ms(c->session) : -1;
		if (frame >= 0)
			slice = (DWORD)MIN((int64_t)slice, frame);
		if (n == 0 || WaitForMultipleObjects(n, h, FALSE, slice) == WAIT_FAILED)
			break;
		if (!peer->CheckFileDescriptor(peer) || !send_channels(c)) {
			client_gone = true;
			break;
		}
		if (!c->activated && now_ms() >= deadline) {
			log_info("%s: not connected within %d s", c->w->peer,
			         CONNECT_TIMEOUT_MS / 1000);
			break;
		}
		if (c->logon && now_ms() >= c->logon_deadline) {
			log_info("%s: no login on the logon screen within %d s", c->w->peer,
			         LOGON_TIMEOUT_MS / 1000);
			worker_note(c->w, CTL_NOTE_HANDSHAKE_FAILED,
			            "no login on the logon screen in time: disconnected");
			break;
		}
		if (c->notice_until && now_ms() >= c->notice_until) {
			log_info("%s: notice shown; disconnecting", c->w->peer);
			break;
		}
		if (c->logon && c->logon_submit && c->activated && !c->notice_until &&
		    logon_login(c) < 0)
			break;
		if (!control_says_go_on(c))
			break;
		if (c->session && rdp_session_read(c->session) < 0) {
			snprintf(c->ended, sizeof(c->ended), "%s",
			         "ブラウザのセッションが終了しました。もう一度接続してください。\n"
			         "The browser session has ended. Please connect again.");
			break;
		}
		if (c->clip && rdp_clip_poll(c->clip) < 0)
			break;
		open_clipboard(c);
		browser_clipboard(c);
		if (c->activated && (c->logon ? pump_logon(c) : pump_frames(c)) < 0)
			break;
		if (c->activated && follow_resize(c) < 0)
			break;
		if (c->activated)
			note_channels(c);
		count_bytes(c);
		worker_stats_flush(c->w, false);
	}
	count_bytes(c);
	worker_stats_flush(c->w, true);
	if (!client_gone)
		show_ended(c);
	if (link)
		CloseHandle(link);
	if (ctl)
		CloseHandle(ctl);
	return client_gone;
}

static int rdp_serve(struct worker *w)
{
	struct rdp_keys *k = w->fe_data;
	freerdp_peer *peer = NULL;
	struct watchdog wd = {0};
	int rc = 1;

	if (!k || check_request(w) < 0)
		goto out;
	watchdog_start(&wd, w, CONNECT_TIMEOUT_MS + 5000);
	/* FreeRDP's own log: warnings and errors, more with [server] log_level = debug. */
	if (!getenv("WLOG_LEVEL"))
		WLog_SetLogLevel(WLog_GetRoot(),
		                 shoji_log_get_level() >= SHOJI_LOG_DEBUG ? WLOG_INFO : WLOG_WARN);
	WTSRegisterWtsApiFunctionTable(FreeRDP_InitWtsApi());
	winpr_InitializeSSL(WINPR_SSL_INIT_DEFAULT);
	peer = freerdp_peer_new(w->client_fd);
	if (!peer)
		goto out;
	peer->ContextSize = sizeof(struct rdp_conn);
	peer->ContextNew = on_context_new;
	peer->ContextFree = on_context_free;
	peer->ContextExtra = w;
	if (!freerdp_peer_context_new(peer)) {
		freerdp_peer_free(peer);
		peer = NULL;
		goto out;
	}
	struct rdp_conn *c = conn_of(peer->context);
	bool client_gone = true;
	c->watchdog = &wd;
	if (configure(peer, k, w->cfg)) {
		client_gone = run(c);
		rc = 0;
	}
	if (!c->activated && !c->refused && c->nla_user[0])
		worker_note(
		    w, CTL_NOTE_HANDSHAKE_FAILED,
		    "NLA logon of %s failed (wrong password, no NT hash, or the client left)",
		    c->nla_user);
	else if (!c->activated && !c->refused)
		worker_note(w, CTL_NOTE_HANDSHAKE_FAILED,
		            "the RDP connection ended before activation (TLS or protocol failure)");
	/* Ended here (kicked, the session gone): tell the client before closing. */
	if (c->activated && !client_gone)
		peer->Close(peer);
	peer->Disconnect(peer);
	if (peer->settings->PrivateKeyContent)
		OPENSSL_cleanse(peer->settings->PrivateKeyContent,
		                strlen(peer->settings->PrivateKeyContent));
	freerdp_peer_context_free(peer);
	freerdp_peer_free(peer);
out:
	watchdog_stop(&wd);
	keys_free(k);
	w->fe_data = NULL;
	return rc;
}

const struct frontend rdp_frontend = {
    .name = "rdp",
    .protocol = CTL_PROTO_RDP,
    .prepare = rdp_prepare,
    .serve = rdp_serve,
};
