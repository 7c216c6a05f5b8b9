package rfc8628

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"

	"github.com/fosite-contrib/grants/handler/pending"
)

// maxSerial bounds a device serial.
const maxSerial = 64

// ErrInvalidSerial is returned by ValidateSerial.
var ErrInvalidSerial = errors.New("rfc8628: device_serial must be 1 to 64 characters, each a letter, a digit, '-', '_' or '.'")

// ValidateSerial checks a device serial number (the device_serial parameter): 1 to 64 characters
// from A-Z a-z 0-9 - _ . only, so that it is safe in logs, URLs and the printed box.
func ValidateSerial(serial string) error {
	if len(serial) == 0 || len(serial) > maxSerial {
		return ErrInvalidSerial
	}
	for i := 0; i < len(serial); i++ {
		c := serial[i]
		if !(c >= 'A' && c <= 'Z') && !(c >= 'a' && c <= 'z') && !(c >= '0' && c <= '9') && c != '-' && c != '_' && c != '.' {
			return ErrInvalidSerial
		}
	}
	return nil
}

// PrintedUserCode derives the user code printed in the box of the device with that serial, for the
// client: the same (key, format, client, serial) always gives the same code, so a factory holding key
// prints it and the server, holding the same key, issues it when the device asks (Google's note
// "Authorizing rich-client devices without a web browser": "provide a printout of the PIN in the set
// of instructions provided with the device").
//
// The code is HMAC-SHA256(key, "fosite-contrib/grants printed user code v1" ‖ 0 ‖ client ‖ 0 ‖ serial),
// extended in counter mode as needed, read byte by byte with rejection sampling onto the format's
// alphabet (a byte is used only when it is below the largest multiple of the alphabet size, so no
// character is likelier than another). Without key, nobody can tell a serial's code; use a key of at
// least 32 random bytes per client (or per production batch) and keep it like a signing key.
//
// It returns the normalised code (no dashes); format.Display shows it grouped.
func PrintedUserCode(key []byte, format pending.UserCodeFormat, clientID, serial string) (string, error) {
	if err := format.Validate(); err != nil {
		return "", err
	}
	if len(key) < 32 {
		return "", errors.New("rfc8628: a printed user-code key must be at least 32 bytes")
	}
	if err := ValidateSerial(serial); err != nil {
		return "", err
	}
	n := len(format.Alphabet)
	limit := 256 - 256%n
	out := make([]byte, 0, format.Length)
	for counter := uint32(0); len(out) < format.Length; counter++ {
		m := hmac.New(sha256.New, key)
		m.Write([]byte("fosite-contrib/grants printed user code v1"))
		m.Write([]byte{0})
		m.Write([]byte(clientID))
		m.Write([]byte{0})
		m.Write([]byte(serial))
		var c [4]byte
		binary.BigEndian.PutUint32(c[:], counter)
		m.Write(c[:])
		for _, b := range m.Sum(nil) {
			if int(b) < limit && len(out) < format.Length {
				out = append(out, format.Alphabet[int(b)%n])
			}
		}
	}
	return string(out), nil
}
