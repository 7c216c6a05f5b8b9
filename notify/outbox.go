package notify

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Outbox is a development Sender that delivers nothing: it keeps the last messages in memory
// so a developer can read them on a web page (Outbox is an http.Handler) and tests can read
// them with Messages. It validates messages exactly like the real senders do.
//
// The messages hold one-time codes and sign-in links: never use an Outbox, nor mount its
// page, in production. It is safe for concurrent use.
type Outbox struct {
	// Now returns the time recorded with each message. Nil means time.Now. Set it before
	// the first Send.
	Now func() time.Time
	// ReplyURL, when set, gives each text message on the page a reply box: a form that POSTs
	// "from" (the number the message went to) and "body" (the reply) to ReplyURL, where the
	// application can hand the reply to its inbound-SMS webhook as a provider would. Set it
	// before serving the page.
	ReplyURL string

	mu      sync.Mutex
	ring    []outboxEntry // ring[(start+i)%cap] for i < count, oldest first
	start   int
	count   int
	lastSeq uint64
}

var (
	_ Sender       = (*Outbox)(nil)
	_ http.Handler = (*Outbox)(nil)
)

type outboxEntry struct {
	Seq    uint64    `json:"seq"`
	SentAt time.Time `json:"sent_at"`
	Message
}

// NewOutbox returns an Outbox that keeps the last capacity messages; capacity 0 or less means
// 100.
func NewOutbox(capacity int) *Outbox {
	if capacity <= 0 {
		capacity = 100
	}
	return &Outbox{ring: make([]outboxEntry, capacity)}
}

// Send implements Sender: it validates m and keeps a copy, dropping the oldest message when
// the Outbox is full.
func (o *Outbox) Send(ctx context.Context, m Message) error {
	if err := m.Validate(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return Temporary(err)
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	e := outboxEntry{SentAt: now(), Message: m.clone()}

	o.mu.Lock()
	defer o.mu.Unlock()
	o.lastSeq++
	e.Seq = o.lastSeq
	if o.count < len(o.ring) {
		o.ring[(o.start+o.count)%len(o.ring)] = e
		o.count++
	} else {
		o.ring[o.start] = e
		o.start = (o.start + 1) % len(o.ring)
	}
	return nil
}

// Messages returns copies of the kept messages, newest first.
func (o *Outbox) Messages() []Message {
	entries := o.entries()
	out := make([]Message, len(entries))
	for i, e := range entries {
		out[i] = e.Message
	}
	return out
}

// entries returns copies of the kept entries, newest first.
func (o *Outbox) entries() []outboxEntry {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]outboxEntry, 0, o.count)
	for i := o.count - 1; i >= 0; i-- {
		e := o.ring[(o.start+i)%len(o.ring)]
		e.Message = e.Message.clone()
		out = append(out, e)
	}
	return out
}

