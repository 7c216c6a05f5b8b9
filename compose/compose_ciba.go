package compose

// CIBA holds the endpoints of OpenID CIBA.
type CIBA struct{}
