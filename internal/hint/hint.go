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

// text is what a code says: short for a table cell, long for a line that
// has room.
type text struct{ short, long string }

var texts = map[Code]text{
	NodeContextBind: {"context.bind/with around callbacks",
		"Node.js lost the request's context before sending: wrap callbacks in context.bind(context.active(), fn) or run them in context.with(ctx, fn) around setTimeout, setImmediate, queueMicrotask and callback APIs"},
	GoPassCtx: {"pass ctx into goroutines",
		"Go sent with a context that is not the request's: pass the request's ctx into goroutines and calls (http.NewRequestWithContext(ctx, ...); context.WithoutCancel(ctx) to outlive the request), never context.Background()"},
	JavaContextWrap: {"Context.wrap or instrumented executor",
		"JVM ran the send on a thread the context did not follow: wrap tasks in Context.current().wrap(runnable) or use an instrumented executor (Context.taskWrapping(executor))"},
	PythonCopyContext: {"contextvars.copy_context for threads",
		"CPython ran the send in a thread or callback without the caller's context: run it with contextvars.copy_context().run(fn, ...) or pass the context explicitly"},
	KafkaExtract: {"extract record headers at consumer",
		"Kafka consumer handled records without their context: propagator.extract the record headers and make that context current while handling the record"},
	KafkaInject: {"inject context into record headers",
		"Kafka producer sent records without context: propagator.inject the current context into each record's headers, or use an instrumented producer"},
	HTTPInject: {"instrument client / inject headers",
		"HTTP client sent without context: instrument it or propagator.inject the current context into the request headers (or a proxy between strips them)"},
	CodeUnknown: {"carry context to the send",
		"runtime not identified: the context was lost between receiving and sending; carry it into the callback, thread or task that sends"},
}

// Short is the code's words for a table cell, at most 40 characters; ""
// for a code it does not know.
func (c Code) Short() string { return texts[c].short }

// Words is the code's words in a sentence; "" for a code it does not know.
func (c Code) Words() string { return texts[c].long }

// Codes lists every code, in the README's order.
func Codes() []Code {
	return []Code{NodeContextBind, GoPassCtx, JavaContextWrap, PythonCopyContext, KafkaExtract, KafkaInject, HTTPInject, CodeUnknown}
}
