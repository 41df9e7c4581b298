// Package pii detects personal data and secrets in propagated values (W3C
// baggage members, uberctx-* and ot-baggage-* headers) without keeping them.
//
// Every function here answers with kinds, hints and keyed fingerprints only:
// no input byte is ever copied into a result, an error or a log line, because
// the values this package looks at are exactly the ones that must not leak
// into propwatch's own reports.
//
// Scan is on the hot path (every baggage value of every observed request), so
// it is a single left-to-right pass over the bytes that dispatches on a few
// trigger bytes and validates candidates with bounded look-around. It never
// allocates and its running time is linear in the input for any input,
// including hostile ones built to make naive matchers quadratic.
//
// The rules, their validators and the reasons behind each false-positive
// guard are documented next to their code: email.go, card.go, jwt.go,
// secret.go (vendor keys and Authorization values), ssn.go, iban.go and
// phone.go. key.go derives hints from key names; fingerprint.go makes the
// keyed fingerprints that let reports count repeated values.
package pii
