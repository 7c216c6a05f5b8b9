// Package ciba implements OpenID Connect Client-Initiated Backchannel Authentication (CIBA) Core 1.0 on
// top of fosite, with this module's enrolment fallback.
//
// (The full guide is written as the package fills in.)
package ciba
