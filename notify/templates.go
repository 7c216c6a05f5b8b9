package notify

import (
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"sync"
	texttemplate "text/template"
)

// Templates renders localised message content from template files, so a grant can ship
// default texts and an application can override any of them, per locale.
//
// For a template name such as "otp/code" and a locale such as "de-CH" the files are
//
//	de-CH/otp/code.txt   text/template: the Text body; it may {{define "subject"}}
//	de-CH/otp/code.html  html/template, optional: the HTML body
//
// The locale is tried as given, then without its last subtags ("de"), then the fallback
// locale. Within a locale the layers are tried in order, so put the application's files
// before the grant's defaults. The HTML file is only looked for in the locale where the text
// file was found, so the two never disagree in language.
//
// Templates parses each file once, on first use, and keeps it (so a change to a file on disk is seen
// after a restart). It is safe for concurrent use.
type Templates struct {
	fallback string
	layers   []fs.FS
	parsed   sync.Map // layer index + "\x00" + path → parsed
}

// parsed is a file of a layer, parsed: a text or HTML template, absent, or unreadable.
type parsed struct {
	text    *texttemplate.Template
	html    *htmltemplate.Template
	missing bool
	err     error
}

// load returns the parsed file path of layer i, parsing it on first use.
func (t *Templates) load(i int, path string, html bool) parsed {
	key := strconv.Itoa(i) + "\x00" + path
	if v, ok := t.parsed.Load(key); ok {
		return v.(parsed)
	}
	var p parsed
	src, err := fs.ReadFile(t.layers[i], path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		p.missing = true
	case err != nil:
		p.err = fmt.Errorf("notify: template %s: %w", path, err)
	case html:
		p.html, p.err = htmltemplate.New(path).Option("missingkey=error").Parse(string(src))
	default:
		p.text, p.err = texttemplate.New(path).Option("missingkey=error").Parse(string(src))
	}
	if p.err != nil && !strings.HasPrefix(p.err.Error(), "notify: ") {
		p.err = fmt.Errorf("notify: template %s: %w", path, p.err)
	}
	v, _ := t.parsed.LoadOrStore(key, p)
	return v.(parsed)
}

// NewTemplates returns Templates reading from layers, first match wins, with fallbackLocale
// (such as "en") tried when the requested locale has no file.
func NewTemplates(fallbackLocale string, layers ...fs.FS) *Templates {
	return &Templates{fallback: fallbackLocale, layers: layers}
}

// Render executes template name with data for locale and returns a Message with Subject,
// Text, HTML and Locale (the locale actually used) set; the caller fills in To, Channel and
// Meta. An unusable locale (not a language tag) is ignored in favour of the fallback. When no
// layer has the text file in any candidate locale the error wraps fs.ErrNotExist.
func (t *Templates) Render(name, locale string, data any) (Message, error) {
	if !fs.ValidPath(name) || name == "." || strings.HasSuffix(name, "/") {
		return Message{}, fmt.Errorf("notify: template name %q is not a valid path", name)
	}
	for _, loc := range localeCandidates(locale, t.fallback) {
		path := loc + "/" + name + ".txt"
		for i := range t.layers {
			p := t.load(i, path, false)
			if p.missing {
				continue
			}
			if p.err != nil {
				return Message{}, p.err
			}
			m, err := renderText(path, p.text, data)
			if err != nil {
				return Message{}, err
			}
			m.Locale = loc
			if m.HTML, err = t.renderHTML(loc, name, data); err != nil {
				return Message{}, err
			}
			return m, nil
		}
	}
	return Message{}, fmt.Errorf("notify: template %q for locale %q (fallback %q): %w", name, locale, t.fallback, fs.ErrNotExist)
}

func renderText(path string, tmpl *texttemplate.Template, data any) (Message, error) {
	var body strings.Builder
	if err := tmpl.Execute(&body, data); err != nil {
		return Message{}, fmt.Errorf("notify: template %s: %w", path, err)
	}
	m := Message{Text: strings.TrimSpace(body.String()) + "\n"}
	if sub := tmpl.Lookup("subject"); sub != nil {
		var subject strings.Builder
		if err := sub.Execute(&subject, data); err != nil {
			return Message{}, fmt.Errorf("notify: template %s: subject: %w", path, err)
		}
		// A subject is one line (RFC 5322 §2.2.3 folding is the sender's business).
		m.Subject = strings.Join(strings.Fields(subject.String()), " ")
	}
	return m, nil
}

func (t *Templates) renderHTML(loc, name string, data any) (string, error) {
	path := loc + "/" + name + ".html"
	for i := range t.layers {
		p := t.load(i, path, true)
		if p.missing {
			continue
		}
		if p.err != nil {
			return "", p.err
		}
		var out strings.Builder
		if err := p.html.Execute(&out, data); err != nil {
			return "", fmt.Errorf("notify: template %s: %w", path, err)
		}
		return out.String(), nil
	}
	return "", nil
}

// localeCandidates lists the locales to try: "de-CH-x" gives "de-CH-x", "de-CH", "de", then
// the fallback. "_" is read as "-"; a value that is not a language tag is skipped.
func localeCandidates(locale, fallback string) []string {
	var out []string
	add := func(tag string) {
		tag = canonicalLocale(strings.ReplaceAll(tag, "_", "-"))
		if !localeTag.MatchString(tag) {
			return
		}
		for {
			if !slices.Contains(out, tag) {
				out = append(out, tag)
			}
			i := strings.LastIndexByte(tag, '-')
			if i < 0 {
				return
			}
			tag = tag[:i]
		}
	}
	add(locale)
	add(fallback)
	return out
}

// canonicalLocale writes tag in the case convention of RFC 5646 §2.1.1, the usual names of
// locale folders: "de-ch" and "DE-CH" become "de-CH", "zh-hant-tw" becomes "zh-Hant-TW".
func canonicalLocale(tag string) string {
	parts := strings.Split(tag, "-")
	for i, p := range parts {
		switch {
		case i == 0:
			parts[i] = strings.ToLower(p)
		case len(p) == 2:
			parts[i] = strings.ToUpper(p)
		case len(p) == 4:
			parts[i] = strings.ToUpper(p[:1]) + strings.ToLower(p[1:])
		default:
			parts[i] = strings.ToLower(p)
		}
	}
	return strings.Join(parts, "-")
}
