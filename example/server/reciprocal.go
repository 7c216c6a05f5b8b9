package server

// ReciprocalOptions configure the example's reciprocal demo.
type ReciprocalOptions struct{}

// reciprocalState is the example's reciprocal state.
type reciprocalState struct{}
