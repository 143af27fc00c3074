/* Listening sockets (see listen.h). */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "listen.h"

/* Splits "HOST:PORT" or "[V6]:PORT" into host and port strings. */
static int split(const char *entry, char *host, size_t hlen, char *port, size_t plen)
{
	const char *colon;

	if (entry[0] == '[') {
		const char *end = strchr(entry, ']');
		if (!end || end[1] != ':' || (size_t)(end - entry - 1) >= hlen)
			return -1;
		memcpy(host, entry + 1, (size_t)(end - entry - 1));
		host[end - entry - 1] = '\0';
		colon = end + 1;
	} else {
		colon = strrchr(entry, ':');
		if (!colon || (size_t)(colon - entry) >= hlen)
			return -1;
		memcpy(host, entry, (size_t)(colon - entry));
		host[colon - entry] = '\0';
	}
	snprintf(port, plen, "%s", colon + 1);
	return 0;
}

int listen_open(const char *entry, char *err, size_t errlen)
{
	char host[128], port[16];
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *ai = NULL;

	if (split(entry, host, sizeof(host), port, sizeof(port)) < 0) {
		snprintf(err, errlen, "listen address '%s' is not HOST:PORT", entry);
		return -1;
	}
	int rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
	if (rc != 0) {
		snprintf(err, errlen, "listen address '%s': %s", entry, gai_strerror(rc));
		return -1;
	}
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	}
	if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 128) < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", entry, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

void peer_name(int fd, char *out, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[INET6_ADDRSTRLEN] = "?";
	int port = 0;

	if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *in = (struct sockaddr_in *)&ss;
			inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
			port = ntohs(in->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
			inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
			port = ntohs(in6->sin6_port);
		}
	}
	snprintf(out, len, "%s:%d", host, port);
}
