package audit

import (
	"context"
	"maps"

	"github.com/fosite-contrib/grants/observe"
)

// DataRequestID is the payload member that carries the ID of the HTTP request an event was recorded
// in (observe.RequestID of the context given to Log.Record), so that an auditor can find the request's
// log lines and trace. It is not the "txn" claim, which is the grant's fosite request ID.
const DataRequestID = observe.LogKeyRequestID

// withRequestID returns e with DataRequestID set to the request ID ctx carries, unless it has none or
// e.Data sets the member itself. e.Data is copied, never changed.
func withRequestID(ctx context.Context, e Event) Event {
	id := observe.RequestID(ctx)
	if id == "" {
		return e
	}
	if _, set := e.Data[DataRequestID]; set {
		return e
	}
	data := make(map[string]any, len(e.Data)+1)
	maps.Copy(data, e.Data)
	data[DataRequestID] = id
	e.Data = data
	return e
}