// ServeHTTP shows the kept messages, newest first: as an HTML page, or as a JSON array when the
// query has format=json or the Accept header asks for application/json and not text/html.
// Every value is escaped; links in the text are clickable; an HTML body is shown in a
// sandboxed frame that runs no scripts.
func (o *Outbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	h := w.Header()
	// The page shows one-time codes: keep it out of caches, frames and content sniffing.
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	entries := o.entries()
	if wantsJSON(r) {
		h.Set("Content-Type", "application/json; charset=utf-8")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(entries)
		return
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; connect-src 'self'; script-src '"+outboxRefreshHash+"'; frame-ancestors 'none'")
	views := make([]outboxView, len(entries))
	for i, e := range entries {
		views[i] = outboxView{outboxEntry: e, Segments: linkify(e.Text)}
	}
	var newest uint64
	if len(entries) > 0 {
		newest = entries[0].Seq
	}
	_ = outboxPage.Execute(w, outboxPageData{Entries: views, Newest: newest, Script: template.JS(outboxRefreshScript), ReplyURL: o.ReplyURL})
}

func wantsJSON(r *http.Request) bool {
	switch r.URL.Query().Get("format") {
	case "json":
		return true
	case "html":
		return false
	}
	accept := r.Header.Get("Accept")
	return strings.Contains(accept, "application/json") && !strings.Contains(accept, "text/html")
}

type outboxPageData struct {
	Entries []outboxView
	// Newest is the sequence number of the newest message shown (0 for none); the page's script
	// reloads when the outbox has a newer one.
	Newest uint64
	Script template.JS
	// ReplyURL is where the reply boxes of text messages post; empty means no reply boxes.
	ReplyURL string
}

// outboxRefreshScript keeps the page current: every two seconds while the tab is visible it asks for
// the newest message's sequence number (the JSON view) and reloads when there is a newer one, so a
// code or link shows up without pressing Refresh, and the page does not jump while nothing changes.
const outboxRefreshScript = `(function(){var shown=Number(document.body.dataset.newest||0);
function check(){if(document.hidden){return;}fetch(location.pathname+"?format=json",{cache:"no-store"}).then(function(r){return r.json();}).then(function(m){if(m.length&&m[0].seq!==shown){location.reload();}}).catch(function(){});}
setInterval(check,2000);document.addEventListener("visibilitychange",check);})();`

// outboxRefreshHash allows exactly outboxRefreshScript in the page's Content-Security-Policy.
var outboxRefreshHash = func() string {
	sum := sha256.Sum256([]byte(outboxRefreshScript))
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}()

type outboxView struct {
	outboxEntry
	Segments []textSegment
}

// textSegment is a run of plain text, or a link when URL is set.
type textSegment struct {
	Text string
	URL  string
}

var linkPattern = regexp.MustCompile(`https?://[^\s<>"'` + "`" + `]+`)

// linkify splits text into plain runs and http(s) links. Punctuation that usually ends a
// sentence is left out of a link.
func linkify(text string) []textSegment {
	var out []textSegment
	last := 0
	for _, loc := range linkPattern.FindAllStringIndex(text, -1) {
		start, end := loc[0], loc[1]
		end = start + len(strings.TrimRight(text[start:end], ".,;:!?)]}"))
		if start > last {
			out = append(out, textSegment{Text: text[last:start]})
		}
		out = append(out, textSegment{URL: text[start:end]})
		last = end
	}
	if last < len(text) {
		out = append(out, textSegment{Text: text[last:]})
	}
	return out
}

var outboxPage = template.Must(template.New("outbox").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Dev outbox</title>
<style>
* { box-sizing: border-box; }
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 50rem; padding: 0 1rem; color: #222; overflow-wrap: anywhere; }
.msg { border: 1px solid #ccc; border-radius: 6px; padding: .75rem 1rem; margin: 1rem 0; }
.meta { color: #555; font-size: .9rem; }
.channel { font-weight: bold; text-transform: uppercase; }
pre { white-space: pre-wrap; word-break: break-word; font-size: 1rem; }
iframe { width: 100%; height: 20rem; border: 1px solid #ddd; }
.tag { background: #eef; border-radius: 3px; padding: 0 .3rem; margin-right: .3rem; }
.reply { display: flex; gap: .5rem; flex-wrap: wrap; align-items: center; }
.reply input[type=text] { font: inherit; padding: .35rem; flex: 1 1 12rem; }
.reply button { font: inherit; padding: .35rem .9rem; }
</style>
</head>
<body data-newest="{{.Newest}}">
<h1>Dev outbox</h1>
<p class="meta">Messages the server would have sent, newest first. Development only: they contain codes and sign-in links. This page updates itself when a message arrives. <a href="?format=json">JSON</a> · <a href="">Refresh</a></p>
{{range .Entries}}<article class="msg" id="m{{.Seq}}">
<div class="meta"><span class="channel">{{.Channel}}</span> to <strong>{{.To}}</strong> at {{.SentAt.Format "2006-01-02 15:04:05 MST"}}{{with .Locale}} · {{.}}{{end}}</div>
{{with .Meta}}<div class="meta">{{range $k, $v := .}}<span class="tag">{{$k}}={{$v}}</span>{{end}}</div>{{end}}
{{with .Subject}}<h2>{{.}}</h2>{{end}}
<pre>{{range .Segments}}{{if .URL}}<a href="{{.URL}}">{{.URL}}</a>{{else}}{{.Text}}{{end}}{{end}}</pre>
{{with .HTML}}<details open><summary>HTML body</summary><iframe sandbox="" title="HTML body" srcdoc="{{.}}"></iframe></details>{{end}}
{{if and $.ReplyURL (eq .Channel "sms")}}<form class="reply" method="post" action="{{$.ReplyURL}}"><input type="hidden" name="from" value="{{.To}}">
<label for="reply{{.Seq}}">Reply as {{.To}}:</label> <input type="text" id="reply{{.Seq}}" name="body" maxlength="320" autocomplete="off" placeholder="YES 1234" required> <button type="submit">Send reply</button></form>{{end}}
</article>
{{else}}<p id="empty">No messages yet. Keep this page open: new messages appear here on their own.</p>
{{end}}<script id="outbox-refresh">{{.Script}}</script></body>
</html>
`))
