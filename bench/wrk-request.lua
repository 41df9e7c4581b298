-- The request bench/overhead.sh and bench/interleave.py drive nginx with:
-- what an instrumented service sends, W3C traceparent and tracestate and
-- baggage of four members (105 bytes) with no PII, the common case. The
-- Host is not resolvable (RFC 2606): a request whose server propwatch could
-- not name shows under it instead of blending into other loopback pairs.
wrk.method = "GET"
wrk.path = "/api/v1/cart?id=42"
wrk.headers["Host"] = "propwatch-bench.invalid"
wrk.headers["User-Agent"] = "propwatch-bench/1"
wrk.headers["Accept"] = "*/*"
wrk.headers["traceparent"] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
wrk.headers["tracestate"] = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
wrk.headers["baggage"] = "tenant.id=acme-corp,session.region=eu-west-1,feature.flags=new-checkout%3Bdark-mode,request.priority=high"
