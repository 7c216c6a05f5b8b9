package compose

// OTP holds the endpoints of the one-time-passcode grant.
type OTP struct{}
