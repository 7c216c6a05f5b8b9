package ciba

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/internal/clock"
)

// This file keeps users' authentication devices: what they enrolled during the enrolment fallback or
// on an account page, so that "later requests for that user take the normal CIBA path" (the seed's
// Dynamic AD Enrollment) after a restart too, and on every instance.

// EnrolledDevice is an authentication device a user linked to their account, as a DeviceStorage keeps
// it.
type EnrolledDevice struct {
	// Subject is the user.
	Subject string
	// Device is the device: its ID (an e-mail address, a phone number, an app registration) and Kind.
	Device
	// Name is the user's own name for the device ("Work phone"); empty when they gave none.
	Name string
	// Preferred marks the device requests go to first. Devices keeps exactly one of a user's devices
	// preferred.
	Preferred bool
	// CreatedAt is when the device was enrolled.
	CreatedAt time.Time
}

// DeviceStorage keeps enrolled devices, one row per (subject, device ID). Implementations are safe for
// concurrent use; storage/memory and storage/sql implement it. Missing rows are fosite.ErrNotFound.
type DeviceStorage interface {
	// PutCIBADevice inserts d, or replaces every field of the row with the same subject and device ID.
	PutCIBADevice(ctx context.Context, d *EnrolledDevice) error
	// ListCIBADevices returns subject's devices, oldest first (then by device ID); none is an empty
	// list, not an error.
	ListCIBADevices(ctx context.Context, subject string) ([]EnrolledDevice, error)
	// DeleteCIBADevice deletes one device of subject.
	DeleteCIBADevice(ctx context.Context, subject, deviceID string) error
	// PreferCIBADevice marks deviceID subject's preferred device and clears the mark of subject's other
	// devices, in one step; when subject has no such device it changes nothing and returns
	// fosite.ErrNotFound.
	PreferCIBADevice(ctx context.Context, subject, deviceID string) error
}

// Limits of Devices.
const (
	// DefaultMaxDevices is how many devices one user may enrol when Devices.MaxPerUser is 0.
	DefaultMaxDevices = 10
	// MaxDeviceNameLength is the longest device name, in characters.
	MaxDeviceNameLength = 64
	// MaxDeviceIDLength is the longest device ID, in bytes (an e-mail address is at most 254).
	MaxDeviceIDLength = 256
)

// Errors of Devices; test them with errors.Is.
var (
	// ErrDeviceNotFound: the user has no device with that ID.
	ErrDeviceNotFound = fmt.Errorf("ciba: the user has no such device: %w", fosite.ErrNotFound)
	// ErrTooManyDevices: the user already has Devices.MaxPerUser devices.
	ErrTooManyDevices = errors.New("ciba: the user has as many devices as allowed")
	// ErrInvalidDevice: a device ID, kind or name is empty, too long, or holds characters that cannot
	// be shown (control characters, invalid UTF-8).
	ErrInvalidDevice = errors.New("ciba: invalid device")
)

