package pending

import (
	"context"

	"github.com/fosite-contrib/grants/observe"
)

// step tells the lifecycle's Observer that step begins. The returned function ends it; call it deferred
// with a pointer to the step's error (see observe.Outcome).
func (l *Lifecycle) step(ctx context.Context, step observe.Step) (context.Context, func(err *error)) {
	if l.Observer == nil {
		return ctx, func(*error) {}
	}
	ctx, end := l.Observer.GrantStep(ctx, string(l.Kind), step)
	return ctx, func(err *error) { end(observe.Outcome(*err)) }
}

// decideStep is step for Decide: a decision recorded ends it as approved or denied.
func (l *Lifecycle) decideStep(ctx context.Context, d *Decision) (context.Context, func(err *error)) {
	if l.Observer == nil {
		return ctx, func(*error) {}
	}
	ctx, end := l.Observer.GrantStep(ctx, string(l.Kind), observe.StepDecide)
	return ctx, func(err *error) {
		switch {
		case *err != nil:
			end(observe.Outcome(*err))
		case d.Approved:
			end(observe.OutcomeApproved)
		default:
			end(observe.OutcomeDenied)
		}
	}
}

// refused tells the Limiter's Observer that counter i of the counters that apply to who refused an
// attempt.
func (l *Limiter) refused(ctx context.Context, who Caller, i int) {
	if l.Observer == nil {
		return
	}
	counter := [2]string{"address", "global"}
	if who.Account != "" {
		counter = [2]string{"account", "global-signed-in"}
	}
	l.Observer.LimitRefused(ctx, l.Scope, counter[i])
}
