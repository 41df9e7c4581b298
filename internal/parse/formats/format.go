package formats

// Format is a bitmask of propagation formats.
type Format uint16

// The propagation formats. W3C is never produced by this package; it exists
// so that a caller can describe every format a request carries in one mask.
const (
	// W3C is traceparent/tracestate (judged by package w3c).
	W3C Format = 1 << iota
	// B3 is Zipkin's b3 single header and X-B3-* multiple headers.
	B3
	// Jaeger is uber-trace-id.
	Jaeger
	// XRay is AWS X-Amzn-Trace-Id.
	XRay
	// Datadog is x-datadog-*.
	Datadog
	// GRPC is the OpenCensus binary context in grpc-trace-bin.
	GRPC
	// CloudTrace is Google X-Cloud-Trace-Context.
	CloudTrace
	// SkyWalking is Apache SkyWalking sw8.
	SkyWalking
	// OpenTracing is the basictracer ot-tracer-* headers.
	OpenTracing
	// Sentry is sentry-trace.
	Sentry

	numFormats = iota
)

var formatNames = [numFormats]string{"w3c", "b3", "jaeger", "xray", "datadog", "grpc", "gcp", "sw8", "ot", "sentry"}

// String names a single format: "w3c", "b3", "jaeger", "xray", "datadog",
// "grpc", "gcp", "sw8", "ot" or "sentry". It returns "" for zero, for an
// unknown bit and for a mask of several formats (use AppendNames).
func (f Format) String() string {
	if f == 0 || f&(f-1) != 0 {
		return ""
	}
	for i := range numFormats {
		if f == 1<<i {
			return formatNames[i]
		}
	}
	return ""
}

// AppendNames appends the names of the formats in f, in the constant order,
// to dst. It allocates only when dst must grow; unknown bits are ignored.
func (f Format) AppendNames(dst []string) []string {
	for i := range numFormats {
		if f&(1<<i) != 0 {
			dst = append(dst, formatNames[i])
		}
	}
	return dst
}
