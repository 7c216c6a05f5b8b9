package server

// OTPOptions configure the example's otp demo.
type OTPOptions struct{}

// otpState is the example's otp state.
type otpState struct{}
