package compose

// CIBA holds the endpoints of OpenID CIBA.
type CIBA struct{}

// CIBAConfig configures the CIBA grant.
type CIBAConfig struct{}
