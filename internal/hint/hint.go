// Package hint names the fix for a broken chain: the runtime of the local
// process that split a trace, told from its executable (runtime.go), and
// the stable code of what to change in it, given how the trace split and
// over what protocol.
//
// Codes are part of the report's contract: a code, once published, keeps
// its meaning; a new fix gets a new code.
package hint

// Code names a fix. The zero Code is no hint (nothing broken).
type Code string

// The codes. README's table lists them with their words.
const (
	// NodeContextBind: Node.js lost the async context between the receipt
	// and the send.
	NodeContextBind Code = "node.context_bind"
	// GoPassCtx: a Go send made with a context that is not the request's.
	GoPassCtx Code = "go.pass_ctx"
	// JavaContextWrap: a JVM task run on a thread the context did not
	// follow.
	JavaContextWrap Code = "java.context_wrap"
	// PythonCopyContext: CPython work run in a thread or callback without
	// the caller's contextvars.
	PythonCopyContext Code = "python.copy_context"
	// KafkaExtract: a consumer that handles records without extracting
	// their context.
	KafkaExtract Code = "kafka.extract_headers"
	// KafkaInject: a producer that sends records without context.
	KafkaInject Code = "kafka.inject_headers"
	// HTTPInject: an HTTP client that sends requests without context.
	HTTPInject Code = "http.inject_headers"
	// CodeUnknown: a new root by a runtime propwatch does not know.
	CodeUnknown Code = "unknown"
)

// Reasons a chain breaks, as the report names them (report.ChainNewRoot
// and report.ChainDropped).
const (
	NewRoot = "new_root"
	Dropped = "dropped"
)

// ProtocolKafka is the protocol of Kafka pairs (observe.ProtocolKafka).
const ProtocolKafka = "kafka"

// Sender is what is known of the service that broke a chain.
type Sender struct {
	// Runtime of its processes (Mixed when they differ).
	Runtime Runtime
	// KafkaOnly: every traced input it received was a Kafka record, so
	// the context to continue was in a record's headers.
	KafkaOnly bool
}

// For is the fix for a chain that broke for reason (NewRoot or Dropped) on
// a pair of protocol whose sender is s; "" for another reason.
//
// A send without context (Dropped) is a propagation fix whatever the
// runtime: the client or producer does not inject, or something between
// strips what it did. A send with a fresh trace (NewRoot) lost the context
// inside the process: where the input was only Kafka records, the records'
// context was never extracted; otherwise the runtime's own way of carrying
// context across threads, tasks and callbacks was not followed.
func For(s Sender, protocol, reason string) Code {
	switch reason {
	case Dropped:
		if protocol == ProtocolKafka {
			return KafkaInject
		}
		return HTTPInject
	case NewRoot:
		if s.KafkaOnly {
			return KafkaExtract
		}
		switch s.Runtime {
		case Node:
			return NodeContextBind
		case Go:
			return GoPassCtx
		case JVM:
			return JavaContextWrap
		case Python:
			return PythonCopyContext
		}
		return CodeUnknown
	}
	return ""
}

// words are what each code says in a table cell; README's table says it
// in a sentence.
var words = map[Code]string{
	NodeContextBind:   "context.bind/with around callbacks",
	GoPassCtx:         "pass ctx into goroutines",
	JavaContextWrap:   "Context.wrap or instrumented executor",
	PythonCopyContext: "contextvars.copy_context for threads",
	KafkaExtract:      "extract record headers at consumer",
	KafkaInject:       "inject context into record headers",
	HTTPInject:        "instrument client / inject headers",
	CodeUnknown:       "carry context to the send",
}

// Words is what the code says in a few words (at most 40 bytes, for the
// live view); "" for a code it does not know.
func (c Code) Words() string { return words[c] }

// Codes lists every code, in the README's order.
func Codes() []Code {
	return []Code{NodeContextBind, GoPassCtx, JavaContextWrap, PythonCopyContext, KafkaExtract, KafkaInject, HTTPInject, CodeUnknown}
}
