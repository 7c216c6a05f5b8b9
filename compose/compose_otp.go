package compose

// OTP holds the endpoints of the one-time-passcode grant.
type OTP struct{}

// OTPConfig configures the OTP grant.
type OTPConfig struct{}
