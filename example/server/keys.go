package server

import (
	"crypto"
)

// AuditPublicKey returns the public key the audit log of a server built with opts signs with: that of
// opts.Kiosk.AuditKey, or else of the key derived from opts.GlobalSecret. A server checks it, with the
// token secret, against its database before serving (sqlstore.Store.VerifyKeys), so that a keys file
// that does not match the database stops the start instead of making the audit log look tampered with.
func AuditPublicKey(opts Options) (crypto.PublicKey, error) {
	if k := opts.Kiosk.AuditKey; k != nil {
		return &k.PublicKey, nil
	}
	k, err := deriveAuditKey(opts.GlobalSecret)
	if err != nil {
		return nil, err
	}
	return &k.PublicKey, nil
}
