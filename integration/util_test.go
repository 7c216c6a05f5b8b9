package integration

import (
	"encoding/json"
	"io"
	"time"
)

func jsonDecode(r io.Reader, v interface{}) error { return json.NewDecoder(r).Decode(v) }

func nowUTC() time.Time { return time.Now().UTC() }
