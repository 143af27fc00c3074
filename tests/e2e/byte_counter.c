/* A counting TCP relay for bandwidth bounds in end-to-end tests (see byte_counter.h). */
#include "byte_counter.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <unistd.h>

static int copy_some(int from, int to, atomic_ullong *count)
{
	char buf[65536];
	ssize_t n = read(from, buf, sizeof(buf));

	if (n <= 0)
		return -1;
	for (ssize_t off = 0; off < n;) {
		ssize_t w = write(to, buf + off, (size_t)(n - off));
		if (w <= 0)
			return -1;
		off += w;
	}
	if (count)
		atomic_fetch_add(count, (unsigned long long)n);
	return 0;
}

static void *relay(void *arg)
{
	struct byte_counter *k = arg;
	struct pollfd l = {.fd = k->listen_fd, .events = POLLIN};
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)k->target)};
	int client = -1, server = -1;

	while (!atomic_load(&k->stop) && poll(&l, 1, 100) == 0)
		;
	if (atomic_load(&k->stop) || (client = accept(k->listen_fd, NULL, NULL)) < 0)
		return NULL;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	server = socket(AF_INET, SOCK_STREAM, 0);
	if (server < 0 || connect(server, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto out;
	while (!atomic_load(&k->stop)) {
		struct pollfd p[2] = {{.fd = client, .events = POLLIN},
		                      {.fd = server, .events = POLLIN}};
		if (poll(p, 2, 100) < 0)
			break;
		if (p[0].revents && copy_some(client, server, NULL) < 0)
			break;
		if (p[1].revents && copy_some(server, client, &k->down) < 0)
			break;
	}
out:
	close(client);
	if (server >= 0)
		close(server);
	return NULL;
}

int byte_counter_start(struct byte_counter *k, int target)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	k->target = target;
	atomic_init(&k->down, 0);
	atomic_init(&k->stop, false);
	k->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	if (k->listen_fd < 0)
		return -1;
	if (bind(k->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(k->listen_fd, 1) < 0 ||
	    getsockname(k->listen_fd, (struct sockaddr *)&sa, &len) < 0 ||
	    pthread_create(&k->thread, NULL, relay, k) != 0) {
		close(k->listen_fd);
		return -1;
	}
	k->port = ntohs(sa.sin_port);
	return 0;
}

uint64_t byte_counter_down(struct byte_counter *k)
{
	return atomic_load(&k->down);
}

void byte_counter_stop(struct byte_counter *k)
{
	atomic_store(&k->stop, true);
	pthread_join(k->thread, NULL);
	close(k->listen_fd);
}
