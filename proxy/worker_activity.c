/*
 * worker_activity (see worker.h): the input heartbeat a worker sends over
 * its control link. In the proxy library rather than worker.c so that the
 * front-end cores that call it link into unit tests on their own. No
 * untrusted input.
 */
#include "autoconfig.h"

#include "ctl.h"
#include "util.h"
#include "worker.h"

void worker_activity(struct worker *w)
{
	uint64_t now = now_ms(), last = __atomic_load_n(&w->activity_ms, __ATOMIC_RELAXED);

	if (w->ctl_fd < 0 || (last && now - last < CTL_ACTIVITY_INTERVAL_MS))
		return;
	/* One thread wins the exchange; the others see it was just sent. */
	if (!__atomic_compare_exchange_n(&w->activity_ms, &last, now, false, __ATOMIC_RELAXED,
	                                 __ATOMIC_RELAXED))
		return;
	struct ctl_msg m = {.type = CTL_ACTIVITY};
	ctl_send(w->ctl_fd, &m, -1);
}
