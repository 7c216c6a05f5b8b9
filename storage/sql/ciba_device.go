package sqlstore

import (
	"context"
	"errors"
	"time"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/handler/ciba"
)

var _ ciba.DeviceStorage = (*Store)(nil)

// PutCIBADevice implements ciba.DeviceStorage with one upsert (table ciba_devices, migration 00100).
func (s *Store) PutCIBADevice(ctx context.Context, d *ciba.EnrolledDevice) error {
	if d == nil || d.Subject == "" || d.ID == "" {
		return errors.New("sqlstore: a CIBA device needs a subject and an ID")
	}
	_, err := s.exec(ctx, "INSERT INTO ciba_devices (subject, device_id, kind, name, preferred, created_at) VALUES (?, ?, ?, ?, ?, ?) "+
		"ON CONFLICT (subject, device_id) DO UPDATE SET kind = excluded.kind, name = excluded.name, preferred = excluded.preferred, created_at = excluded.created_at",
		d.Subject, d.ID, d.Kind, d.Name, d.Preferred, d.CreatedAt.UnixNano())
	return wrap(err, "put CIBA device")
}

// ListCIBADevices implements ciba.DeviceStorage (the primary key's index).
func (s *Store) ListCIBADevices(ctx context.Context, subject string) ([]ciba.EnrolledDevice, error) {
	rows, err := s.query(ctx, "SELECT device_id, kind, name, preferred, created_at FROM ciba_devices WHERE subject = ? ORDER BY created_at, device_id", subject)
	if err != nil {
		return nil, wrap(err, "list CIBA devices")
	}
	defer rows.Close()
	out := []ciba.EnrolledDevice{}
	for rows.Next() {
		d := ciba.EnrolledDevice{Subject: subject}
		var created int64
		if err := rows.Scan(&d.ID, &d.Kind, &d.Name, &d.Preferred, &created); err != nil {
			return nil, wrap(err, "list CIBA devices")
		}
		d.CreatedAt = time.Unix(0, created).UTC()
		out = append(out, d)
	}
	return out, wrap(rows.Err(), "list CIBA devices")
}

// DeleteCIBADevice implements ciba.DeviceStorage.
func (s *Store) DeleteCIBADevice(ctx context.Context, subject, deviceID string) error {
	n, err := s.execAffected(ctx, "DELETE FROM ciba_devices WHERE subject = ? AND device_id = ?", subject, deviceID)
	if err != nil {
		return wrap(err, "delete CIBA device")
	}
	if n == 0 {
		return fosite.ErrNotFound
	}
	return nil
}

// PreferCIBADevice implements ciba.DeviceStorage with one conditional UPDATE of the subject's rows,
// which changes nothing when the subject has no such device.
func (s *Store) PreferCIBADevice(ctx context.Context, subject, deviceID string) error {
	n, err := s.execAffected(ctx, "UPDATE ciba_devices SET preferred = (device_id = ?) WHERE subject = ? "+
		"AND EXISTS (SELECT 1 FROM ciba_devices d WHERE d.subject = ? AND d.device_id = ?)",
		deviceID, subject, subject, deviceID)
	if err != nil {
		return wrap(err, "prefer CIBA device")
	}
	if n == 0 {
		return fosite.ErrNotFound
	}
	return nil
}
