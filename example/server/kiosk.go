package server

// KioskOptions configure the example's kiosk demo.
type KioskOptions struct{}

// kioskState is the example's kiosk state.
type kioskState struct{}
