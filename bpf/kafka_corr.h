/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * kafka_corr.h: Kafka requests matched to their responses. A response
 * carries only its frame size and its request's correlation id, so it
 * cannot be told from any other bytes on its own: every request but a
 * Produce is remembered (pw_kreqs) with the stream its response comes
 * back on, and a chunk on that stream that starts with a frame size and a
 * remembered id is that response. Fetch and Metadata responses are copied
 * out (records, topic ids); the others are only told apart.
 */
#ifndef PROPWATCH_KAFKA_CORR_H
#define PROPWATCH_KAFKA_CORR_H

#include "kernel.h"
#include "counters.h"
#include "kafka.h"
#include "maps.h"
#include "stream.h"
#include "work.h"
#include <bpf/bpf_helpers.h>

/*
 * match_reply looks the correlation id of a possible Kafka response (its
 * first bytes in word) up among the requests awaited on the chunk's
 * stream, and consumes the match. It returns V_START with w's api fields
 * set, V_SKIP for a response that is not copied out, or V_DROP.
 */
static __always_inline int match_reply(struct work *w, __u64 word)
{
	struct kreq *r;
	__s16 api;

	w->kk.tgid = w->key.tgid;
	w->kk.fd = w->key.fd;
	w->kk.dir = w->key.dir;
	w->kk.corr = kafka_resp_corr(word);
	r = bpf_map_lookup_elem(&pw_kreqs, &w->kk);
	if (!r)
		return V_DROP;
	api = r->api_key;
	w->api_key = api;
	w->api_version = r->api_version;
	bpf_map_delete_elem(&pw_kreqs, &w->kk);
	if (api != KAFKA_API_FETCH && api != KAFKA_API_METADATA)
		return V_SKIP;
	return V_START;
}

/*
 * track remembers a Kafka request (its first bytes in word, its
 * correlation id in w->corr) so that its response is recognised on the
 * other direction of the same stream, and marks that direction as
 * awaiting responses.
 */
static __always_inline void track(struct work *w, __u64 word)
{
	struct head_state *st;
	__u64 ino = w->si.ino;

	w->rkey.tgid = w->key.tgid;
	w->rkey.fd = w->key.fd;
	w->rkey.dir = w->key.dir ^ 1;
	w->rkey.tls = RELOAD(w->tls); /* a TLS request is answered in plaintext too */
	w->kk.tgid = w->key.tgid;
	w->kk.fd = w->key.fd;
	w->kk.dir = w->rkey.dir;
	w->kk.corr = w->corr;
	w->kr.api_key = kafka_api_key(word);
	w->kr.api_version = kafka_api_version(word);
	update_or_count(&pw_kreqs, &w->kk, &w->kr, ERR_KAFKA_REQUEST);

	st = bpf_map_lookup_elem(&pw_heads, &w->rkey);
	if (st && st->ino == ino) {
		st->kafka = 1;
	} else {
		set_state(w, ino, 0, 0, 0, 0, 0, 1);
		update_or_count(&pw_heads, &w->rkey, &w->hs, ERR_KAFKA_AWAIT);
	}
	note_heads(w, w->rkey.dir, 1);
}

#endif /* PROPWATCH_KAFKA_CORR_H */
