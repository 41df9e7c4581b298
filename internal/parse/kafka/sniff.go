package kafka

import (
	"encoding/binary"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// API keys of the frames propwatch reads
// (https://kafka.apache.org/protocol#protocol_api_keys), as kmsg numbers
// them. The kernel's capture sniffs the same keys (KAFKA_API_* in
// bpf/sniff.h), and loader.Event.KafkaAPIKey of a response is one of them.
const (
	APIProduce  = int16(kmsg.Produce)
	APIFetch    = int16(kmsg.Fetch)
	APIMetadata = int16(kmsg.Metadata)
)

// MaxRequestSize is the largest size field SniffRequest accepts. It is the
// broker's default socket.request.max.bytes (100 MiB): a broker closes the
// connection on anything larger, so a larger value is not a Kafka request.
const MaxRequestSize = 100 << 20

// MaxResponseSize is the largest size field ParseResponseHeader accepts.
// Responses have no broker-side cap, but a Fetch response is bounded by the
// consumer's fetch.max.bytes (50 MiB by default) plus overhead; 1 GiB leaves
// room for generous settings while still rejecting text as a length.
const MaxResponseSize = 1 << 30

// MaxClientID is the longest client_id SniffRequest accepts. Kafka itself
// allows 32767 bytes, but real ids are short ("kgo", "consumer-group-1",
// "producer-1"); a long run of printable bytes after a plausible header is
// far more often text that happens to fit than a real client id.
const MaxClientID = 1024

// maxClientIDKept bounds RequestHeader.ClientID so that a caller that logs
// it logs a bounded string.
const maxClientIDKept = 255

// maxHeaderTags bounds the tagged fields read in a request or response
// header. Kafka defines none for requests and one (client-side only) in
// practice; more than a handful means the bytes are not a header.
const maxHeaderTags = 8

// minRequestSize is the smallest size field of any request: api_key,
// api_version, correlation_id and a null client_id.
const minRequestSize = 2 + 2 + 4 + 2

// Status says what the first bytes of a chunk are.
type Status uint8

const (
	// NotKafka: the bytes cannot start a Kafka frame of the kind asked for.
	NotKafka Status = iota
	// NeedMore: every byte seen fits, but there are too few to tell.
	NeedMore
	// Request: a plausible request header was read whole.
	Request
	// Response: a plausible response header was read whole.
	Response
)

// String names the status for humans and metric labels.
func (s Status) String() string {
	switch s {
	case NeedMore:
		return "need_more"
	case Request:
		return "request"
	case Response:
		return "response"
	default:
		return "not_kafka"
	}
}

// RequestHeader is a parsed Kafka request header (versions 1 and 2).
type RequestHeader struct {
	// Size is the frame's size field: the bytes that follow it.
	Size int32
	// APIKey and APIVersion say how to read the body (and the response).
	APIKey     int16
	APIVersion int16
	// CorrelationID pairs the request with its response on the
	// connection.
	CorrelationID int32
	// ClientIDLen is the client_id's length, -1 when it is null.
	ClientIDLen int
	// ClientID aliases the client_id bytes of the sniffed input, cut to
	// its first 255 bytes. Client ids name applications, not people; they
	// are bounded so that a caller can put them in reports.
	ClientID []byte
	// Flexible is set when the header carries tagged fields (KIP-482),
	// which is also when the body uses compact encodings.
	Flexible bool
	// HeaderLen counts the header's bytes including the size field: the
	// body starts at b[HeaderLen:].
	HeaderLen int
}

// FrameLen is the length of the whole frame, size field included.
func (h RequestHeader) FrameLen() int { return 4 + int(h.Size) }

// BodyLen is the length of the body that follows the header.
func (h RequestHeader) BodyLen() int { return h.FrameLen() - h.HeaderLen }

// ResponseHeader is a parsed Kafka response header (versions 0 and 1).
type ResponseHeader struct {
	// Size is the frame's size field: the bytes that follow it.
	Size int32
	// CorrelationID is the id of the request this answers.
	CorrelationID int32
	// HeaderLen counts the header's bytes including the size field.
	HeaderLen int
}

// FrameLen is the length of the whole frame, size field included.
func (h ResponseHeader) FrameLen() int { return 4 + int(h.Size) }

// BodyLen is the length of the body that follows the header.
func (h ResponseHeader) BodyLen() int { return h.FrameLen() - h.HeaderLen }

// apiInfo is what the sniffer needs to know about one API key. It is built
// once from kmsg so that the hot path neither allocates (kmsg.RequestForKey
// does) nor goes out of step with the kmsg version the module pins.
type apiInfo struct {
	known      bool
	maxVersion int16
	// reqFlex and respFlex have bit v set when version v uses the
	// flexible request or response header.
	reqFlex, respFlex uint64
}

var apis = buildAPIs()

func buildAPIs() (t [kmsg.MaxKey + 1]apiInfo) {
	for k := range t {
		req := kmsg.RequestForKey(int16(k))
		resp := kmsg.ResponseForKey(int16(k))
		if req == nil || resp == nil {
			continue
		}
		info := apiInfo{known: true, maxVersion: req.MaxVersion()}
		if info.maxVersion > 63 {
			// The bit sets hold 64 versions; no API is near that.
			info.maxVersion = 63
		}
		for v := int16(0); v <= info.maxVersion; v++ {
			req.SetVersion(v)
			resp.SetVersion(v)
			if req.IsFlexible() {
				info.reqFlex |= 1 << v
			}
			// ApiVersions responses always use header v0, even when the
			// body is flexible: a client must be able to read the answer
			// before it knows which versions the broker speaks (KIP-511).
			if resp.IsFlexible() && k != int((*kmsg.ApiVersionsResponse)(nil).Key()) {
				info.respFlex |= 1 << v
			}
		}
		t[k] = info
	}
	return t
}

func apiFor(key, version int16) (apiInfo, bool) {
	if key < 0 || int(key) >= len(apis) {
		return apiInfo{}, false
	}
	info := apis[key]
	if !info.known || version < 0 || version > info.maxVersion {
		return apiInfo{}, false
	}
	return info, true
}

// KnownVersion reports whether kmsg knows the API key and version, which is
// what SniffRequest requires and what the Decoder can decode.
func KnownVersion(key, version int16) bool {
	_, ok := apiFor(key, version)
	return ok
}

// SniffRequest decides whether b, the first bytes of a chunk of a TCP
// stream, starts a Kafka request, and reads its header when it does. It
// checks every field it can see as soon as it sees it, so a chunk of text
// or TLS is rejected within its first byte or two, and it never reads past
// the header. It does not allocate; the returned header aliases b.
func SniffRequest(b []byte) (RequestHeader, Status) {
	var h RequestHeader
	// The size field's first byte alone rules out most non-Kafka bytes:
	// 100 MiB is 0x06400000, so it must be 0..6.
	if len(b) < 4 {
		if len(b) > 0 && b[0] > MaxRequestSize>>24 {
			return h, NotKafka
		}
		return h, NeedMore
	}
	size := int32(binary.BigEndian.Uint32(b))
	if size < minRequestSize || size > MaxRequestSize {
		return h, NotKafka
	}
	h.Size = size
	if len(b) < 6 {
		// api_key's high byte must be 0: kmsg knows fewer than 256 keys.
		if len(b) > 4 && b[4] != 0 {
			return h, NotKafka
		}
		return h, NeedMore
	}
	h.APIKey = int16(binary.BigEndian.Uint16(b[4:]))
	if h.APIKey < 0 || int(h.APIKey) >= len(apis) || !apis[h.APIKey].known {
		return h, NotKafka
	}
	if len(b) < 8 {
		if len(b) > 6 && b[6] != 0 {
			return h, NotKafka
		}
		return h, NeedMore
	}
	h.APIVersion = int16(binary.BigEndian.Uint16(b[6:]))
	info, ok := apiFor(h.APIKey, h.APIVersion)
	if !ok {
		return h, NotKafka
	}
	h.Flexible = info.reqFlex&(1<<h.APIVersion) != 0
	if len(b) < 14 {
		// The correlation id can be anything; the client id length
		// must be -1 or fit MaxClientID, which its high byte shows.
		if len(b) == 13 && b[12] != 0xff && b[12] > MaxClientID>>8 {
			return h, NotKafka
		}
		return h, NeedMore
	}
	h.CorrelationID = int32(binary.BigEndian.Uint32(b[8:]))
	n := int(int16(binary.BigEndian.Uint16(b[12:])))
	if n < -1 || n > MaxClientID || minRequestSize+max(n, 0) > int(size) {
		return h, NotKafka
	}
	h.ClientIDLen = n
	off := 14
	if n > 0 {
		id := b[off:min(len(b), off+n)]
		for _, c := range id {
			if c < 0x20 || c > 0x7e {
				return h, NotKafka
			}
		}
		if len(id) < n {
			return h, NeedMore
		}
		h.ClientID = id[:min(n, maxClientIDKept)]
		off += n
	}
	if h.Flexible {
		end, st := skipHeaderTags(b, off, 4+int(size))
		if st != Request {
			return h, st
		}
		off = end
	}
	h.HeaderLen = off
	return h, Request
}

// ParseResponseHeader reads the header of a response to a request with the
// given API key and version (which the caller remembers per correlation id).
// Responses carry no key or version of their own, so the checks are weaker
// than SniffRequest's: a plausible size, and well-formed tagged fields for
// flexible versions. It does not allocate.
func ParseResponseHeader(b []byte, key, version int16) (ResponseHeader, Status) {
	var h ResponseHeader
	info, ok := apiFor(key, version)
	if !ok {
		return h, NotKafka
	}
	if len(b) < 8 {
		if len(b) > 0 && b[0] > MaxResponseSize>>24 {
			return h, NotKafka
		}
		return h, NeedMore
	}
	size := int32(binary.BigEndian.Uint32(b))
	if size < 4 || size > MaxResponseSize {
		return h, NotKafka
	}
	h.Size = size
	h.CorrelationID = int32(binary.BigEndian.Uint32(b[4:]))
	off := 8
	if info.respFlex&(1<<version) != 0 {
		end, st := skipHeaderTags(b, off, 4+int(size))
		if st != Request {
			return h, st
		}
		off = end
	}
	h.HeaderLen = off
	return h, Response
}

// skipHeaderTags reads a header's tagged fields starting at b[off:] and
// returns the offset after them. frameEnd is where the frame ends according
// to its size field; a header that runs past it is not a header. It returns
// Request when the tags were read whole.
func skipHeaderTags(b []byte, off, frameEnd int) (int, Status) {
	count, n := uvarint(b[off:])
	if n == 0 {
		return 0, NeedMore
	}
	if n < 0 || count > maxHeaderTags {
		return 0, NotKafka
	}
	off += n
	for range count {
		if _, n = uvarint(b[off:]); n <= 0 {
			return 0, statusOf(n)
		}
		off += n
		size, n := uvarint(b[off:])
		if n <= 0 {
			return 0, statusOf(n)
		}
		off += n
		if uint64(off)+uint64(size) > uint64(frameEnd) {
			return 0, NotKafka
		}
		off += int(size)
		if off > len(b) {
			return 0, NeedMore
		}
	}
	if off > frameEnd {
		return 0, NotKafka
	}
	return off, Request
}

func statusOf(n int) Status {
	if n == 0 {
		return NeedMore
	}
	return NotKafka
}

// uvarint reads an unsigned varint of at most 5 bytes (Kafka's uvarints
// hold 32 bits). n is 0 when b ends inside it and -1 when it is too long.
func uvarint(b []byte) (uint32, int) {
	var v uint32
	for i := 0; i < 5; i++ {
		if i == len(b) {
			return 0, 0
		}
		c := b[i]
		if i == 4 && c > 0x0f {
			return 0, -1
		}
		v |= uint32(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v, i + 1
		}
	}
	return 0, -1
}
