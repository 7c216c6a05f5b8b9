package server

import (
	"context"
	"fmt"

	"github.com/fosite-contrib/grants/handler/ciba"
	"github.com/fosite-contrib/grants/storage/memory"
)

// The example's users' CIBA authentication devices live in the store (ciba.Devices over
// ciba.DeviceStorage), so an enrolment survives restarts and is seen by every instance: "later
// requests for that user take the normal path" (seed 003).

// newDevices returns the device directory over the store (or, DEMO, beside a store without one).
func (s *Server) newDevices() *ciba.Devices {
	st, ok := s.store.(ciba.DeviceStorage)
	if !ok {
		st = &memory.CIBADeviceStore{} // DEMO: devices of a store without them are kept beside it
	}
	return &ciba.Devices{
		Storage: st,
		// The enrolment fallback links the user's e-mail address. DEMO: a real server would verify the
		// address (or pair an app) first.
		EnrollmentDevice: func(_ context.Context, subject string, _ ciba.Request) (ciba.Device, error) {
			u, ok := demoUsers[subject]
			if !ok || u.Email == "" {
				return ciba.Device{}, fmt.Errorf("example: no demo user %q", subject)
			}
			return ciba.Device{ID: u.Email, Kind: "email"}, nil
		},
		Now: s.opts.Now,
	}
}

// demoDevices are the devices the demo users start with. DEMO: added when the user has none, so bob,
// who has none, takes the enrolment fallback until he links one.
var demoDevices = map[string]struct {
	ciba.Device
	Name string
}{
	"alice": {ciba.Device{ID: "alice@example.com", Kind: "email"}, "Mailbox"},       // her mailbox: a link to approve
	"carol": {ciba.Device{ID: "/ciba", Kind: deviceKindApp}, "This site"},           // the /ciba page: nothing is sent
	"dave":  {ciba.Device{ID: demoDavePhone, Kind: "sms"}, "Phone (text messages)"}, // his phone: he replies YES or NO
}

// seedDevices gives each demo user their starting device, unless they have devices already.
func (s *Server) seedDevices(ctx context.Context) error {
	for subject, d := range demoDevices {
		have, err := s.ciba.devices.List(ctx, subject)
		if err != nil {
			return err
		}
		if len(have) > 0 {
			continue
		}
		if _, err := s.ciba.devices.Add(ctx, subject, d.Device, d.Name); err != nil {
			return err
		}
	}
	return nil
}
