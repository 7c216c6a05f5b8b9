package memory

// otpStore holds the otp grant's in-memory state. Its zero value must be ready to use.
type otpStore struct{}
