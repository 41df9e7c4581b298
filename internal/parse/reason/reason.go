// Package reason names the defects the propagation engine finds in trace
// context. A Code is part of propwatch's output contract: reports, metrics and
// CI jobs key on it, so a code, once released, keeps its spelling and meaning.
package reason

// Code is a stable defect name of the form "<field>.<defect>", for example
// "traceparent.trace_id_zero". Codes are compile-time constants: they never
// embed bytes of the input they describe, which is what keeps them safe to
// put in metric labels and reports.
type Code string

// Field is the part of the code before the first dot: the header or format
// the defect was found in.
func (c Code) Field() string {
	for i := 0; i < len(c); i++ {
		if c[i] == '.' {
			return string(c[:i])
		}
	}
	return string(c)
}

// List is an ordered set of codes. It keeps the order in which defects were
// first found and drops repeats, so that a header with the same defect in
// every member reports it once.
type List []Code

// Add appends c unless the list already holds it.
func (l List) Add(c Code) List {
	for _, have := range l {
		if have == c {
			return l
		}
	}
	return append(l, c)
}

// Has reports whether the list holds c.
func (l List) Has(c Code) bool {
	for _, have := range l {
		if have == c {
			return true
		}
	}
	return false
}
