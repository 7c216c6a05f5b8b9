// Package qrcode draws QR codes for the device authorization grant.
//
// RFC 8628 §3.3.1 suggests that a device show verification_uri_complete as a
// QR code, so that the user can scan it instead of typing the user code.
// This package renders such a code three ways, all from the same module
// matrix:
//
//   - [PNG] for web pages and image viewers, at an exact pixel size;
//   - [SVG] for pages that scale: one unit per module, crisp edges;
//   - [Terminal] for command-line clients, two modules per character.
//
// Every rendering includes the four-module light quiet zone that scanners
// need around the symbol (ISO/IEC 18004 §6.3.8) and uses error correction
// level M, which recovers about 15% damage and keeps a typical
// verification_uri_complete at version 3 or 4 (29 to 33 modules wide).
//
// The module matrix comes from github.com/boombuler/barcode, a maintained,
// dependency-free encoder; the drawing is done here so that each output is
// exactly what a device screen or terminal needs.
package qrcode
