package server

// CIBAOptions configure the example's ciba demo.
type CIBAOptions struct{}

// cibaState is the example's ciba state.
type cibaState struct{}
