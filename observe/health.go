package observe

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// Check is one condition of readiness: Run returns nil when it holds.
type Check struct {
	// Name says what is checked ("store", "migrations").
	Name string
	// Run checks; it must honour ctx's deadline.
	Run func(ctx context.Context) error
}

// DefaultCheckTimeout bounds all the checks of one readiness request when Health.Timeout is zero.
const DefaultCheckTimeout = 5 * time.Second

// Health answers the liveness and readiness probes of an operations listener: Live (/healthz) says
// the process serves HTTP; Ready (/readyz) runs every check and answers 200 when all hold, 503 naming
// those that do not. Both answer JSON and are never cached. Serve them on a listener of their own, not
// the public one: a readiness answer names what failed.
type Health struct {
	// Checks are run, in order, by Ready.
	Checks []Check
	// Timeout bounds all the checks of one request; zero means DefaultCheckTimeout.
	Timeout time.Duration
}

// maxCheckError bounds the error text Ready shows for one check.
const maxCheckError = 200

// Live is the liveness probe (/healthz): 200 {"status":"ok"} while the process serves requests.
func (h *Health) Live(w http.ResponseWriter, r *http.Request) {
	writeHealth(w, http.StatusOK, map[string]any{"status": "ok"})
}

// Ready is the readiness probe (/readyz): every check is run; 200 {"status":"ready"} when all pass,
// else 503 {"status":"unready","failed":{"store":"…"}}.
func (h *Health) Ready(w http.ResponseWriter, r *http.Request) {
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = DefaultCheckTimeout
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	failed := map[string]string{}
	for _, c := range h.Checks {
		if err := c.Run(ctx); err != nil {
			msg := strings.ToValidUTF8(err.Error(), "")
			if len(msg) > maxCheckError {
				msg = strings.ToValidUTF8(msg[:maxCheckError], "") + "…"
			}
			failed[c.Name] = msg
		}
	}
	if len(failed) > 0 {
		writeHealth(w, http.StatusServiceUnavailable, map[string]any{"status": "unready", "failed": failed})
		return
	}
	writeHealth(w, http.StatusOK, map[string]any{"status": "ready"})
}

func writeHealth(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
