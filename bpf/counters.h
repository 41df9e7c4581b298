/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * counters.h: what the capture could not do, counted instead of ignored.
 * Lost events (enum lost_reason, event.h) cost Go a chunk it never sees;
 * failed map updates (enum error_site, event.h) cost state: a head split across
 * calls that is missed, a Kafka response not recognised, a loopback sender
 * left unnamed. Go exports both (Loader.Lost, Loader.KernelErrors).
 *
 * Deletes are not counted: -ENOENT is their normal outcome when an LRU map
 * evicted the entry or Go's HeadDone removed it first.
 */
#ifndef PROPWATCH_COUNTERS_H
#define PROPWATCH_COUNTERS_H

#include "kernel.h"
#include "event.h"
#include "maps.h"
#include <bpf/bpf_helpers.h>

/* Count one lost event. */
static __always_inline void count_lost(__u32 reason)
{
	__u64 *n = bpf_map_lookup_elem(&pw_lost, &reason);

	if (n)
		*n += 1;
}

/* Count one failure at site. */
static __always_inline void count_error(__u32 site)
{
	__u64 *n = bpf_map_lookup_elem(&pw_errors, &site);

	if (n)
		*n += 1;
}

/* update_or_count updates a map and counts a failure at site. */
#define update_or_count(map, key, value, site)                        \
	do {                                                          \
		if (bpf_map_update_elem(map, key, value, BPF_ANY))    \
			count_error(site);                            \
	} while (0)

#endif /* PROPWATCH_COUNTERS_H */
