package ipc

// Request lines apart (req-logger, log-req-route, log-req-encoder): when
// the master sets EnvReqLog to "1", the Python and Go workers start every
// request line in their log pipe with ReqLogMark. The master strips it
// and sends the line to the request loggers; a line without it (or with
// the byte anywhere but first) is an ordinary line. Unset, request lines
// are not marked and go where every line goes.
const (
	EnvReqLog  = "SUPERVISE_REQ_LOG"
	ReqLogMark = "\x1e" // ASCII record separator
)
