package observe

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
)

// HeaderRequestID is the header that carries a request's ID, in and out.
const HeaderRequestID = "X-Request-Id"

// LogKeyRequestID is the name under which logs, spans and audit events carry the request ID. It is not
// "request_id", which this module's logs and audit events ("txn") use for fosite's request IDs (one per
// grant, shared by all its HTTP requests).
const LogKeyRequestID = "http_request_id"

// MaxRequestIDLength bounds an incoming request ID that is kept.
const MaxRequestIDLength = 64

type requestIDKey struct{}

// WithRequestID returns ctx carrying the request ID id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request ID ctx carries (see Handler), or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// ValidRequestID reports whether an incoming request ID is one to keep: 1 to MaxRequestIDLength
// characters, each a letter, a digit or one of "-_.:". Anything else (a line break for log injection,
// a ten-kilobyte header, text an operator would not recognise as an ID) is replaced by a new ID.
func ValidRequestID(id string) bool {
	if id == "" || len(id) > MaxRequestIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == ':':
		default:
			return false
		}
	}
	return true
}

// Handler serves Next and makes each request observable: it gives the request an ID (the incoming
// X-Request-Id when it passes ValidRequestID and TrustRequestID is set, else 128 random bits in hex),
// returns it in the X-Request-Id response header, puts it into the request's context (RequestID), and
// tells Observer when the request arrives and when it is answered, with the route pattern of the
// http.ServeMux that served it.
//
// Next must be, or end in, an http.ServeMux that is given the request Handler passes on (so that the
// mux's r.Pattern is seen); otherwise every request's route is "".
type Handler struct {
	// Next serves the requests. Required.
	Next http.Handler
	// Observer is told about each request; nil tells nobody.
	Observer HTTP
	// TrustRequestID keeps a valid incoming X-Request-Id (set by a reverse proxy or a client, for
	// correlation); when false every request gets a new ID.
	TrustRequestID bool
	// Rand is the source of new IDs; nil means crypto/rand.
	Rand io.Reader
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := r.Header.Get(HeaderRequestID)
	if !h.TrustRequestID || !ValidRequestID(id) || len(r.Header.Values(HeaderRequestID)) != 1 {
		id = h.newID()
	}
	w.Header().Set(HeaderRequestID, id)
	ctx := WithRequestID(r.Context(), id)
	var o HTTP = Nop{}
	if h.Observer != nil {
		o = h.Observer
	}
	ctx, end := o.HTTPRequest(ctx, r.Method)
	sw := &statusWriter{ResponseWriter: w}
	r = r.WithContext(ctx)
	defer func() { end(r.Pattern, sw.status()) }()
	h.Next.ServeHTTP(sw, r)
}

func (h *Handler) newID() string {
	var b [16]byte
	src := h.Rand
	if src == nil {
		src = rand.Reader
	}
	if _, err := io.ReadFull(src, b[:]); err != nil {
		return "unidentified"
	}
	return hex.EncodeToString(b[:])
}

// statusWriter remembers the status written; Unwrap lets http.ResponseController reach the
// underlying writer's Flush and deadlines.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 && code >= 200 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// status is the status written, 200 when the handler wrote nothing (as net/http answers).
func (w *statusWriter) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}

// LogHandler returns a slog.Handler that adds the request ID of the record's context, when there is
// one, as LogKeyRequestID to every record next passes on. Log with the request's context
// (Logger.InfoContext, LogAttrs) for it to be seen.
func LogHandler(next slog.Handler) slog.Handler {
	return &logHandler{next: next}
}

type logHandler struct{ next slog.Handler }

func (h *logHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

func (h *logHandler) Handle(ctx context.Context, rec slog.Record) error {
	if id := RequestID(ctx); id != "" {
		rec = rec.Clone()
		rec.AddAttrs(slog.String(LogKeyRequestID, id))
	}
	return h.next.Handle(ctx, rec)
}

func (h *logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &logHandler{next: h.next.WithAttrs(attrs)}
}

func (h *logHandler) WithGroup(name string) slog.Handler {
	return &logHandler{next: h.next.WithGroup(name)}
}
