// Package http2 reads the client direction of cleartext HTTP/2 connections
// (h2c with prior knowledge, and gRPC) as the capture ships it: frames cut
// anywhere across chunks, several to a chunk, only the ones that carry
// header blocks (HEADERS, CONTINUATION) and SETTINGS. It decodes each
// request's header block into the fields the parse engine judges.
//
// HPACK (RFC 7541) compresses header blocks against a dynamic table that
// the two ends build up over the life of the connection. Where the
// connection was seen from its preface, the table is known and decoding is
// exact. Where it was not (propwatch started after the connection, or a
// frame was lost), the Decoder is tolerant: it decodes what does not depend
// on the lost part of the table (static-table and literal names, literal
// values), marks references into the lost part as hidden fields, learns
// the entries the encoder inserts from then on, and becomes exact again
// once those fill the table. A hidden value with the exact shape of a
// traceparent is taken as one. Nothing here keeps a value beyond the
// dynamic table, which the encoder's own bound (and ours, Limits) caps.
package http2
