package frontend

// An idle keep-alive connection needs nothing but its clientConn until its
// next request comes: the read buffer, the parsed request's header list,
// the answer head's scratch and the head sent to the client go back to
// the loop when it goes idle, and the next connection to need them takes
// them from there, as nginx frees a keep-alive connection's buffers. That
// is 4.6 KB less per idle connection (docs/benchmarks.md), at no cost per
// request: nothing is allocated when the spares are there.

// maxSpares bounds each spare list: what a burst of busy connections
// left behind is not kept for ever.
const maxSpares = 512

// idleSpares is a loop's spare per-connection buffers.
type idleSpares struct {
	ins     [][]byte
	fieldss [][]rawField
	spanss  [][]fieldSpan
	hdrs    [][]byte
}

func (s *idleSpares) in() []byte {
	return takeSpare(&s.ins, func() []byte { return make([]byte, loopInBuffer) })
}

func (s *idleSpares) fields() []rawField {
	return takeSpare(&s.fieldss, func() []rawField { return make([]rawField, 0, 16) })
}

func (s *idleSpares) spans() []fieldSpan {
	return takeSpare(&s.spanss, func() []fieldSpan { return make([]fieldSpan, 0, 8) })
}

func (s *idleSpares) hdr() []byte {
	return takeSpare(&s.hdrs, func() []byte { return make([]byte, 0, 256) })
}

// takeSpare pops the last spare of a list, or makes a new one.
func takeSpare[T any](list *[]T, fresh func() T) T {
	if n := len(*list); n > 0 {
		v := (*list)[n-1]
		*list = (*list)[:n-1]
		return v
	}
	return fresh()
}

// idle takes back c's buffers: c has no bytes of a request (c.n == 0) and
// no exchange, or is closed.
func (l *loop) idle(c *clientConn) {
	s := &l.spare
	if c.in != nil {
		if len(c.in) == loopInBuffer && len(s.ins) < maxSpares {
			s.ins = append(s.ins, c.in)
		}
		c.in = nil
	}
	if f := c.req.Fields; f != nil {
		if cap(f) <= 256 && len(s.fieldss) < maxSpares {
			clear(f[:cap(f)]) // drop the head's strings
			s.fieldss = append(s.fieldss, f[:0])
		}
	}
	c.req = rawRequest{ContentLength: -1}
	if f := c.worker.head.fields; f != nil {
		if cap(f) <= 256 && len(s.spanss) < maxSpares {
			s.spanss = append(s.spanss, f[:0])
		}
		c.worker.head.fields = nil
	}
	if c.hdr != nil {
		if cap(c.hdr) <= 4<<10 && len(s.hdrs) < maxSpares {
			s.hdrs = append(s.hdrs, c.hdr[:0])
		}
		c.hdr, c.outHead, c.outBody = nil, nil, nil
	}
	c.scanned, c.headLen, c.reqLen = 0, 0, 0
}
