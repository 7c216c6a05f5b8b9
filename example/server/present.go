package server

import (
	"fmt"
	"html/template"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/medama-io/go-useragent"
	"github.com/medama-io/go-useragent/agents"
	"github.com/ory/fosite"
)

// This file turns what the grants record into words for the pages: times relative to now (and, in
// the browser, in the viewer's own time zone), devices as "a TV" rather than a user-agent string,
// network addresses with what kind they are, counts as "once" or "twice".

// pageFuncs are the template functions of the pages.
var pageFuncs = template.FuncMap{
	"when":    whenHTML,
	"until":   untilHTML,
	"device":  describeDevice,
	"address": describeAddress,
	"times":   times,
	"choices": choices,
}

// choices is the argument of the "choices" template: two equally prominent submit buttons, the form
// field name, and each button's value and words.
func choices(name, allow, allowText, deny, denyText string) map[string]string {
	return map[string]string{"Name": name, "Allow": allow, "AllowText": allowText, "Deny": deny, "DenyText": denyText}
}

// whenHTML renders a past moment as "3 minutes ago" in a <time> element whose datetime the page
// script turns into the viewer's local time (the server's words stay when scripts do not run).
func whenHTML(now, t time.Time) template.HTML {
	return timeElement(t, relative(now, t))
}

// untilHTML renders a future moment as "in 9 minutes", like whenHTML.
func untilHTML(now, t time.Time) template.HTML {
	return timeElement(t, relative(now, t))
}

func timeElement(t time.Time, words string) template.HTML {
	iso := t.UTC().Format(time.RFC3339)
	abs := t.UTC().Format("Mon 2 Jan 2006, 15:04 UTC")
	// Every part is produced here from a time value: no user input reaches this HTML.
	return template.HTML(fmt.Sprintf(`<time datetime="%s" title="%s" data-relative>%s</time><span class="local-time muted"> (%s)</span>`,
		template.HTMLEscapeString(iso), template.HTMLEscapeString(abs), template.HTMLEscapeString(words), template.HTMLEscapeString(abs)))
}

// relative says how far t is from now in words: "just now", "3 minutes ago", "in 2 hours".
func relative(now, t time.Time) string {
	d := now.Sub(t)
	if d < 0 {
		d = -d
	}
	if d < 5*time.Second {
		return "just now"
	}
	if t.Before(now) {
		return humanize.RelTime(t, now, "ago", "")
	}
	return "in " + strings.TrimSpace(humanize.RelTime(now, t, "", ""))
}

// times says how often: "once", "twice", "3 times".
func times(n int) string {
	switch n {
	case 1:
		return "once"
	case 2:
		return "twice"
	}
	return fmt.Sprintf("%d times", n)
}

// deviceWords describe a device from its user agent, which the device chose: Kind is what it is in
// words ("a TV"), Software what runs on it ("Samsung Browser 4.0 on Linux"), Raw the string itself.
type deviceWords struct {
	Kind, Software, Raw string
}

// String is the description in one phrase.
func (d deviceWords) String() string {
	if d.Software == "" {
		return d.Kind
	}
	return d.Kind + " (" + d.Software + ")"
}

// uaParser is made on first use: building its trie takes a moment and a few MiB.
var uaParser = sync.OnceValue(useragent.NewParser)

// maxUserAgentShown bounds how much of a user agent a page quotes.
const maxUserAgentShown = 120

// describeDevice describes the device that sent userAgent (see deviceWords).
func describeDevice(userAgent string) deviceWords {
	raw := strings.TrimSpace(userAgent)
	if len(raw) > maxUserAgentShown {
		raw = strings.ToValidUTF8(raw[:maxUserAgentShown], "") + "…"
	}
	if raw == "" {
		return deviceWords{Kind: "a device that did not say what it is"}
	}
	ua := uaParser().Parse(userAgent)
	d := deviceWords{Raw: raw}
	browser := string(ua.Browser())
	if browser != "" {
		if v := ua.BrowserVersionMajor(); v != "" && v != "0" {
			browser = browser + " " + v
		}
	}
	os := string(ua.OS())
	if os == string(agents.OSMacOS) {
		os = "macOS"
	}
	switch {
	case browser != "" && os != "":
		d.Software = browser + " on " + os
	case browser != "":
		d.Software = browser
	case os != "":
		d.Software = os
	}
	switch ua.Device() {
	case agents.DeviceTV:
		d.Kind = "a TV or media player"
	case agents.DeviceMobile:
		d.Kind = "a phone"
	case agents.DeviceTablet:
		d.Kind = "a tablet"
	case agents.DeviceDesktop:
		d.Kind = "a computer"
	case agents.DeviceBot:
		if browser == "" {
			d.Kind = "a program or script, not a web browser"
		} else {
			d.Kind = "an automated browser"
		}
	default:
		d.Kind = "an unrecognised device"
	}
	return d
}

// addressWords describe a network address: the address, and what kind of network it is on.
type addressWords struct {
	Address, Network string
}

// describeAddress describes the address a request came from.
func describeAddress(addr string) addressWords {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return addressWords{Address: addr, Network: "an unknown network"}
	}
	a = a.Unmap()
	w := addressWords{Address: a.String()}
	switch {
	case a.IsLoopback():
		w.Network = "this server's own machine"
	case a.IsPrivate():
		w.Network = "a private network (home, office or shop)"
	case a.IsLinkLocalUnicast():
		w.Network = "the same local network segment"
	default:
		w.Network = "the internet"
	}
	return w
}

// clientName is how a page names a client: its registered client_name when it has one, else its ID.
func clientName(c fosite.Client) string {
	if m, ok := c.(interface{ GetMetadata() map[string]any }); ok {
		if n, ok := m.GetMetadata()["client_name"].(string); ok && strings.TrimSpace(n) != "" {
			return n
		}
	}
	return c.GetID()
}
