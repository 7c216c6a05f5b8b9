package audit

import (
	"context"
	"errors"
)

// Sink records audit events.
//
// Record must be safe to call from many goroutines at once. It returns nil only
// once the event is stored as durably as the Sink can store it; an error means
// the event may not have been recorded, and the caller decides whether the
// operation it was auditing may still go ahead (regulated deployments fail
// closed). Record must not keep e.Data after it returns.
type Sink interface {
	Record(ctx context.Context, e Event) error
}

// Multi returns a Sink that records each event to every sink in order. It
// calls all of them even when one fails and returns the failures joined with
// errors.Join. Nil sinks are skipped.
func Multi(sinks ...Sink) Sink {
	m := make(multi, 0, len(sinks))
	for _, s := range sinks {
		if s != nil {
			m = append(m, s)
		}
	}
	return m
}

type multi []Sink

var _ Sink = multi(nil)

func (m multi) Record(ctx context.Context, e Event) error {
	var errs []error
	for _, s := range m {
		if err := s.Record(ctx, e); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
