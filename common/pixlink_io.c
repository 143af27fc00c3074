/*
 * Pixel-link transport: one message per SOCK_SEQPACKET packet, descriptors
 * with SCM_RIGHTS, and the sealed memfd that carries the framebuffer.
 * Handles untrusted input: yes. pixlink_recv() receives whatever the peer
 * sends, so it refuses and closes descriptors it did not expect, and
 * pixlink_fb_fd_check() decides whether a received memfd is safe to map.
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pixlink.h"
#include "util.h"

/*
 * Room for more descriptors than we accept, so that a peer sending a few
 * too many is seen and refused rather than silently truncated.
 */
#define RECV_MAX_FDS 8

#define REQUIRED_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

int pixlink_send(int sock, const uint8_t *buf, size_t len, int fd)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	ssize_t n;

	if (len == 0 || len > PIXLINK_MAX_MSG) {
		errno = EMSGSIZE;
		return -1;
	}
	if (fd >= 0) {
		memset(&control, 0, sizeof(control));
		mh.msg_control = control.buf;
		mh.msg_controllen = sizeof(control.buf);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	do {
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if ((size_t)n != len) {
		/* Cannot happen on SOCK_SEQPACKET; on a stream it would split a message. */
		errno = EMSGSIZE;
		return -1;
	}
	return 0;
}

int pixlink_send_msg(int sock, const struct pixlink_msg *msg, int fd)
{
	/* Every message but CURSOR fits in a small buffer on the stack. */
	uint8_t small[PIXLINK_HEADER_LEN + 12 + 8 * PIXLINK_MAX_RECTS];
	uint8_t *buf = small;
	size_t cap = sizeof(small);
	int ret = -1;

	if (msg->type == PIXLINK_CURSOR) {
		buf = malloc(PIXLINK_MAX_MSG);
		if (!buf)
			return -1;
		cap = PIXLINK_MAX_MSG;
	}
	size_t len = pixlink_encode(msg, buf, cap);
	if (len == 0) {
		errno = EINVAL;
		goto out;
	}
	ret = pixlink_send(sock, buf, len, fd);
out:
	if (buf != small) {
		int saved = errno;
		free(buf);
		errno = saved;
	}
	return ret;
}

/*
 * Collects the descriptors in mh's control messages into fds. Returns the
 * number of descriptors, or -1 if a control message is not SCM_RIGHTS (the
 * descriptors seen so far are still returned in fds so they can be closed).
 */
static int collect_fds(struct msghdr *mh, int *fds, int *nfds)
{
	int bad = 0;

	*nfds = 0;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) {
			bad = -1;
			continue;
		}
		size_t n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n && *nfds < RECV_MAX_FDS; i++)
			memcpy(&fds[(*nfds)++], CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
	}
	return bad;
}

ssize_t pixlink_recv(int sock, uint8_t *buf, size_t cap, int *fd)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(RECV_MAX_FDS * sizeof(int))];
	} control;
	struct iovec iov = {.iov_base = buf, .iov_len = cap};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	int fds[RECV_MAX_FDS], nfds;
	ssize_t n;

	*fd = -1;
	do {
		mh.msg_control = control.buf;
		mh.msg_controllen = sizeof(control.buf);
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;

	int bad = collect_fds(&mh, fds, &nfds);
	if (bad < 0 || nfds > 1 || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
	    (n == 0 && nfds > 0)) {
		for (int i = 0; i < nfds; i++)
			close(fds[i]);
		errno = EBADMSG;
		return -1;
	}
	if (nfds == 1)
		*fd = fds[0];
	return n;
}

int pixlink_fb_fd_check(int fd, const struct pixlink_framebuffer *fb)
{
	struct stat st;

	if (!pixlink_fb_geometry_ok(fb, PIXLINK_MAX_DIM, PIXLINK_MAX_DIM)) {
		errno = EINVAL;
		return -1;
	}
	if (fd < 0) {
		errno = EBADF;
		return -1;
	}
	int seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0) {
		/* Pipes, devices and files outside shmem and hugetlbfs have no seals. */
		if (errno != EBADF)
			errno = ENOTSUP;
		return -1;
	}
	if ((seals & REQUIRED_SEALS) != REQUIRED_SEALS) {
		errno = EPERM;
		return -1;
	}
	/* Only now, with SHRINK and GROW in place, is the size final. */
	if (fstat(fd, &st) < 0)
		return -1;
	if (!S_ISREG(st.st_mode)) {
		errno = ENOTSUP;
		return -1;
	}
	if (st.st_size < 0 || (uint64_t)st.st_size != fb->size) {
		errno = ERANGE;
		return -1;
	}
	return 0;
}

int pixlink_fb_create(size_t size)
{
	int fd, saved;

	if (size == 0 || size > (size_t)INT64_MAX) {
		errno = EINVAL;
		return -1;
	}
	fd = memfd_create("shoji-fb", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -1;
	if (ftruncate(fd, (off_t)size) < 0)
		goto err_close;
	if (fcntl(fd, F_ADD_SEALS, REQUIRED_SEALS) < 0)
		goto err_close;
	return fd;

err_close:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}
