package memory

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/handler/ciba"
)

// CIBADeviceStore keeps users' enrolled CIBA authentication devices (ciba.DeviceStorage) in memory.
// Its zero value is ready to use; it is safe for concurrent use. Nothing survives a restart.
type CIBADeviceStore struct {
	mu      sync.Mutex
	devices map[string][]ciba.EnrolledDevice // subject → devices
}

var (
	_ ciba.DeviceStorage = (*CIBADeviceStore)(nil)
	_ ciba.DeviceStorage = (*MemoryStore)(nil)
)

// PutCIBADevice implements ciba.DeviceStorage on the MemoryStore's own CIBADeviceStore.
func (s *MemoryStore) PutCIBADevice(ctx context.Context, d *ciba.EnrolledDevice) error {
	return s.devices.PutCIBADevice(ctx, d)
}

// ListCIBADevices implements ciba.DeviceStorage.
func (s *MemoryStore) ListCIBADevices(ctx context.Context, subject string) ([]ciba.EnrolledDevice, error) {
	return s.devices.ListCIBADevices(ctx, subject)
}

// DeleteCIBADevice implements ciba.DeviceStorage.
func (s *MemoryStore) DeleteCIBADevice(ctx context.Context, subject, deviceID string) error {
	return s.devices.DeleteCIBADevice(ctx, subject, deviceID)
}

// PreferCIBADevice implements ciba.DeviceStorage.
func (s *MemoryStore) PreferCIBADevice(ctx context.Context, subject, deviceID string) error {
	return s.devices.PreferCIBADevice(ctx, subject, deviceID)
}

// PutCIBADevice implements ciba.DeviceStorage.
func (s *CIBADeviceStore) PutCIBADevice(_ context.Context, d *ciba.EnrolledDevice) error {
	if d == nil || d.Subject == "" || d.ID == "" {
		return errors.New("memory: a CIBA device needs a subject and an ID")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.devices == nil {
		s.devices = map[string][]ciba.EnrolledDevice{}
	}
	c := *d
	c.CreatedAt = c.CreatedAt.UTC()
	list := s.devices[d.Subject]
	if i := slices.IndexFunc(list, func(e ciba.EnrolledDevice) bool { return e.ID == d.ID }); i >= 0 {
		list[i] = c
		return nil
	}
	s.devices[d.Subject] = append(list, c)
	return nil
}

// ListCIBADevices implements ciba.DeviceStorage.
func (s *CIBADeviceStore) ListCIBADevices(_ context.Context, subject string) ([]ciba.EnrolledDevice, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.devices[subject])
	if out == nil {
		out = []ciba.EnrolledDevice{}
	}
	slices.SortStableFunc(out, func(a, b ciba.EnrolledDevice) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
	return out, nil
}

// DeleteCIBADevice implements ciba.DeviceStorage.
func (s *CIBADeviceStore) DeleteCIBADevice(_ context.Context, subject, deviceID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.devices[subject]
	i := slices.IndexFunc(list, func(e ciba.EnrolledDevice) bool { return e.ID == deviceID })
	if i < 0 {
		return fosite.ErrNotFound
	}
	if list = slices.Delete(list, i, i+1); len(list) == 0 {
		delete(s.devices, subject)
	} else {
		s.devices[subject] = list
	}
	return nil
}

// PreferCIBADevice implements ciba.DeviceStorage.
func (s *CIBADeviceStore) PreferCIBADevice(_ context.Context, subject, deviceID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.devices[subject]
	if !slices.ContainsFunc(list, func(e ciba.EnrolledDevice) bool { return e.ID == deviceID }) {
		return fosite.ErrNotFound
	}
	for i := range list {
		list[i].Preferred = list[i].ID == deviceID
	}
	return nil
}