// Devices is the directory of enrolled authentication devices over a DeviceStorage: the DeviceEnroller
// of the enrolment fallback (Enroll), the device list an account page manages (List, Add, Rename,
// Prefer, Remove), and the devices a HintResolver returns (Reachable: the preferred one first). It is
// safe for concurrent use.
//
// Every user with devices has exactly one preferred device: the first one enrolled, until the user
// prefers another; removing the preferred device passes the mark to the oldest remaining one.
type Devices struct {
	// Storage keeps the devices. Required.
	Storage DeviceStorage
	// EnrollmentDevice chooses the device the enrolment fallback links for subject, who has just
	// authenticated at the verification page (for example their verified e-mail address, or the app
	// being paired). Required for Enroll.
	EnrollmentDevice func(ctx context.Context, subject string, req Request) (Device, error)
	// MaxPerUser bounds how many devices one user may have; 0 means DefaultMaxDevices.
	MaxPerUser int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

var _ DeviceEnroller = (*Devices)(nil)

// Enroll implements DeviceEnroller: it adds the device EnrollmentDevice chooses for subject, or keeps
// it when the user has it already.
func (d *Devices) Enroll(ctx context.Context, subject string, req Request) error {
	if d.EnrollmentDevice == nil {
		return errors.New("ciba: Devices.EnrollmentDevice is required to enrol devices")
	}
	dev, err := d.EnrollmentDevice(ctx, subject, req)
	if err != nil {
		return err
	}
	_, err = d.Add(ctx, subject, dev, "")
	return err
}

// List returns subject's devices, the preferred one first, then the oldest first.
func (d *Devices) List(ctx context.Context, subject string) ([]EnrolledDevice, error) {
	if subject == "" {
		return nil, nil
	}
	ds, err := d.Storage.ListCIBADevices(ctx, subject)
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(ds, func(a, b EnrolledDevice) int {
		switch {
		case a.Preferred && !b.Preferred:
			return -1
		case b.Preferred && !a.Preferred:
			return 1
		}
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
	return ds, nil
}

// Reachable returns subject's devices as a HintResolver returns them in User.Devices: the preferred one
// first.
func (d *Devices) Reachable(ctx context.Context, subject string) ([]Device, error) {
	ds, err := d.List(ctx, subject)
	if err != nil {
		return nil, err
	}
	out := make([]Device, len(ds))
	for i, e := range ds {
		out[i] = e.Device
	}
	return out, nil
}

// Add enrols dev for subject under name (which may be empty). A device the user has already keeps its
// place and preference, and takes the new name when one is given. The user's first device becomes
// their preferred one. Errors: ErrInvalidDevice, ErrTooManyDevices, or the storage's.
func (d *Devices) Add(ctx context.Context, subject string, dev Device, name string) (*EnrolledDevice, error) {
	name = strings.TrimSpace(name)
	if err := validDevice(subject, dev, name); err != nil {
		return nil, err
	}
	ds, err := d.Storage.ListCIBADevices(ctx, subject)
	if err != nil {
		return nil, err
	}
	for _, e := range ds {
		if e.ID == dev.ID {
			if name == "" || name == e.Name {
				return &e, nil
			}
			e.Name = name
			return &e, d.Storage.PutCIBADevice(ctx, &e)
		}
	}
	if len(ds) >= cmp.Or(d.MaxPerUser, DefaultMaxDevices) {
		return nil, ErrTooManyDevices
	}
	e := &EnrolledDevice{Subject: subject, Device: dev, Name: name, CreatedAt: clock.Now(d.Now)}
	if err := d.Storage.PutCIBADevice(ctx, e); err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(ds, func(e EnrolledDevice) bool { return e.Preferred }) {
		if err := d.Storage.PreferCIBADevice(ctx, subject, dev.ID); err != nil {
			return nil, err
		}
		e.Preferred = true
	}
	return e, nil
}

// Rename gives subject's device id a new name (empty clears it). Errors: ErrDeviceNotFound,
// ErrInvalidDevice, or the storage's.
func (d *Devices) Rename(ctx context.Context, subject, id, name string) error {
	e, err := d.find(ctx, subject, id)
	if err != nil {
		return err
	}
	name = strings.TrimSpace(name)
	if err := validName(name); err != nil {
		return err
	}
	e.Name = name
	return d.Storage.PutCIBADevice(ctx, e)
}

// Prefer makes subject's device id the one requests go to first. Errors: ErrDeviceNotFound, or the
// storage's.
func (d *Devices) Prefer(ctx context.Context, subject, id string) error {
	if subject == "" || id == "" {
		return ErrDeviceNotFound
	}
	err := d.Storage.PreferCIBADevice(ctx, subject, id)
	if errors.Is(err, fosite.ErrNotFound) {
		return ErrDeviceNotFound
	}
	return err
}

// Remove deletes subject's device id; when it was the preferred one, the oldest remaining device becomes
// preferred. Requests already sent to it are not withdrawn: they stay pending until decided elsewhere or
// expired. Errors: ErrDeviceNotFound, or the storage's.
func (d *Devices) Remove(ctx context.Context, subject, id string) error {
	e, err := d.find(ctx, subject, id)
	if err != nil {
		return err
	}
	if err := d.Storage.DeleteCIBADevice(ctx, subject, id); errors.Is(err, fosite.ErrNotFound) {
		return ErrDeviceNotFound
	} else if err != nil {
		return err
	}
	if !e.Preferred {
		return nil
	}
	rest, err := d.Storage.ListCIBADevices(ctx, subject)
	if err != nil || len(rest) == 0 {
		return err
	}
	if err := d.Storage.PreferCIBADevice(ctx, subject, rest[0].ID); err != nil && !errors.Is(err, fosite.ErrNotFound) {
		return err
	}
	return nil
}

// find returns subject's device id.
func (d *Devices) find(ctx context.Context, subject, id string) (*EnrolledDevice, error) {
	if subject == "" || id == "" {
		return nil, ErrDeviceNotFound
	}
	ds, err := d.Storage.ListCIBADevices(ctx, subject)
	if err != nil {
		return nil, err
	}
	for _, e := range ds {
		if e.ID == id {
			return &e, nil
		}
	}
	return nil, ErrDeviceNotFound
}

func validDevice(subject string, dev Device, name string) error {
	switch {
	case subject == "":
		return fmt.Errorf("%w: no user", ErrInvalidDevice)
	case dev.ID == "" || len(dev.ID) > MaxDeviceIDLength || !printable(dev.ID):
		return fmt.Errorf("%w: the device ID must be 1 to %d bytes of printable text", ErrInvalidDevice, MaxDeviceIDLength)
	case dev.Kind == "" || len(dev.Kind) > 32 || !printable(dev.Kind):
		return fmt.Errorf("%w: the device kind must be 1 to 32 bytes of printable text", ErrInvalidDevice)
	}
	return validName(name)
}

func validName(name string) error {
	if utf8.RuneCountInString(name) > MaxDeviceNameLength || !printable(name) {
		return fmt.Errorf("%w: a device name is at most %d characters, without control characters", ErrInvalidDevice, MaxDeviceNameLength)
	}
	return nil
}

// printable reports whether s is valid UTF-8 without control or format characters (no line breaks, no
// bidirectional overrides).
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return false
		}
	}
	return true
}
